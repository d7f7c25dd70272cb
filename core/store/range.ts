import type { RangeOptions } from '../ports/state-store.js';
import { compareKeys } from '../util/keys.js';

/** The first key after every key that starts with `prefix` (undefined: none bounds them). */
export function prefixEnd(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix.charCodeAt(i);
    if (c < 0xffff) return prefix.slice(0, i) + String.fromCharCode(c + 1);
  }
  return undefined;
}

/** The keys a range selects, as bounds on an ordered scan. */
export interface RangeBounds {
  /** Every selected key starts with it ('' for all). */
  readonly prefix: string;
  /** The first key the scan may return (inclusive). */
  readonly low: string;
  /** The scan stops before this key (undefined: nothing but the prefix bounds it). */
  readonly high: string | undefined;
  /** At most this many keys (Infinity: no limit). */
  readonly limit: number;
}

/** The keys `options` select, as StateStore.range defines them: prefix, start, end and limit combined. */
export function rangeBounds(options: RangeOptions): RangeBounds {
  const prefix = options.prefix ?? '';
  let low = prefix;
  if (options.start !== undefined && compareKeys(options.start, low) > 0) low = options.start;
  let high = prefix === '' ? undefined : prefixEnd(prefix);
  if (options.end !== undefined && (high === undefined || compareKeys(options.end, high) < 0)) high = options.end;
  return { prefix, low, high, limit: options.limit ?? Infinity };
}

/** Whether `key` lies within `b` (the limit aside). */
export function inBounds(key: string, b: RangeBounds): boolean {
  if (!key.startsWith(b.prefix) || compareKeys(key, b.low) < 0) return false;
  return b.high === undefined || compareKeys(key, b.high) < 0;
}

/**
 * Two lists of entries sorted by key merged into one, at most `limit` long: where both hold a key,
 * `top`'s entry wins; a `top` entry whose value is `gone` (when given) removes the key instead.
 */
export function mergeSorted(
  bottom: ReadonlyArray<readonly [string, unknown]>,
  top: ReadonlyArray<readonly [string, unknown]>,
  limit = Infinity,
  gone?: symbol,
): Array<readonly [string, unknown]> {
  const out: Array<readonly [string, unknown]> = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < bottom.length || j < top.length)) {
    const b = bottom[i];
    const t = top[j];
    const order = b === undefined ? 1 : t === undefined ? -1 : compareKeys(b[0], t[0]);
    if (order < 0) {
      out.push(b as readonly [string, unknown]);
      i++;
      continue;
    }
    if (order === 0) i++;
    j++;
    if (gone === undefined || (t as readonly [string, unknown])[1] !== gone) out.push(t as readonly [string, unknown]);
  }
  return out;
}
