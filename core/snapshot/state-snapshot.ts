import { decode, encode } from '@msgpack/msgpack';
import { CorruptError } from '../errors.js';
import type { ReadTxn, WriteTxn } from '../ports/state-store.js';

/** Bytes encoding of whole tables: msgpack {v: 1, tables: {name: [[key, value], …]}}. */
export function dumpTables(tx: ReadTxn, tables: readonly string[]): Uint8Array {
  const out: Record<string, Array<[string, unknown]>> = {};
  for (const t of tables) out[t] = [...tx.range<unknown>(t)].map(([k, v]) => [k, v]);
  return encode({ v: 1, tables: out });
}

/** Decodes and validates a dump; throws CorruptError when it is not one or names a table outside `allowed`. */
export function parseDump(data: Uint8Array, allowed: readonly string[]): Record<string, Array<[string, unknown]>> {
  let v: unknown;
  try {
    v = decode(data);
  } catch (err) {
    throw new CorruptError(`snapshot data does not decode: ${(err as Error).message}`);
  }
  const d = v as { v?: unknown; tables?: unknown };
  if (!d || d.v !== 1 || typeof d.tables !== 'object' || d.tables === null)
    throw new CorruptError('snapshot data has no tables');
  const tables = d.tables as Record<string, unknown>;
  for (const [name, rows] of Object.entries(tables)) {
    if (!allowed.includes(name)) throw new CorruptError(`snapshot names unknown table ${JSON.stringify(name)}`);
    if (
      !Array.isArray(rows) ||
      !rows.every((r) => Array.isArray(r) && r.length === 2 && typeof r[0] === 'string' && r[0].length > 0)
    ) {
      throw new CorruptError(`snapshot table ${name} is malformed`);
    }
  }
  return tables as Record<string, Array<[string, unknown]>>;
}

/**
 * Replaces the content of every table in `tables` with the rows of a parsed dump (tables absent
 * from the dump become empty). Runs inside one write transaction, so a restore is all or nothing.
 */
export function replaceTables(
  tx: WriteTxn,
  tables: readonly string[],
  dump: Record<string, Array<[string, unknown]>>,
): void {
  for (const t of tables) {
    const keys: string[] = [];
    for (const [k] of tx.range(t)) keys.push(k);
    for (const k of keys) tx.delete(t, k);
    for (const [k, v] of dump[t] ?? []) tx.put(t, k, v);
  }
}
