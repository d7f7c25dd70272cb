import type { ReadTxn, WriteTxn } from '../ports/state-store.js';
import type { ConfState } from '../raft/types.js';

/** Table holding the applied index and per-table modification indexes. */
export const META_TABLE = 'meta';

const APPLIED_KEY = 'applied';
const TABLE_INDEX_PREFIX = 'index/';

/** The index of the last command applied to the state (0 for a new store). */
export function readAppliedIndex(tx: ReadTxn): number {
  return tx.get<number>(META_TABLE, APPLIED_KEY) ?? 0;
}

/** Records `index` as applied. Invariant: called once per entry, in increasing index order. */
export function writeAppliedIndex(tx: WriteTxn, index: number): void {
  tx.put(META_TABLE, APPLIED_KEY, index);
}

/** The last index at which `name` (a logical table) was modified, 0 if never. */
export function readTableIndex(tx: ReadTxn, name: string): number {
  return tx.get<number>(META_TABLE, TABLE_INDEX_PREFIX + name) ?? 0;
}

/** Raises the modification index of `name` to `index` (never lowers it). */
export function bumpTableIndex(tx: WriteTxn, name: string, index: number): void {
  if (index > readTableIndex(tx, name)) tx.put(META_TABLE, TABLE_INDEX_PREFIX + name, index);
}

const CONF_KEY = 'raftConf';

/** The Raft membership as of the applied index (undefined before the first change). */
export function readConfState(tx: ReadTxn): ConfState | undefined {
  return tx.get<ConfState>(META_TABLE, CONF_KEY);
}

/** Records the membership, in the same transaction as the applied index it belongs to. */
export function writeConfState(tx: WriteTxn, conf: ConfState): void {
  tx.put(META_TABLE, CONF_KEY, { voters: [...conf.voters], learners: [...conf.learners] });
}
