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
 * Algorithm: when every positive weight is the same (the common case: all instances passing with
 * their default weights) the draw is uniform, so a Fisher–Yates shuffle; otherwise
 * Efraimidis–Spirakis weighted sampling without replacement (each item gets the key log(u)/w for
 * one uniform u; the order is by descending key), which is exactly the sequential draw above.
 * Items of weight 0 get a Fisher–Yates shuffle after the rest. Work is O(n log n) time, O(n)
 * extra space and exactly one `rng.next()` per item, so a seeded rng replays the same order.
 *
 * @throws RangeError when a weight is negative, NaN or infinite.
 */
export function weightedShuffle<T>(items: readonly T[], weightOf: (item: T) => number, rng: Rng): T[] {
  const n = items.length;
  const weights = new Float64Array(n);
  let positive = 0;
  let uniform = true;
  let first = 0;
  for (let i = 0; i < n; i++) {
    const w = weightOf(items[i] as T);
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weightedShuffle: weight ${w} is not finite and >= 0`);
    weights[i] = w;
    if (w > 0) {
      if (first === 0) first = w;
      else if (w !== first) uniform = false;
      positive++;
    }
  }
  // Positive weights first (in input order), then the zeros.
  const out = new Array<T>(n);
  let p = 0;
  let z = positive;
  for (let i = 0; i < n; i++) out[weights[i]! > 0 ? p++ : z++] = items[i] as T;
  if (uniform) fisherYates(out, 0, positive, rng);
  else {
    const placed = out.slice(0, positive);
    const keys = new Float64Array(positive);
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (weights[i]! === 0) continue;
      // 1 - next() lies in (0, 1], so the logarithm is finite; the key lies in (-Infinity, 0].
      keys[k] = Math.log(1 - rng.next()) / weights[i]!;
      k++;
    }
    const order = Array.from({ length: positive }, (_, i) => i).sort((a, b) => keys[b]! - keys[a]!);
    for (let i = 0; i < positive; i++) out[i] = placed[order[i]!] as T;
  }
  fisherYates(out, positive, n, rng);
  return out;
}

/** Shuffles `a[from..to)` uniformly in place with one `rng.next()` per element. */
function fisherYates<T>(a: T[], from: number, to: number, rng: Rng): void {
  for (let i = from; i < to; i++) {
    const j = i + Math.floor(rng.next() * (to - i));
    const t = a[i] as T;
    a[i] = a[j] as T;
    a[j] = t;
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
