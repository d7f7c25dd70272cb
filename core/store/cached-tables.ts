import type BTreeClass from 'sorted-btree';
import * as sortedBtree from 'sorted-btree';
import type { RangeOptions, ReadTxn, ReadView, StateStore, WriteTxn } from '../ports/state-store.js';
import { compareKeys } from '../util/keys.js';

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

/** The first key after every key that starts with `prefix` (undefined: none bounds them). */
function prefixEnd(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix.charCodeAt(i);
    if (c < 0xffff) return prefix.slice(0, i) + String.fromCharCode(c + 1);
  }
  return undefined;
}

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
  /** Values derived from the cached tables (ReadTxn.derived), most recently used last. */
  private readonly derivedValues = new Map<string, { readonly version: number; readonly value: unknown }>();

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
   * A long-lived view from the store underneath, which holds every table: it is the committed
   * state itself, never a mix of memory and disk taken while a commit is being applied here.
   */
  snapshotRead(): ReadView {
    return this.store.snapshotRead();
  }

  async write<T>(fn: (tx: WriteTxn) => T, durability?: 'durable' | 'committed'): Promise<T> {
    const ops: Op[] = [];
    const result = await this.store.write((tx) => {
      // Reads inside the transaction see its own writes: they go to the store underneath.
      const recording: WriteTxn = {
        get: (table, key) => tx.get(table, key),
        range: (table, options) => tx.range(table, options),
        put: (table, key, value) => {
          tx.put(table, key, value);
          const t = this.cache.get(table);
          if (t) ops.push({ table: t, key, value });
        },
        delete: (table, key) => {
          const existed = tx.delete(table, key);
          const t = this.cache.get(table);
          if (t && existed) ops.push({ table: t, key, deleted: true });
          return existed;
        },
      };
      ops.length = 0;
      return fn(recording);
    }, durability);
    const versions = this.versions === undefined ? undefined : this.cache.get(this.versions);
    for (const op of ops) {
      if ('deleted' in op) {
        op.table.delete(op.key);
        if (op.table === versions) this.derivedValues.clear();
      } else op.table.set(op.key, op.value);
    }
    return result;
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

/** Entries of `t` within `options`, ascending, as StateStore.range defines them. */
function* rangeOf(t: Table, options: RangeOptions = {}): IterableIterator<readonly [string, unknown]> {
  const prefix = options.prefix ?? '';
  let low = prefix;
  if (options.start !== undefined && compareKeys(options.start, low) > 0) low = options.start;
  let high = prefix === '' ? undefined : prefixEnd(prefix);
  if (options.end !== undefined && (high === undefined || compareKeys(options.end, high) < 0)) high = options.end;
  const limit = options.limit ?? Infinity;
  if (limit <= 0) return;
  const max = t.maxKey();
  if (max === undefined) return;
  // Collected first, so writes after the call do not change what the caller iterates.
  const out: Array<readonly [string, unknown]> = [];
  const take = (k: string, v: unknown): { break: true } | undefined => {
    if (!k.startsWith(prefix)) return { break: true };
    out.push([k, v]);
    return out.length >= limit ? { break: true } : undefined;
  };
  if (high === undefined) t.forRange(low, max, true, take);
  else t.forRange(low, high, false, take);
  yield* out;
}
