/**
 * Storage for replicated state: named tables of string keys to structured values, read in
 * consistent snapshots and written in atomic, durable transactions.
 *
 * Keys are non-empty, well-formed Unicode strings ordered by code point (the same order as their
 * UTF-8 bytes, so every implementation orders them identically). Values are structured data
 * (plain objects, arrays, strings, finite numbers, booleans, null, Uint8Array); a store returns a
 * value structurally equal to what was put. Callers never mutate values they put or read.
 */

/** Bounds of a range scan. All bounds are optional; `prefix` combines with `start`/`end`. */
export interface RangeOptions {
  /** Only keys that start with this string ('' or absent: all keys). */
  readonly prefix?: string;
  /** Only keys >= start. */
  readonly start?: string;
  /** Only keys < end. */
  readonly end?: string;
  /** At most this many results (absent: no limit). */
  readonly limit?: number;
}

/** A consistent read view. Valid only inside the callback that received it. */
export interface ReadTxn {
  /** The value stored under `key` in `table`, or undefined. */
  get<V>(table: string, key: string): V | undefined;
  /**
   * Entries of `table` within `options`, in ascending key order. The iterable is lazy: do not
   * write to the same table while consuming it (collect the keys first).
   */
  range<V>(table: string, options?: RangeOptions): Iterable<readonly [string, V]>;
  /**
   * Optional: a value derived from the data, computed by `compute` (from this view) once per
   * `key` and `version` and kept by the store while `version` stays the same. `version` must
   * change whenever anything the value depends on changes (a modification index does); callers
   * never mutate the value. A store without it leaves callers to compute the value every time.
   */
  derived?<T>(key: string, version: number, compute: () => T): T;
}

/**
 * A long-lived consistent read view (StateStore.snapshotRead): it may be read across many
 * event-loop turns and keeps showing the data committed when it was opened, whatever is written
 * meanwhile. Lazy range iterables stay valid across turns too, until close().
 */
export interface ReadView extends ReadTxn {
  /** Releases the view. Idempotent; reading after close() throws. */
  close(): void;
}

/** A write view: reads see the transaction's own writes. Valid only inside its callback. */
export interface WriteTxn extends ReadTxn {
  /** Stores `value` under `key`, replacing any previous value. */
  put<V>(table: string, key: string, value: V): void;
  /** Removes `key`; returns whether it existed. */
  delete(table: string, key: string): boolean;
}

/** The storage port implemented by the in-memory store (core) and the LMDB store (server). */
export interface StateStore {
  /** Names of the tables this store was opened with; using any other table throws. */
  readonly tables: readonly string[];
  /** Runs `fn` synchronously against a consistent snapshot of committed data. */
  read<T>(fn: (tx: ReadTxn) => T): T;
  /**
   * Opens a read view of the data committed now that does not change while later writes commit,
   * for long scans (snapshots) that must not hold writes up. The caller must close() it: an open
   * view pins storage (LMDB cannot reuse the pages it sees; the memory store copies a table the
   * first time a write touches it), so keep views few and short-lived. Throws when the store is closed.
   */
  snapshotRead(): ReadView;
  /**
   * Runs `fn` synchronously inside one atomic write transaction. Resolves with fn's result once
   * the transaction is durable ('durable', the default) or committed and visible ('committed':
   * for state that can be rebuilt from a durable log). If fn throws, nothing it wrote is kept and
   * the promise rejects with that error. Writes are applied in call order.
   */
  write<T>(fn: (tx: WriteTxn) => T, durability?: 'durable' | 'committed'): Promise<T>;
  /** Waits for pending writes, then releases resources. Further calls fail. */
  close(): Promise<void>;
}
