import { TsKeyIndex } from '../hotpaths/key-index.js';
import type { KeyIndex } from '../ports/hot-paths.js';
import type { RangeOptions } from '../ports/state-store.js';
import { compareKeys } from '../util/keys.js';

/**
 * An ordered map from string keys to values: a KeyIndex (a HotPaths operation, WebAssembly or
 * TypeScript) keeps the order, a hash map the values.
 */
export class SortedTable<V> {
  private readonly index: KeyIndex;
  private readonly values = new Map<string, V>();

  /** `index` orders the keys (default: the TypeScript KeyIndex). */
  constructor(index: KeyIndex = new TsKeyIndex()) {
    this.index = index;
  }

  /** Number of entries. */
  get size(): number {
    return this.values.size;
  }

  /** The value under `key`, or undefined. */
  get(key: string): V | undefined {
    return this.values.get(key);
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return this.values.has(key);
  }

  /** Sets `key` to `value`; returns the previous value, if any. */
  set(key: string, value: V): V | undefined {
    const prev = this.values.get(key);
    if (!this.values.has(key)) this.index.insert(key);
    this.values.set(key, value);
    return prev;
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: string): boolean {
    if (!this.values.delete(key)) return false;
    this.index.delete(key);
    return true;
  }

  /** Entries within `options` in ascending key order (a snapshot: later writes do not affect it). */
  *range(options: RangeOptions = {}): IterableIterator<readonly [string, V]> {
    const prefix = options.prefix ?? '';
    let keys = this.index.prefix(prefix);
    const { start, end } = options;
    if (start !== undefined || end !== undefined) {
      keys = keys.filter(
        (k) => (start === undefined || compareKeys(k, start) >= 0) && (end === undefined || compareKeys(k, end) < 0),
      );
    }
    const limit = Math.min(options.limit ?? Infinity, keys.length);
    for (let i = 0; i < limit; i++) {
      const key = keys[i] as string;
      yield [key, this.values.get(key) as V];
    }
  }
}
