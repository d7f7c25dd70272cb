import type BTreeClass from 'sorted-btree';
import * as sortedBtree from 'sorted-btree';
import { StorageError } from '../errors.js';
import type { RangeOptions, ReadTxn, ReadView, StateStore, WriteTxn } from '../ports/state-store.js';
import { compareKeys } from '../util/keys.js';
import { inBounds, mergeSorted, rangeBounds } from './range.js';

// sorted-btree is CommonJS: its class is `default` to a bundler, `default.default` to Node's ESM loader.
const loaded = sortedBtree as unknown as { default: typeof BTreeClass & { default?: typeof BTreeClass } };
const BTree: typeof BTreeClass = loaded.default.default ?? loaded.default;

/** One table held in memory: keys in code-point order (as every StateStore orders them). */
type Table = BTreeClass<string, unknown>;

/** Most derived values kept (ReadTxn.derived); the least recently used go first. */
const MAX_DERIVED = 16_384;

/** A write to a cached table, kept until its transaction has committed. */
type Op =
  | { readonly table: Table; readonly key: string; readonly value: unknown }
  | { readonly table: Table; readonly key: string; readonly deleted: true };

/** A write under way: the writes to cached tables it made, and whether its function ran. */
interface PendingWrite {
  readonly ops: Op[];
  ran: boolean;
}

/** Writes not yet in the trees, over them: a tree, or a write's own hash map of its writes. */
type Layer = Table | ReadonlyMap<string, unknown>;

/** Marks a key deleted in an overlay of writes not yet in the trees. */
const GONE: unique symbol = Symbol('gone');

/**
 * A StateStore that keeps some of its tables wholly in memory in front of another store (the
 * durable truth): reads of those tables are answered from ordered in-memory trees, reads of the
 * others go to the store underneath, and every write goes to the store underneath, its changes to
 * the cached tables applied in memory once it has committed (in commit order). The cached tables
 * are loaded from the store underneath when this store is made; nothing else may write to that
 * store afterwards.
 *
 * A read sees the cached tables as of the last commit this store has applied. Between the store
 * underneath committing a write and this store applying it, a read can see newer data in an
 * uncached table than in a cached one; callers that read one table's data with another's
 * modification index must cache both or neither.
 */
export class CachedTablesStore implements StateStore {
  readonly tables: readonly string[];
  private readonly cache = new Map<string, Table>();
  /** Writes called and not yet finished (committed and applied here, or failed). */
  private writing = 0;
  /** Settles once every write called so far has finished here. */
  private settled: Promise<void> = Promise.resolve();
  /** The name of each cached table. */
  private readonly names = new Map<Table, string>();
  /** Values derived from the cached tables (ReadTxn.derived), most recently used last. */
  private readonly derivedValues = new Map<string, { readonly version: number; readonly value: unknown }>();
  /**
   * Writes whose transaction ran but whose commit is not applied to the trees yet, in the order
   * they ran (the store underneath may run a later write's transaction before an earlier one's
   * commit resolves). With the trees, their writes are what the store underneath holds for the
   * cached tables, so reads inside a later write are answered from memory.
   */
  private readonly unapplied: PendingWrite[] = [];

  /**
   * Loads `cached` (each one of `store`'s tables) from `store`. `versions`, one of them, holds the
   * modification indexes derived values are versioned by: these only grow, except when a snapshot
   * replaces the state, so a deletion there drops every derived value.
   */
  constructor(
    private readonly store: StateStore,
    cached: readonly string[],
    private readonly versions?: string,
  ) {
    this.tables = store.tables;
    store.read((tx) => {
      for (const name of cached) {
        if (!store.tables.includes(name)) throw new Error(`cannot cache unknown table ${JSON.stringify(name)}`);
        const table: Table = new BTree<string, unknown>(undefined, compareKeys);
        for (const [key, value] of tx.range(name)) table.set(key, value);
        this.cache.set(name, table);
        this.names.set(table, name);
      }
    });
  }

  /** Number of entries held in memory, per cached table (for metrics and tests). */
  cachedSizes(): Record<string, number> {
    return Object.fromEntries([...this.cache].map(([name, t]) => [name, t.size]));
  }

  read<T>(fn: (tx: ReadTxn) => T): T {
    return this.store.read((tx) => fn(this.overlay(tx)));
  }

  /**
   * A long-lived view of the committed state that later writes do not change, never a mix of
   * memory and disk taken while a commit is being applied here. With no write under way, the
   * cached tables come from copy-on-write clones of their trees (rows as they were put, nothing to
   * decode; a write that follows copies the tree nodes it touches) and the others from a view of
   * the store underneath taken at the same moment; while a write is under way (its commit may be
   * visible underneath before it is applied to the trees), every table comes from that view.
   */
  snapshotRead(): ReadView {
    const under = this.store.snapshotRead();
    if (this.writing > 0) return under;
    const frozen = new Map<string, Table>();
    for (const [name, t] of this.cache) frozen.set(name, t.clone());
    let open = true;
    const tree = (table: string): Table | undefined => {
      if (!open) throw new StorageError('read view is closed');
      return frozen.get(table);
    };
    return {
      get: <V>(table: string, key: string): V | undefined => {
        const t = tree(table);
        return t ? (t.get(key) as V | undefined) : under.get<V>(table, key);
      },
      range: <V>(table: string, options?: RangeOptions): Iterable<readonly [string, V]> => {
        const t = tree(table);
        return t ? (frozenRange(t, options) as Iterable<readonly [string, V]>) : under.range<V>(table, options);
      },
      close: () => {
        if (!open) return;
        open = false;
        frozen.clear();
        under.close();
      },
    };
  }

  async write<T>(fn: (tx: WriteTxn) => T, durability?: 'durable' | 'committed'): Promise<T> {
    this.writing++;
    const earlier = this.settled;
    let settle = (): void => undefined;
    this.settled = new Promise<void>((resolve) => (settle = resolve));
    const w: PendingWrite = { ops: [], ran: false };
    try {
      let result: T;
      try {
        result = await this.store.write((tx) => this.transact(tx, fn, w), durability);
      } finally {
        // Commits reach the trees in the order they were made, which is call order: a write that
        // completes first (committed, where an earlier one waits for its flush) waits for the
        // earlier ones, or their older values would land over its newer ones.
        await earlier;
      }
      const versions = this.versions === undefined ? undefined : this.cache.get(this.versions);
      for (const op of w.ops) {
        if ('deleted' in op) {
          op.table.delete(op.key);
          if (op.table === versions) this.derivedValues.clear();
        } else op.table.set(op.key, op.value);
      }
      return result;
    } finally {
      settle();
      this.writing--;
      // Applied (or never committed): later writes no longer read it from the unapplied layer.
      if (w.ran) this.unapplied.splice(this.unapplied.indexOf(w), 1);
    }
  }

  /**
   * Runs `fn` inside the store underneath's transaction `tx`. Reads see the write's own writes,
   * then those of earlier writes not yet applied here, then the trees; uncached tables go to `tx`.
   * Writes to cached tables are combined: kept until `fn` has run, then handed to `tx` once per
   * key (a write that bumps the same modification index for each of its commands writes it once)
   * and recorded in `w.ops`, which later writes read until this one is applied.
   *
   * The write's own writes are kept in hash maps (a range over them filters every entry: a write
   * touches few keys of a table) and the layer of unapplied writes is built only when there are
   * any: with one write at a time, each written key costs one tree update, when it is applied.
   */
  private transact<T>(tx: WriteTxn, fn: (tx: WriteTxn) => T, w: PendingWrite): T {
    const written = new Map<Table, Map<string, unknown>>();
    const pending = this.unappliedLayers();
    const layersOf = (t: Table): Layer[] => {
      const layers: Layer[] = [];
      const earlier = pending?.get(t);
      if (earlier) layers.push(earlier);
      const own = written.get(t);
      if (own && own.size > 0) layers.push(own);
      return layers;
    };
    const record = (t: Table, key: string, value: unknown): void => {
      let own = written.get(t);
      if (!own) written.set(t, (own = new Map()));
      own.set(key, value);
    };
    const recording: WriteTxn = {
      get: <V>(table: string, key: string): V | undefined => {
        const t = this.cache.get(table);
        if (!t) return tx.get<V>(table, key);
        const own = written.get(t)?.get(key);
        if (own !== undefined) return own === GONE ? undefined : (own as V);
        const earlier = pending?.get(t)?.get(key);
        if (earlier !== undefined) return earlier === GONE ? undefined : (earlier as V);
        return t.get(key) as V | undefined;
      },
      range: <V>(table: string, options?: RangeOptions): Iterable<readonly [string, V]> => {
        const t = this.cache.get(table);
        if (!t) return tx.range<V>(table, options);
        return rangeOf(t, options, layersOf(t)) as Iterable<readonly [string, V]>;
      },
      put: (table, key, value) => {
        const t = this.cache.get(table);
        if (t) record(t, key, value);
        else tx.put(table, key, value);
      },
      delete: (table, key) => {
        const t = this.cache.get(table);
        if (!t) return tx.delete(table, key);
        // The cached tables hold every row, so memory says whether the key exists.
        const existed = recording.get(table, key) !== undefined;
        if (existed) record(t, key, GONE);
        return existed;
      },
    };
    w.ops.length = 0;
    const out = fn(recording);
    for (const [t, own] of written) {
      const name = this.names.get(t) as string;
      for (const [key, value] of own) {
        if (value === GONE) {
          tx.delete(name, key);
          w.ops.push({ table: t, key, deleted: true });
        } else {
          tx.put(name, key, value);
          w.ops.push({ table: t, key, value });
        }
      }
    }
    // The transaction kept its writes: later ones read them until the commit is applied.
    w.ran = true;
    this.unapplied.push(w);
    return out;
  }

  /**
   * Per cached table, the latest value (or GONE) of each key written by the unapplied writes;
   * undefined when there are none.
   */
  private unappliedLayers(): Map<Table, Table> | undefined {
    if (this.unapplied.length === 0) return undefined;
    const layers = new Map<Table, Table>();
    for (const earlier of this.unapplied)
      for (const op of earlier.ops) {
        let layer = layers.get(op.table);
        if (!layer) layers.set(op.table, (layer = new BTree<string, unknown>(undefined, compareKeys)));
        layer.set(op.key, 'deleted' in op ? GONE : op.value);
      }
    return layers;
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /** `tx` with the cached tables answered from memory. */
  private overlay(tx: ReadTxn): ReadTxn {
    return {
      get: <V>(table: string, key: string): V | undefined => {
        const t = this.cache.get(table);
        return t ? (t.get(key) as V | undefined) : tx.get<V>(table, key);
      },
      range: <V>(table: string, options?: RangeOptions): Iterable<readonly [string, V]> => {
        const t = this.cache.get(table);
        return t ? (rangeOf(t, options) as Iterable<readonly [string, V]>) : tx.range<V>(table, options);
      },
      derived: <T>(key: string, version: number, compute: () => T): T => {
        const hit = this.derivedValues.get(key);
        if (hit && hit.version === version) {
          this.derivedValues.delete(key);
          this.derivedValues.set(key, hit);
          return hit.value as T;
        }
        const value = compute();
        this.derivedValues.delete(key);
        this.derivedValues.set(key, { version, value });
        if (this.derivedValues.size > MAX_DERIVED)
          this.derivedValues.delete(this.derivedValues.keys().next().value as string);
        return value;
      },
    };
  }
}

/**
 * Entries of `t` within `options`, ascending, as StateStore.range defines them, read lazily: `t`
 * must not change while they are read (a clone nobody writes to).
 */
function* frozenRange(t: Table, options: RangeOptions = {}): IterableIterator<readonly [string, unknown]> {
  const { prefix, low, high, limit } = rangeBounds(options);
  let n = 0;
  if (limit <= 0) return;
  for (const [k, v] of t.entries(low === '' ? undefined : low)) {
    if ((high !== undefined && compareKeys(k, high) >= 0) || !k.startsWith(prefix)) return;
    yield [k, v];
    if (++n >= limit) return;
  }
}

/**
 * Entries of `t` within `options`, ascending, as StateStore.range defines them, with `layers`
 * (oldest first; a tree is scanned within the bounds, a hash map filtered whole) written over it:
 * a layer's value replaces the tree's, GONE removes the key.
 */
function rangeOf(
  t: Table,
  options: RangeOptions = {},
  layers: readonly Layer[] = [],
): ReadonlyArray<readonly [string, unknown]> {
  const bounds = rangeBounds(options);
  const { prefix, low, high, limit } = bounds;
  if (limit <= 0) return [];
  // Collected into an array, so writes after the call do not change what the caller iterates.
  const scan = (tree: BTreeClass<string, unknown>, max: number, onEntry: (k: string, v: unknown) => void): void => {
    const top = tree.maxKey();
    if (top === undefined) return;
    let n = 0;
    const take = (k: string, v: unknown): { break: true } | undefined => {
      if (!k.startsWith(prefix)) return { break: true };
      onEntry(k, v);
      return ++n >= max ? { break: true } : undefined;
    };
    if (high === undefined) tree.forRange(low, top, true, take);
    else tree.forRange(low, high, false, take);
  };
  const over = new Map<string, unknown>();
  for (const layer of layers) {
    if (layer instanceof BTree) scan(layer, Infinity, (k, v) => over.set(k, v));
    else for (const [k, v] of layer) if (inBounds(k, bounds)) over.set(k, v);
  }
  if (over.size === 0) {
    const out: Array<readonly [string, unknown]> = [];
    scan(t, limit, (k, v) => out.push([k, v]));
    return out;
  }
  // The tree's entries come sorted; the few written over them are sorted apart and merged in.
  const base: Array<readonly [string, unknown]> = [];
  scan(t, Infinity, (k, v) => base.push([k, v]));
  const extra = [...over].sort((a, b) => compareKeys(a[0], b[0]));
  return mergeSorted(base, extra, limit, GONE);
}
