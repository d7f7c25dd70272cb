import type BTreeClass from 'sorted-btree';
import * as sortedBtree from 'sorted-btree';
import { DiskFullError, KonsulError, StorageError } from '../errors.js';
import type { Clock, TimerHandle } from '../ports/clock.js';
import type { RangeOptions, ReadTxn, ReadView, StateStore, WriteTxn } from '../ports/state-store.js';
import { compareKeys, utf8Length } from '../util/keys.js';
import { type RangeBounds, inBounds, mergeSorted, rangeBounds } from './range.js';

// sorted-btree is CommonJS: its class is `default` to a bundler, `default.default` to Node's ESM loader.
const loaded = sortedBtree as unknown as { default: typeof BTreeClass & { default?: typeof BTreeClass } };
const BTree: typeof BTreeClass = loaded.default.default ?? loaded.default;

/** Marks a key deleted by a write the store underneath has not committed yet. */
const GONE: unique symbol = Symbol('gone');

/** The newest value (or GONE) a pending write gave a key, and that write's sequence number. */
interface Slot {
  readonly value: unknown;
  readonly seq: number;
}

/** A table's pending values, in key order. */
type Pending = BTreeClass<string, Slot>;

/** A write that ran here and is not yet committed underneath: its changes in the order made. */
interface Queued {
  readonly seq: number;
  readonly tables: readonly string[];
  readonly keys: readonly string[];
  /** The value put, or GONE; parallel to `keys`. */
  readonly values: readonly unknown[];
  /** Bytes of the byte-array values put (what dominates a transaction's cost underneath). */
  readonly bytes: number;
  /** How many of its changes are to tables answered above (`answeredAbove`), kept nowhere here. */
  readonly unkept: number;
  readonly durable: boolean;
  done?: { resolve: () => void; reject: (err: unknown) => void };
}

/** How a WriteBehindStore bounds its backlog and batches. */
export interface WriteBehindOptions {
  /**
   * Changes (puts and deletions) waiting for the store underneath, beyond which a new write waits
   * until a commit underneath makes room (default 65,536). A single write larger than this is
   * taken alone once the backlog is empty.
   */
  readonly maxBacklog?: number;
  /**
   * Most changes handed to the store underneath in one transaction (default 16,384); a write is
   * never split, so one larger than this goes alone.
   */
  readonly maxBatch?: number;
  /**
   * Most bytes of byte-array values in one transaction (default 1 MiB; a larger write goes
   * alone), so writes of large values (a snapshot's pieces) each keep their own transaction:
   * LMDB copies them on the caller's thread.
   */
  readonly maxBatchBytes?: number;
  /** Longest key the store underneath takes, in UTF-8 bytes (LMDB's is 1978); longer keys are refused at put. */
  readonly maxKeyBytes?: number;
  /**
   * Lets queued writes gather for up to `ms` before a transaction underneath starts, unless a
   * durable write or a full batch is waiting (group commit: at a trickle of writes, one
   * transaction, and one sync underneath, for many instead of one each). Without it a
   * transaction starts as soon as the one before ends.
   */
  readonly commitDelay?: { readonly clock: Clock; readonly ms: number };
  /**
   * Tables whose reads a store above answers from memory once it has loaded them (a
   * CachedTablesStore over this one): their changes are queued for the store underneath but not
   * kept here as pending values, which saves two ordered-tree updates per changed key. Reading
   * such a table here while some of its changes are not yet committed underneath throws a
   * StorageError rather than answer older data; a write's deletion in such a table is passed on
   * without looking the key up, and returns true.
   */
  readonly answeredAbove?: readonly string[];
  /**
   * When the store underneath refuses a commit with DiskFullError: the same batch is tried again
   * every `ms` (its writes stay pending here, and reads keep seeing them), and meanwhile new
   * writes are refused with that DiskFullError before their function runs. Without it a full disk
   * fails the store like any other commit failure.
   */
  readonly retryWhenFull?: { readonly clock: Clock; readonly ms: number };
}

/** Changes counted for a write that changes nothing (it still takes its turn underneath). */
const EMPTY_WRITE_WEIGHT = 1;

/**
 * A StateStore that applies each write in memory at once and commits it to the store underneath
 * later, many writes to one transaction (etcd's backend batches its commits the same way): a
 * 'committed' write resolves as soon as it has run here and reads see it, a 'durable' one once
 * the transaction holding it is durable underneath. Meant for state that a durable log can
 * rebuild: the store underneath always holds the state after some prefix of the writes (a write
 * is never split across transactions, and they commit in call order), so what a crash loses is a
 * suffix of writes that the log replays.
 *
 * Reads merge the pending values (newest per key, by table, in key order) over the store
 * underneath; a read view freezes them next to a view of the store underneath. Writes run in call
 * order; a write's function runs inside write() unless the backlog is full, when it waits for
 * room (behind any earlier write waiting). If the store underneath fails a commit, every write
 * still pending and every later one rejects with a StorageError; reads keep answering.
 */
export class WriteBehindStore implements StateStore {
  readonly tables: readonly string[];
  private readonly known: ReadonlySet<string>;
  private readonly pending = new Map<string, Pending>();
  /** Writes not yet handed to the store underneath, oldest first. */
  private readonly queue: Queued[] = [];
  /** Changes in `queue` and in the transaction underneath now. */
  private backlog = 0;
  private seq = 0;
  private committing = false;
  /** The commitDelay timer, while one runs. */
  private delayTimer: TimerHandle | undefined;
  /** Writes waiting for room in the backlog, in call order. */
  private readonly waiting: Array<() => void> = [];
  /** Called once nothing is left to commit (close waits on it). */
  private idle: Array<() => void> = [];
  private failure: StorageError | undefined;
  /** Set while the store underneath is out of space (see retryWhenFull); the retry timer with it. */
  private full: { error: DiskFullError; timer: TimerHandle } | undefined;
  private closed = false;
  private readonly maxBacklog: number;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private readonly maxKeyBytes: number;
  private readonly above: ReadonlySet<string>;
  /** Changes to `above` tables queued or being committed underneath. */
  private unkept = 0;

  constructor(
    private readonly under: StateStore,
    private readonly o: WriteBehindOptions = {},
  ) {
    this.tables = under.tables;
    this.known = new Set(under.tables);
    this.above = new Set(o.answeredAbove ?? []);
    for (const t of this.above)
      if (!this.known.has(t)) throw new StorageError(`unknown table ${JSON.stringify(t)} answered above`);
    for (const t of under.tables) this.pending.set(t, new BTree<string, Slot>(undefined, compareKeys));
    this.maxBacklog = o.maxBacklog ?? 65_536;
    this.maxBatch = o.maxBatch ?? 16_384;
    this.maxBatchBytes = o.maxBatchBytes ?? 1024 * 1024;
    this.maxKeyBytes = o.maxKeyBytes ?? Infinity;
  }

  /** The DiskFullError new writes get while the store underneath is out of space, else undefined. */
  diskFullError(): DiskFullError | undefined {
    return this.full?.error;
  }

  /** Changes applied here and not yet committed underneath (for metrics and tests). */
  backlogSize(): number {
    return this.backlog;
  }

  read<T>(fn: (tx: ReadTxn) => T): T {
    if (this.backlog === 0) return this.under.read(fn);
    return this.under.read((tx) => fn(this.view(tx, this.pending)));
  }

  /** A view of the store underneath, with the pending values frozen (tree clones) over it. */
  snapshotRead(): ReadView {
    const under = this.under.snapshotRead();
    if (this.backlog === 0) return under;
    const frozen = new Map<string, Pending>();
    for (const [t, p] of this.pending) frozen.set(t, p.clone());
    // The view underneath lacks the uncommitted changes to tables answered above for good.
    const unkept = this.unkept > 0;
    const view = this.view(under, frozen, (table) => this.assertKept(table, unkept));
    return { get: view.get, range: view.range, close: () => under.close() };
  }

  async write<T>(fn: (tx: WriteTxn) => T, durability: 'durable' | 'committed' = 'durable'): Promise<T> {
    this.assertWritable();
    if (this.waiting.length > 0 || this.backlog >= this.maxBacklog) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      this.assertWritable();
    }
    let result: T;
    let queued: Queued;
    try {
      const own = new Map<string, Map<string, unknown>>();
      result = this.under.read((tx) => fn(this.writeView(tx, own)));
      queued = this.enqueue(own, durability === 'durable');
    } finally {
      // The next write waiting for room may go if there is room still.
      this.admit();
    }
    if (queued.durable) await new Promise<void>((resolve, reject) => (queued.done = { resolve, reject }));
    return result;
  }

  /** Waits until every write has been committed underneath, then closes the store underneath. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.full) this.o.retryWhenFull?.clock.clearTimer(this.full.timer);
    this.commitNow();
    if (this.committing || this.queue.length > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    for (const go of this.waiting.splice(0)) go();
    await this.under.close();
  }

  private assertWritable(): void {
    if (this.failure) throw this.failure;
    if (this.full) throw this.full.error;
    if (this.closed) throw new KonsulError('shutting_down', 'store is closed');
  }

  /** Lets the oldest write waiting for room run, if there is room. */
  private admit(): void {
    if (this.backlog < this.maxBacklog || this.failure || this.full || this.closed) this.waiting.shift()?.();
  }

  /** Records a write's changes as pending and queues them for the store underneath. */
  private enqueue(own: Map<string, Map<string, unknown>>, durable: boolean): Queued {
    const seq = ++this.seq;
    const tables: string[] = [];
    const keys: string[] = [];
    const values: unknown[] = [];
    let bytes = 0;
    let unkept = 0;
    for (const [table, changes] of own) {
      const p = this.above.has(table) ? undefined : (this.pending.get(table) as Pending);
      if (!p) unkept += changes.size;
      for (const [key, value] of changes) {
        p?.set(key, { value, seq });
        tables.push(table);
        keys.push(key);
        values.push(value);
        if (value instanceof Uint8Array) bytes += value.byteLength;
      }
    }
    const q: Queued = { seq, tables, keys, values, bytes, unkept, durable };
    this.unkept += unkept;
    this.queue.push(q);
    this.backlog += Math.max(keys.length, EMPTY_WRITE_WEIGHT);
    this.commitNext();
    return q;
  }

  /**
   * Hands the oldest queued writes (up to maxBatch changes and maxBatchBytes, at least one
   * write) to the store underneath.
   */
  private commitNext(): void {
    if (this.committing || this.queue.length === 0 || this.failure || this.full) return;
    const delay = this.o.commitDelay;
    if (delay && !this.closed && !this.batchReady()) {
      this.delayTimer ??= delay.clock.setTimer(() => {
        this.delayTimer = undefined;
        this.commitNow();
      }, delay.ms);
      return;
    }
    this.commitNow();
  }

  /** Whether the queue holds a durable write or a full batch (no reason to wait for more). */
  private batchReady(): boolean {
    let changes = 0;
    let bytes = 0;
    for (const q of this.queue) {
      if (q.durable) return true;
      changes += Math.max(q.keys.length, EMPTY_WRITE_WEIGHT);
      bytes += q.bytes;
      if (changes >= this.maxBatch || bytes >= this.maxBatchBytes) return true;
    }
    return false;
  }

  private commitNow(): void {
    if (this.delayTimer !== undefined) {
      this.o.commitDelay?.clock.clearTimer(this.delayTimer);
      this.delayTimer = undefined;
    }
    if (this.committing || this.queue.length === 0 || this.failure) return;
    let n = 0;
    let changes = 0;
    let bytes = 0;
    let durable = false;
    for (const q of this.queue) {
      const size = Math.max(q.keys.length, EMPTY_WRITE_WEIGHT);
      if (n > 0 && (changes + size > this.maxBatch || bytes + q.bytes > this.maxBatchBytes)) break;
      n++;
      changes += size;
      bytes += q.bytes;
      durable ||= q.durable;
    }
    const batch = this.queue.splice(0, n);
    this.committing = true;
    // Started on a later microtask, so a run of writes made in one turn share the transaction.
    void Promise.resolve()
      .then(() =>
        this.under.write(
          (tx) => {
            for (const q of batch)
              for (let i = 0; i < q.keys.length; i++) {
                const value = q.values[i];
                if (value === GONE) tx.delete(q.tables[i] as string, q.keys[i] as string);
                else tx.put(q.tables[i] as string, q.keys[i] as string, value);
              }
          },
          durable ? 'durable' : 'committed',
        ),
      )
      .then(
        () => this.committed(batch, changes),
        (err: unknown) => this.failed(batch, err),
      );
  }

  /** A batch is committed underneath: its values are read from there now, unless a later write replaced them. */
  private committed(batch: readonly Queued[], changes: number): void {
    this.full = undefined;
    for (const q of batch) {
      for (let i = 0; i < q.keys.length; i++) {
        const table = q.tables[i] as string;
        if (q.unkept > 0 && this.above.has(table)) continue;
        const p = this.pending.get(table) as Pending;
        const key = q.keys[i] as string;
        if (p.get(key)?.seq === q.seq) p.delete(key);
      }
      this.unkept -= q.unkept;
      q.done?.resolve();
    }
    this.backlog -= changes;
    this.committing = false;
    this.admit();
    this.commitNext();
    if (!this.committing && this.queue.length === 0) for (const fn of this.idle.splice(0)) fn();
  }

  /**
   * The store underneath failed a commit. Out of space (with retryWhenFull, not closing): the batch
   * goes back to the head of the queue and is tried again later. Otherwise nothing more can be
   * committed, so every pending write fails.
   */
  private failed(batch: readonly Queued[], err: unknown): void {
    const retry = this.o.retryWhenFull;
    if (err instanceof DiskFullError && retry && !this.closed) {
      this.queue.unshift(...batch);
      this.committing = false;
      const timer = retry.clock.setTimer(() => {
        if (this.full?.timer === timer) this.commitNow();
      }, retry.ms);
      this.full = { error: err, timer };
      // Writes waiting for room get the DiskFullError now rather than wait for the disk.
      for (const go of this.waiting.splice(0)) go();
      return;
    }
    this.failure = new StorageError(`state store commit failed: ${(err as Error).message}`, err);
    this.committing = false;
    for (const q of [...batch, ...this.queue.splice(0)]) q.done?.reject(this.failure);
    for (const go of this.waiting.splice(0)) go();
    for (const fn of this.idle.splice(0)) fn();
  }

  /**
   * `tx` with `pending` (per table, newest value per key) over it; `check` is called with the
   * table of each read (by default `assertKept` as of the read).
   */
  private view<V extends ReadTxn>(
    tx: V,
    pending: ReadonlyMap<string, Pending>,
    check: (table: string) => void = (table) => this.assertKept(table, this.unkept > 0),
  ): ReadTxn {
    return {
      get: <T>(table: string, key: string): T | undefined => {
        check(table);
        const slot = pending.get(table)?.get(key);
        if (slot === undefined) return tx.get<T>(table, key);
        return slot.value === GONE ? undefined : (slot.value as T);
      },
      range: <T>(table: string, options?: RangeOptions): Iterable<readonly [string, T]> => {
        check(table);
        const p = pending.get(table);
        if (p === undefined || p.size === 0) return tx.range<T>(table, options);
        const bounds = rangeBounds(options ?? {});
        return merged(tx, table, bounds, slice(p, bounds)) as Iterable<readonly [string, T]>;
      },
    };
  }

  /**
   * Throws when `table` is answered above and `unkept`: changes to such tables were not committed
   * underneath when the view read was made (see `answeredAbove`).
   */
  private assertKept(table: string, unkept: boolean): void {
    if (unkept && this.above.has(table))
      throw new StorageError(
        `table ${JSON.stringify(table)} is answered by the store above while its changes are being committed`,
      );
  }

  /** The view a write's function gets: its own changes over the pending ones over `tx`. */
  private writeView(tx: ReadTxn, own: Map<string, Map<string, unknown>>): WriteTxn {
    const below = this.view(tx, this.pending);
    const write: WriteTxn = {
      get: <T>(table: string, key: string): T | undefined => {
        const mine = own.get(table)?.get(key);
        if (mine === undefined) return below.get<T>(table, key);
        return mine === GONE ? undefined : (mine as T);
      },
      range: <T>(table: string, options?: RangeOptions): Iterable<readonly [string, T]> => {
        const mine = own.get(table);
        if (mine === undefined || mine.size === 0) return below.range<T>(table, options);
        const bounds = rangeBounds(options ?? {});
        const over = [...mine].filter(([k]) => inBounds(k, bounds)).sort((a, b) => compareKeys(a[0], b[0]));
        const p = this.pending.get(table);
        const under = p && p.size > 0 ? mergeSorted(slice(p, bounds), over) : over;
        return merged(tx, table, bounds, under) as Iterable<readonly [string, T]>;
      },
      put: (table, key, value) => {
        this.changes(own, table, key).set(key, value);
      },
      delete: (table, key) => {
        // The store above knows whether the key exists; here it is passed on unchecked.
        if (this.above.has(table)) {
          this.changes(own, table, key).set(key, GONE);
          return true;
        }
        const existed = write.get(table, key) !== undefined;
        if (existed) this.changes(own, table, key).set(key, GONE);
        return existed;
      },
    };
    return write;
  }

  /** The changes a write made to `table`, after checking `table` and `key`. */
  private changes(own: Map<string, Map<string, unknown>>, table: string, key: string): Map<string, unknown> {
    if (!this.known.has(table)) throw new StorageError(`unknown table ${JSON.stringify(table)}`);
    if (key.length === 0) throw new StorageError('empty keys cannot be stored');
    if (this.maxKeyBytes !== Infinity && utf8Length(key) > this.maxKeyBytes)
      throw new StorageError(`key of ${utf8Length(key)} bytes is longer than the store takes (${this.maxKeyBytes})`);
    let changes = own.get(table);
    if (!changes) own.set(table, (changes = new Map()));
    return changes;
  }
}

/** The pending values of `p` within `bounds` (the limit aside), in key order. */
function slice(p: Pending, b: RangeBounds): Array<readonly [string, unknown]> {
  const out: Array<readonly [string, unknown]> = [];
  const top = p.maxKey();
  if (top === undefined) return out;
  const take = (k: string, s: Slot): { break: true } | undefined => {
    if (!k.startsWith(b.prefix)) return { break: true };
    out.push([k, s.value]);
    return undefined;
  };
  if (b.high === undefined) p.forRange(b.low, top, true, take);
  else p.forRange(b.low, b.high, false, take);
  return out;
}

/**
 * The range of `table` in `tx` within `bounds`, with `over` (sorted; GONE removes a key) merged
 * in, lazily: the store underneath is scanned as far as the caller reads.
 */
function* merged(
  tx: ReadTxn,
  table: string,
  bounds: RangeBounds,
  over: ReadonlyArray<readonly [string, unknown]>,
): IterableIterator<readonly [string, unknown]> {
  const { limit } = bounds;
  if (limit <= 0) return;
  const options: { prefix?: string; start?: string; end?: string } = {};
  if (bounds.prefix !== '') options.prefix = bounds.prefix;
  if (bounds.low !== '') options.start = bounds.low;
  if (bounds.high !== undefined) options.end = bounds.high;
  let n = 0;
  let j = 0;
  for (const entry of tx.range(table, options)) {
    for (; j < over.length && compareKeys((over[j] as readonly [string, unknown])[0], entry[0]) <= 0; j++) {
      const [k, v] = over[j] as readonly [string, unknown];
      if (k === entry[0]) break;
      if (v === GONE) continue;
      yield [k, v];
      if (++n >= limit) return;
    }
    const same = over[j];
    if (same !== undefined && same[0] === entry[0]) {
      j++;
      if (same[1] === GONE) continue;
      yield same;
    } else yield entry;
    if (++n >= limit) return;
  }
  for (; j < over.length; j++) {
    const [k, v] = over[j] as readonly [string, unknown];
    if (v === GONE) continue;
    yield [k, v];
    if (++n >= limit) return;
  }
}
