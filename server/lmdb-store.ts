import { type Database, type RootDatabase, type Transaction, open } from 'lmdb';
import { DiskFullError, KonsulError, StorageError } from '../core/errors.js';
import type { RangeOptions, ReadTxn, ReadView, StateStore, WriteTxn } from '../core/ports/state-store.js';
import { compareKeys } from '../core/util/keys.js';
import { failedForSpace } from './disk-full.js';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Where encodeKey writes keys (grown for a longer one). */
let keyScratch = new Uint8Array(4096);

/**
 * `key` as UTF-8, in memory that the next call overwrites: only for lmdb-js calls that copy the
 * key before they return (get, putSync, removeSync). Encoding into one array is about four times
 * cheaper than a new array per key.
 */
function encodeKey(key: string): Uint8Array {
  if (key.length === 0) throw new StorageError('empty keys cannot be stored');
  if (key.length * 3 > keyScratch.length) keyScratch = new Uint8Array(key.length * 3);
  return keyScratch.subarray(0, utf8.encodeInto(key, keyScratch).written);
}

/** How long to wait for lmdb-js to give the reason a commit failed. */
const COMMIT_CAUSE_WAIT_MS = 1000;

/**
 * The error that made an lmdb-js commit fail. lmdb-js rejects a failed transaction with "Commit
 * failed (see commitError for details)" and gives the reason (an errno error) in a promise,
 * `commitError`, which it rejects without anyone listening unless we do.
 */
async function commitCause(err: unknown): Promise<Error> {
  const pending = (err as { commitError?: Promise<unknown> } | undefined)?.commitError;
  if (!(pending instanceof Promise)) return err instanceof Error ? err : new Error(String(err));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cause = await Promise.race([
    pending.then(
      () => err,
      (e: unknown) => e,
    ),
    new Promise<unknown>((resolve) => {
      timer = setTimeout(() => resolve(err), COMMIT_CAUSE_WAIT_MS);
      timer.unref?.();
    }),
  ]);
  clearTimeout(timer);
  return cause instanceof Error ? cause : new Error(String(cause));
}

let twinsIgnored = false;

/**
 * A failed lmdb-js commit also rejects promises inside lmdb-js that no caller can reach (lmdb-js
 * 3.4), and Node stops the process on an unhandled rejection. The failure reaches the writer
 * through its own transaction's promise, so those twins (errors carrying `commitError`) are
 * dropped here; any other unhandled rejection is thrown on when no other listener
 * is there to take it, so Node reports it and exits as it would without this listener. Installed once per process.
 */
function ignoreCommitFailureTwins(): void {
  if (twinsIgnored) return;
  twinsIgnored = true;
  process.on('unhandledRejection', (reason) => {
    if (reason instanceof Error && 'commitError' in reason) return;
    if (process.listenerCount('unhandledRejection') === 1) throw reason;
  });
}

/**
 * The StateStore on LMDB (lmdb-js). Each table is a named database with binary UTF-8 keys (so key
 * order is code-point order, as in the memory store) and msgpack values; nothing lives in the
 * root database. Writes run in lmdb-js's batched asynchronous transactions (group commit), each
 * inside a child transaction so a callback that throws leaves no trace, and resolve only after
 * the commit has been flushed to disk. A commit that fails for want of space (ENOSPC, or a short
 * write's EIO on a nearly full file system) rejects with DiskFullError; LMDB commits nothing of
 * it, and the store takes writes again once space is freed.
 */
export class LmdbStateStore implements StateStore {
  /** Longest key LMDB takes (lmdb-js's default page size), in UTF-8 bytes. */
  static readonly MAX_KEY_BYTES = 1978;
  readonly tables: readonly string[];
  private readonly env: RootDatabase;
  private readonly dbs = new Map<string, Database>();
  private readonly readTxn: ReadTxn;
  private readonly writeTxn: WriteTxn;
  private closed = false;
  /** Read transactions handed out by snapshotRead and not yet closed (ended by close()). */
  private readonly views = new Set<Transaction>();

  /** Opens (creating if needed) the LMDB environment at `file` with the given tables. */
  constructor(
    private readonly file: string,
    tables: readonly string[],
  ) {
    ignoreCommitFailureTwins();
    this.tables = [...tables];
    try {
      this.env = open({ path: file, maxDbs: Math.max(16, tables.length * 2) });
      for (const name of tables) {
        this.dbs.set(name, this.env.openDB({ name, keyEncoding: 'binary', encoding: 'msgpack' }));
      }
    } catch (err) {
      throw new StorageError(`cannot open LMDB at ${file}: ${(err as Error).message}`, err);
    }
    this.readTxn = {
      get: <V>(table: string, key: string) => this.db(table).get(encodeKey(key)) as V | undefined,
      range: <V>(table: string, options?: RangeOptions) => this.range<V>(table, options ?? {}),
    };
    this.writeTxn = {
      ...this.readTxn,
      put: (table, key, value) => {
        this.db(table).putSync(encodeKey(key), value);
      },
      delete: (table, key) => this.db(table).removeSync(encodeKey(key)),
    };
  }

  read<T>(fn: (tx: ReadTxn) => T): T {
    this.assertOpen();
    return fn(this.readTxn);
  }

  /**
   * A view on its own LMDB read transaction (useReadTransaction): it sees the data committed when
   * it opened for as long as it stays open, while writes keep committing. LMDB keeps the pages
   * it sees, so the file grows by what is rewritten meanwhile; close it promptly.
   */
  /**
   * Rows of `table` committed to LMDB, from LMDB's own statistics (no scan). Changes still held
   * by a WriteBehindStore above are not counted yet.
   * @throws StorageError for a table this store does not have.
   */
  entryCount(table: string): number {
    const db = this.dbs.get(table);
    if (!db) throw new StorageError(`unknown table ${JSON.stringify(table)}`);
    return (db.getStats() as { entryCount: number }).entryCount;
  }

  snapshotRead(): ReadView {
    this.assertOpen();
    const txn = this.env.useReadTransaction();
    this.views.add(txn);
    const check = () => {
      if (!this.views.has(txn)) throw new StorageError('read view is closed');
    };
    return {
      get: <V>(table: string, key: string) => {
        check();
        return this.db(table).get(encodeKey(key), { transaction: txn }) as V | undefined;
      },
      range: <V>(table: string, options?: RangeOptions) => {
        check();
        return this.range<V>(table, options ?? {}, txn);
      },
      close: () => {
        if (this.views.delete(txn)) txn.done();
      },
    };
  }

  async write<T>(fn: (tx: WriteTxn) => T, durability: 'durable' | 'committed' = 'durable'): Promise<T> {
    this.assertOpen();
    let thrown: { error: unknown } | undefined;
    const run = (): T => {
      try {
        return fn(this.writeTxn);
      } catch (error) {
        thrown = { error };
        throw error;
      }
    };
    let result: T;
    try {
      result = await this.env.transaction(() => this.env.childTransaction(run) as T);
    } catch (err) {
      if (thrown) throw thrown.error;
      const cause = await commitCause(err);
      if (failedForSpace(cause, this.file))
        throw new DiskFullError(
          `the disk under the state store is full: LMDB could not commit (${cause.message})`,
          cause,
        );
      throw new StorageError(`write transaction failed: ${cause.message}`, cause);
    }
    if (durability === 'durable') await this.env.flushed;
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const txn of this.views) txn.done();
    this.views.clear();
    await this.env.flushed;
    await this.env.close();
  }

  private *range<V>(table: string, options: RangeOptions, txn?: Transaction): Iterable<readonly [string, V]> {
    const prefix = options.prefix ?? '';
    let start = prefix;
    if (options.start !== undefined && compareKeys(options.start, start) > 0) start = options.start;
    const limit = options.limit ?? Infinity;
    const bounds: { start?: Uint8Array; end?: Uint8Array; transaction?: Transaction } = {};
    if (txn) bounds.transaction = txn;
    if (start !== '') bounds.start = utf8.encode(start);
    if (options.end !== undefined) bounds.end = utf8.encode(options.end);
    let count = 0;
    for (const { key, value } of this.db(table).getRange(bounds)) {
      if (count >= limit) return;
      const k = fromUtf8.decode(key as Uint8Array);
      if (!k.startsWith(prefix)) return;
      count++;
      yield [k, value as V];
    }
  }

  private db(name: string): Database {
    const db = this.dbs.get(name);
    if (!db) throw new StorageError(`unknown table ${JSON.stringify(name)}`);
    return db;
  }

  private assertOpen(): void {
    if (this.closed) throw new KonsulError('shutting_down', 'store is closed');
  }
}
