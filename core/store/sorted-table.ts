import { compareKeys } from '../util/keys.js';
import type { RangeOptions } from '../ports/state-store.js';

/**
 * An ordered map from string keys to values, kept as a sorted key array plus a hash map.
 * Lookups are O(1), inserts and deletes O(n) (a memmove), range scans O(log n + k).
 */
export class SortedTable<V> {
  private readonly keys: string[] = [];
  private readonly values = new Map<string, V>();

  /** Number of entries. */
  get size(): number {
    return this.keys.length;
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
    if (prev === undefined && !this.values.has(key)) {
      this.keys.splice(this.lowerBound(key), 0, key);
    }
    this.values.set(key, value);
    return prev;
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: string): boolean {
    if (!this.values.delete(key)) return false;
    const i = this.lowerBound(key);
    this.keys.splice(i, 1);
    return true;
  }

  /** Entries within `options` in ascending key order. Do not mutate the table while iterating. */
  *range(options: RangeOptions = {}): IterableIterator<readonly [string, V]> {
    const prefix = options.prefix ?? '';
    let from = prefix;
    if (options.start !== undefined && compareKeys(options.start, from) > 0) from = options.start;
    const limit = options.limit ?? Infinity;
    let count = 0;
    for (let i = this.lowerBound(from); i < this.keys.length && count < limit; i++) {
      const key = this.keys[i] as string;
      if (!key.startsWith(prefix)) return;
      if (options.end !== undefined && compareKeys(key, options.end) >= 0) return;
      count++;
      yield [key, this.values.get(key) as V];
    }
  }

  /** Index of the first key >= `key`. */
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid] as string, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
