import { encodeBase64 } from '../util/base64.js';
import type { KvEntry } from './types.js';

/**
 * Serializes entries as Consul's JSON array of DirEntry. Written by hand so Flags (uint64) stays
 * exact and large values are not copied through an intermediate object. An empty value is null,
 * as in Consul.
 */
export function kvEntriesToJson(entries: readonly KvEntry[]): string {
  return `[${entries.map((e) => kvEntryToJson(e)).join(',')}]`;
}

/** One DirEntry as JSON; with `withValue` false, Value is null (Consul's transaction write results). */
export function kvEntryToJson(e: KvEntry, withValue = true): string {
  const value = !withValue || e.value.byteLength === 0 ? 'null' : `"${encodeBase64(e.value)}"`;
  const session = e.session !== undefined ? `,"Session":${JSON.stringify(e.session)}` : '';
  return (
    `{"LockIndex":${e.lockIndex},"Key":${JSON.stringify(e.key)},"Flags":${e.flags},"Value":${value}${session},` +
    `"CreateIndex":${e.createIndex},"ModifyIndex":${e.modifyIndex}}`
  );
}
