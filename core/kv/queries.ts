import { readTableIndex } from '../fsm/meta.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';
import {
  KV_INDEX_NAME,
  KV_TABLE,
  KV_TOMBSTONE_TABLE,
  type KvEntry,
  type KvRecord,
  type KvTombstone,
  TOMBSTONE_KEY_PREFIX,
} from './types.js';

/** Consul's KV table index: the last index that modified a key or a tombstone (0 when never). */
export function kvTableIndex(tx: ReadTxn): number {
  return readTableIndex(tx, KV_INDEX_NAME);
}

function maxTombstoneIndex(tx: ReadTxn, prefix: string): number {
  let max = 0;
  for (const [, stone] of tx.range<KvTombstone>(KV_TOMBSTONE_TABLE, { prefix: TOMBSTONE_KEY_PREFIX + prefix })) {
    if (stone.index > max) max = stone.index;
  }
  return max;
}

/**
 * One key. Index: the entry's ModifyIndex if present, else the KV table index (Consul's KVS.Get).
 */
export function getEntry(tx: ReadTxn, key: string): Indexed<KvEntry | undefined> {
  const rec = tx.get<KvRecord>(KV_TABLE, key);
  if (rec) return { index: rec.modifyIndex, value: { key, ...rec } };
  return { index: kvTableIndex(tx), value: undefined };
}

/**
 * Every entry under `prefix`. Index: the
 * highest ModifyIndex among them or among tombstones under the prefix; the table index when that
 * is 0 or the prefix is empty (Consul's KVS.List).
 */
export function listEntries(tx: ReadTxn, prefix: string): Indexed<KvEntry[]> {
  const entries: KvEntry[] = [];
  let index = 0;
  for (const [key, rec] of tx.range<KvRecord>(KV_TABLE, { prefix })) {
    entries.push({ key, ...rec });
    if (rec.modifyIndex > index) index = rec.modifyIndex;
  }
  if (prefix === '') index = kvTableIndex(tx);
  else index = Math.max(index, maxTombstoneIndex(tx, prefix));
  return { index: index === 0 ? kvTableIndex(tx) : index, value: entries };
}

/**
 * Keys under `prefix`. With a non-empty `separator`, keys are rolled up at the first separator
 * after the prefix (each rolled-up key ends with the separator and appears once), like a
 * directory listing. Index rules as listEntries.
 */
export function listKeys(tx: ReadTxn, prefix: string, separator: string): Indexed<string[]> {
  const keys: string[] = [];
  let index = 0;
  let prev: string | undefined;
  for (const [key, rec] of tx.range<KvRecord>(KV_TABLE, { prefix })) {
    if (rec.modifyIndex > index) index = rec.modifyIndex;
    let out = key;
    if (separator.length > 0) {
      const at = key.indexOf(separator, prefix.length);
      if (at >= 0) out = key.slice(0, at + separator.length);
    }
    if (out === prev) continue;
    keys.push(out);
    prev = out;
  }
  if (prefix === '') index = kvTableIndex(tx);
  else index = Math.max(index, maxTombstoneIndex(tx, prefix));
  return { index: index === 0 ? kvTableIndex(tx) : index, value: keys };
}
