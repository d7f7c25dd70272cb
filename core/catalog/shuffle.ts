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
 * Algorithm: Efraimidis–Spirakis weighted sampling without replacement (each item gets the key
 * log(u)/w for one uniform u; the order is by descending key), which is exactly the sequential
 * draw above. Work is O(n log n) time, O(n) extra space and exactly one `rng.next()` per item,
 * so a seeded rng replays the same order.
 *
 * @throws RangeError when a weight is negative, NaN or infinite.
 */
export function weightedShuffle<T>(items: readonly T[], weightOf: (item: T) => number, rng: Rng): T[] {
  const positive: Array<{ item: T; key: number }> = [];
  const zero: Array<{ item: T; key: number }> = [];
  for (const item of items) {
    const w = weightOf(item);
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weightedShuffle: weight ${w} is not finite and >= 0`);
    // 1 - next() lies in (0, 1], so the logarithm is finite; the key lies in (-Infinity, 0].
    const u = 1 - rng.next();
    if (w === 0) zero.push({ item, key: u });
    else positive.push({ item, key: Math.log(u) / w });
  }
  const byKeyDescending = (a: { key: number }, b: { key: number }): number => b.key - a.key;
  positive.sort(byKeyDescending);
  zero.sort(byKeyDescending);
  const out = new Array<T>(items.length);
  let at = 0;
  for (const p of positive) out[at++] = p.item;
  for (const z of zero) out[at++] = z.item;
  // Invariant: every item placed exactly once.
  if (at !== items.length) throw new Error('weightedShuffle: lost an item');
  return out;
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
  /** The element's JSON text (e.g. `JSON.stringify(healthEntryJson(e))`). */
  readonly text: string;
  /** Its weight (`healthWeight(e)`); finite and >= 0. */
  readonly weight: number;
}

/**
 * The JSON array text of `parts` in a weighted random order (see `weightedShuffle`): for answers
 * whose elements are rendered once and cached, so every send still gets its own order without
 * serialising again. Equal to `JSON.stringify` of the shuffled elements.
 * @throws RangeError for a negative, NaN or infinite weight.
 */
export function weightedJsonArray(parts: readonly WeightedJson[], rng: Rng): string {
  return `[${weightedShuffle(parts, (p) => p.weight, rng)
    .map((p) => p.text)
    .join(',')}]`;
}
