import type { Rng } from '../ports/rng.js';
import { entryStatus, type HealthEntry } from './queries.js';
import { weightFor } from './state-machine.js';

/**
 * Returns a new array holding exactly the items of `items` (the same multiset; `items` is not
 * modified) in a weighted random order: each position is filled by drawing one of the items not
 * yet placed with probability proportional to its weight `weightOf(item)`. So an item of weight 3
 * comes first three times as often as one of weight 1, and the order of every suffix is again such
 * a draw among the items left.
 *
 * Items of weight 0 are never drawn before an item of positive weight: they are kept, after all
 * of those, in uniformly random order among themselves.
 *
 * Algorithm: when every positive weight is the same (the common case: Consul's default Weights
 * are 1 and 1), a uniform Fisher–Yates shuffle of the positive items and then of the zero-weight
 * ones, which is the same distribution; otherwise Efraimidis–Spirakis weighted sampling without
 * replacement (each item gets the key log(u)/w for one uniform u; the order is by descending key),
 * which is exactly the sequential draw above, items of equal key keeping their input order. Work
 * is O(n) for equal weights, else O(n log n) (one native sort of the keys, then a binary search per
 * item); O(n) extra space and exactly one `rng.next()` per item either way, so a seeded rng
 * replays the same order.
 *
 * @throws RangeError when a weight is negative, NaN or infinite.
 */
export function weightedShuffle<T>(items: readonly T[], weightOf: (item: T) => number, rng: Rng): T[] {
  const n = items.length;
  const weights = new Float64Array(n);
  let common = 0;
  let equal = true;
  let zeros = 0;
  for (let i = 0; i < n; i++) {
    const w = weightOf(items[i] as T);
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weightedShuffle: weight ${w} is not finite and >= 0`);
    weights[i] = w;
    if (w === 0) zeros++;
    else if (common === 0) common = w;
    else if (w !== common) equal = false;
  }
  if (equal) return uniformShuffle(items, weights, zeros, rng);
  // Keys and item positions, in item order: of positive weight here, of weight 0 (rare) apart.
  const keys = new Float64Array(n);
  const from = new Int32Array(n);
  let positive = 0;
  let zero: { keys: number[]; from: number[] } | undefined;
  for (let i = 0; i < n; i++) {
    const w = weights[i] as number;
    // 1 - next() lies in (0, 1], so the logarithm is finite; the key lies in [-Infinity, 0].
    const u = 1 - rng.next();
    if (w === 0) {
      zero ??= { keys: [], from: [] };
      zero.keys.push(u);
      zero.from.push(i);
    } else {
      keys[positive] = Math.log(u) / w;
      from[positive++] = i;
    }
  }
  const out = new Array<T>(n);
  placeByKeyDescending(items, keys, from, positive, out, 0);
  if (zero)
    placeByKeyDescending(items, Float64Array.from(zero.keys), Int32Array.from(zero.from), n - positive, out, positive);
  return out;
}

/**
 * `weightedShuffle` when all positive weights are equal: the items of positive weight in input
 * order, then the `zeros` items of weight 0, each group shuffled uniformly in place by
 * Fisher–Yates (position i takes one of positions i.. of its group, one `rng.next()` per item, the
 * positive group's draws first).
 */
function uniformShuffle<T>(items: readonly T[], weights: Float64Array, zeros: number, rng: Rng): T[] {
  const n = items.length;
  const out = new Array<T>(n);
  let positive = 0;
  let zero = n - zeros;
  for (let i = 0; i < n; i++) out[weights[i] === 0 ? zero++ : positive++] = items[i] as T;
  shuffleRange(out, 0, positive, rng);
  shuffleRange(out, positive, n, rng);
  return out;
}

/** Fisher–Yates over `a[start..end)`: one `rng.next()` per position, the last one included. */
function shuffleRange<T>(a: T[], start: number, end: number, rng: Rng): void {
  for (let i = start; i < end; i++) {
    // next() < 1, so j < end; the min guards a product rounded up to the count.
    const j = Math.min(end - 1, i + Math.floor(rng.next() * (end - i)));
    const t = a[i] as T;
    a[i] = a[j] as T;
    a[j] = t;
  }
}

/**
 * Puts `items[from[j]]`, for j in 0..count-1, into `out` from `base` on in descending order of
 * `keys[j]`, equal keys in order of j: the order a stable sort by descending key gives. Distinct
 * keys (nearly always) are ranked with one native sort of the keys and a binary search each,
 * several times faster than sorting with a comparator; equal keys take the stable sort itself.
 */
function placeByKeyDescending<T>(
  items: readonly T[],
  keys: Float64Array,
  from: Int32Array,
  count: number,
  out: T[],
  base: number,
): void {
  const sorted = keys.slice(0, count).sort();
  for (let j = 1; j < count; j++) {
    if (sorted[j] === sorted[j - 1]) {
      const order = Array.from({ length: count }, (_, k) => k).sort(
        (a, b) => (keys[b] as number) - (keys[a] as number),
      );
      for (let k = 0; k < count; k++) out[base + k] = items[from[order[k] as number] as number] as T;
      return;
    }
  }
  for (let j = 0; j < count; j++) {
    // The key's place among the sorted keys, counted from the largest.
    const key = keys[j] as number;
    let low = 0;
    let high = count - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((sorted[mid] as number) < key) low = mid + 1;
      else high = mid;
    }
    out[base + count - 1 - low] = items[from[j] as number] as T;
  }
}

/**
 * The load-balancing weight of a health entry, as Consul's SRV records use it: the service's
 * `Weights.Passing` when all its checks pass (or it has none), `Weights.Warning` when the worst is
 * warning, 0 when any check is critical.
 */
export function healthWeight(e: Pick<HealthEntry, 'checks' | 'service'>): number {
  return weightFor(e.service.Weights, entryStatus(e));
}

/**
 * `entries` in a weighted random order by `healthWeight` (see `weightedShuffle`): passing and
 * warning instances drawn in proportion to their Weights, critical ones (and those of weight 0)
 * last in random order. Returns a new array; exactly one rng draw per entry.
 */
export function shuffleByHealth<E extends Pick<HealthEntry, 'checks' | 'service'>>(
  entries: readonly E[],
  rng: Rng,
): E[] {
  return weightedShuffle(entries, healthWeight, rng);
}

/** One element of a JSON array rendered ahead of time, with its load-balancing weight. */
export interface WeightedJson {
  /** The element's JSON text as UTF-8 (e.g. `utf8(JSON.stringify(healthEntryJson(e)))`). */
  readonly bytes: Uint8Array;
  /** Its weight (`healthWeight(e)`); finite and >= 0. */
  readonly weight: number;
}

const encoder = new TextEncoder();

/** `text` as UTF-8 bytes. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * The UTF-8 text of the JSON array whose elements are `parts`, in the order given: one allocation
 * and one copy of each part.
 */
export function jsonArrayBytes(parts: readonly { readonly bytes: Uint8Array }[]): Uint8Array<ArrayBuffer> {
  let size = 2 + Math.max(0, parts.length - 1);
  for (const p of parts) size += p.bytes.length;
  const out = new Uint8Array(size);
  out[0] = 0x5b; // [
  let at = 1;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) out[at++] = 0x2c; // ,
    const b = (parts[i] as { bytes: Uint8Array }).bytes;
    out.set(b, at);
    at += b.length;
  }
  out[at] = 0x5d; // ]
  return out;
}

/**
 * The JSON array of `parts` in a weighted random order (see `weightedShuffle`), as UTF-8: for
 * answers whose elements are rendered once and cached, so every send still gets its own order
 * without serialising again. Equal to the UTF-8 of `JSON.stringify` of the shuffled elements.
 * @throws RangeError for a negative, NaN or infinite weight.
 */
export function weightedJsonArray(parts: readonly WeightedJson[], rng: Rng): Uint8Array<ArrayBuffer> {
  return jsonArrayBytes(weightedShuffle(parts, (p) => p.weight, rng));
}
