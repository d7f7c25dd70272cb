import type { HealthEntry } from '../catalog/queries.js';
import type { KvEntry, KvRecord } from '../kv/types.js';

/** What a replica holds: KV keys under `prefixes` and the health of `services`. */
export interface SyncScope {
  readonly prefixes: readonly string[];
  readonly services: readonly string[];
}

/** One replicated change (the same facts the watch streams carry). */
export type SyncChange =
  /** A key set (entry) or deleted (null). */
  | { readonly t: 'kv'; readonly key: string; readonly entry: KvRecord | null }
  /** Every key under `prefix` deleted; `keys` lists them when known. */
  | { readonly t: 'kv-tree'; readonly prefix: string; readonly keys: readonly string[] }
  /** An instance's health after a change (entry), or the instance gone (null). */
  | {
      readonly t: 'health';
      readonly service: string;
      readonly node: string;
      readonly id: string;
      readonly entry: HealthEntry | null;
    };

/**
 * Every change of one log index that a scope sees, in log order. `prev` is an index at or after
 * the previous batch of the same stream: a replica at index L may apply this batch when
 * prev <= L < index; when prev > L it missed something and must resume or re-snapshot.
 */
export interface SyncBatch {
  readonly index: number;
  readonly prev: number;
  readonly changes: readonly SyncChange[];
}

/** The subscribed data as of applied index `index`, read in one consistent snapshot. */
export interface SyncSnapshot {
  readonly index: number;
  readonly kv: readonly KvEntry[];
  readonly health: readonly HealthEntry[];
}

/** Most bytes of one encoded sync message (a batch or a snapshot chunk). */
export const MAX_SYNC_MESSAGE_BYTES = 4 * 1024 * 1024;
