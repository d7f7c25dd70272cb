/** StateStore table of KV entries, keyed by the KV key. */
export const KV_TABLE = 'kv';
/** StateStore table of tombstones (deleted keys and deleted prefixes), keyed by TOMBSTONE_KEY_PREFIX + key. */
export const KV_TOMBSTONE_TABLE = 'kv_tombstones';
/** Stores reject empty keys; a deleted-tree tombstone for prefix "" needs a non-empty key. */
export const TOMBSTONE_KEY_PREFIX = '>';
/** Logical table name whose modification index is Consul's "kvs" table index. */
export const KV_INDEX_NAME = 'kvs';

/** Largest key accepted, in UTF-8 bytes (LMDB keys are limited to ~1.9 KiB). */
export const MAX_KEY_BYTES = 1024;

/**
 * A stored KV entry. `flags` is a canonical decimal uint64 string (exact beyond 2^53).
 * Invariant: createIndex <= modifyIndex; session is absent when the key is not locked.
 */
export interface KvRecord {
  readonly value: Uint8Array;
  readonly flags: string;
  readonly createIndex: number;
  readonly modifyIndex: number;
  readonly lockIndex: number;
  readonly session?: string;
}

/** A KV entry together with its key, as returned by queries. */
export interface KvEntry extends KvRecord {
  readonly key: string;
}

/** A tombstone: the index at which a key (or, for delete-tree, a prefix) was deleted. */
export interface KvTombstone {
  readonly index: number;
}
