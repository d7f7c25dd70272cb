import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertySeed } from '../../testing/kv-arbitraries.js';
import { seededRng } from '../../testing/seeded-rng.js';
import type { Rng } from '../ports/rng.js';
import type { HealthEntry } from './queries.js';
import { healthWeight, jsonArrayBytes, shuffleByHealth, utf8, weightedJsonArray, weightedShuffle } from './shuffle.js';
import type { HealthStatus } from './types.js';

// Every statistical test below uses a fixed seed, so it replays exactly; its bounds are several
// standard deviations wide all the same, so a change of seed or of generator cannot make it flaky.

interface Item {
  readonly name: string;
  readonly weight: number;
}
const item = (name: string, weight: number): Item => ({ name, weight });
const weightOf = (i: Item): number => i.weight;

/** How often each value of `f(draw)` came up in `runs` draws, as fractions. */
function frequencies(runs: number, draw: () => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < runs; i++) {
    const k = draw();
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return new Map([...counts].map(([k, c]) => [k, c / runs]));
}

/** An Rng that counts its draws. */
function countingRng(seed: number): Rng & { draws: number } {
  const inner = seededRng(seed);
  const rng = {
    draws: 0,
    next(): number {
      rng.draws++;
      return inner.next();
    },
  };
  return rng;
}

describe('weightedShuffle', () => {
  it('puts each item first with probability proportional to its weight', () => {
    const items = [item('a', 1), item('b', 2), item('c', 3), item('d', 4)];
    const rng = seededRng(42);
    const first = frequencies(20_000, () => weightedShuffle(items, weightOf, rng)[0]?.name as string);
    // Expected 0.1, 0.2, 0.3, 0.4; one standard deviation is at most 0.0035.
    for (const { name, weight } of items) expect(Math.abs((first.get(name) ?? 0) - weight / 10)).toBeLessThan(0.02);
  });

  it('orders all items like sequential draws without replacement (every permutation of three)', () => {
    const items = [item('a', 1), item('b', 2), item('c', 3)];
    const total = 6;
    const rng = seededRng(7);
    const seen = frequencies(30_000, () =>
      weightedShuffle(items, weightOf, rng)
        .map((i) => i.name)
        .join(''),
    );
    const permutations = ['abc', 'acb', 'bac', 'bca', 'cab', 'cba'];
    expect([...seen.keys()].sort()).toEqual(permutations);
    for (const p of permutations) {
      const [x, y] = [...p].map((n) => items.find((i) => i.name === n) as Item) as [Item, Item];
      // P(x first) * P(y second | x first); the last one is forced.
      const expected = (x.weight / total) * (y.weight / (total - x.weight));
      expect(Math.abs((seen.get(p) ?? 0) - expected), p).toBeLessThan(0.015);
    }
  });

  it('orders items of equal weight uniformly, zero-weight ones after them (every permutation of three)', () => {
    const items = [item('a', 2), item('z', 0), item('b', 2), item('c', 2)];
    const rng = seededRng(13);
    const seen = frequencies(30_000, () =>
      weightedShuffle(items, weightOf, rng)
        .map((i) => i.name)
        .join(''),
    );
    const permutations = ['abcz', 'acbz', 'bacz', 'bcaz', 'cabz', 'cbaz'];
    expect([...seen.keys()].sort()).toEqual(permutations);
    // Expected 1/6 each; one standard deviation is about 0.0022.
    for (const p of permutations) expect(Math.abs((seen.get(p) ?? 0) - 1 / 6), p).toBeLessThan(0.015);
  });

  it('keeps items of weight 0 after all others, in uniformly random order', () => {
    const items = [item('z1', 0), item('a', 1), item('z2', 0), item('b', 5), item('z3', 0)];
    const rng = seededRng(11);
    const firstZero = frequencies(9_000, () => {
      const out = weightedShuffle(items, weightOf, rng);
      expect(out.slice(0, 2).every((i) => i.weight > 0)).toBe(true);
      return out[2]?.name as string;
    });
    for (const z of ['z1', 'z2', 'z3']) expect(Math.abs((firstZero.get(z) ?? 0) - 1 / 3)).toBeLessThan(0.04);
  });

  it('handles the empty list, one item and an all-zero list', () => {
    const rng = seededRng(1);
    expect(weightedShuffle([], weightOf, rng)).toEqual([]);
    expect(weightedShuffle([item('a', 0)], weightOf, rng)).toEqual([item('a', 0)]);
    const zeros = [item('a', 0), item('b', 0)];
    expect(
      weightedShuffle(zeros, weightOf, rng)
        .map((i) => i.name)
        .sort(),
    ).toEqual(['a', 'b']);
  });

  it('copes with an rng at the ends of [0, 1)', () => {
    const items = [item('a', 1), item('b', 65535), item('c', 0)];
    for (const value of [0, 1 - 2 ** -53]) {
      const out = weightedShuffle(items, weightOf, { next: () => value });
      expect(out.map((i) => i.name).sort()).toEqual(['a', 'b', 'c']);
      expect(out[2]?.name).toBe('c');
    }
  });

  it('rejects negative, NaN and infinite weights', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => weightedShuffle([item('a', 1), item('b', bad)], weightOf, seededRng(1))).toThrow(RangeError);
  });

  it('returns a permutation of its input, leaves the input alone and draws once per item (property)', () => {
    const seed = propertySeed('weightedShuffle permutation');
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 60 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (weights, rngSeed) => {
          const items = weights.map((w, i) => item(`i${i}`, w));
          const before = [...items];
          const rng = countingRng(rngSeed);
          const out = weightedShuffle(items, weightOf, rng);
          expect(items).toEqual(before);
          expect(rng.draws).toBe(items.length);
          expect([...out].sort((x, y) => x.name.localeCompare(y.name))).toEqual(
            [...items].sort((x, y) => x.name.localeCompare(y.name)),
          );
          const firstZero = out.findIndex((i) => i.weight === 0);
          if (firstZero >= 0) expect(out.slice(firstZero).every((i) => i.weight === 0)).toBe(true);
          // The same seed replays the same order.
          expect(weightedShuffle(items, weightOf, seededRng(rngSeed))).toEqual(out);
        },
      ),
      { seed, numRuns: 200 },
    );
  });
});

/**
 * The simple form of weightedShuffle: when the positive weights differ, every item with its key,
 * sorted by descending key with a stable comparator sort (the implementation ranks distinct keys
 * with a native sort instead); when they are all equal, the textbook Fisher–Yates of the positive
 * items and then of the zero-weight ones, each drawing a position among those left.
 */
function referenceShuffle<T>(items: readonly T[], weight: (item: T) => number, rng: Rng): T[] {
  const positiveWeights = new Set(items.map(weight).filter((w) => w > 0));
  if (positiveWeights.size <= 1) {
    const fisherYates = (group: T[]): T[] => {
      const left = [...group];
      const out: T[] = [];
      while (left.length > 0) {
        const k = Math.min(left.length - 1, Math.floor(rng.next() * left.length));
        // Position i takes the item at i + k; the item it displaces moves to where that one was.
        out.push(left[k] as T);
        left[k] = left[0] as T;
        left.shift();
      }
      return out;
    };
    return [
      ...fisherYates(items.filter((it) => weight(it) > 0)),
      ...fisherYates(items.filter((it) => weight(it) === 0)),
    ];
  }
  const keyed = items.map((it) => {
    const w = weight(it);
    const u = 1 - rng.next();
    return { it, zero: w === 0, key: w === 0 ? u : Math.log(u) / w };
  });
  const byKey = (a: { key: number }, b: { key: number }): number => b.key - a.key;
  return [...keyed.filter((k) => !k.zero).sort(byKey), ...keyed.filter((k) => k.zero).sort(byKey)].map((k) => k.it);
}

describe('weightedShuffle against its simple form', () => {
  it('gives the same order from the same draws, equal keys included (property)', () => {
    const seed = propertySeed('weightedShuffle reference');
    // Weights with ties, zeros and one so small its keys are -Infinity; an rng that repeats values
    // so that keys are equal.
    const weight = fc.constantFrom(0, 1, 1, 2, 3.5, 5e-324);
    const rngValues = fc.oneof(
      fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 80 }),
      fc.array(fc.constantFrom(0, 0.5, 0.75), { minLength: 1, maxLength: 5 }),
    );
    const replaying = (values: number[]): Rng => {
      let at = 0;
      return { next: () => values[at++ % values.length] as number };
    };
    fc.assert(
      fc.property(fc.array(weight, { maxLength: 80 }), rngValues, (weights, values) => {
        const items = weights.map((w, i) => item(`i${i}`, w));
        expect(weightedShuffle(items, weightOf, replaying(values))).toEqual(
          referenceShuffle(items, weightOf, replaying(values)),
        );
      }),
      { seed, numRuns: 500 },
    );
  });
});

describe('shuffleByHealth', () => {
  const entry = (name: string, statuses: HealthStatus[], passing = 1, warning = 1): HealthEntry =>
    ({
      node: { Node: name },
      service: { Service: 'web', Weights: { Passing: passing, Warning: warning } },
      checks: statuses.map((Status) => ({ Status })),
    }) as unknown as HealthEntry;

  it('weighs an entry by Weights.Passing, Weights.Warning or 0 for critical', () => {
    expect(healthWeight(entry('n', [], 7, 2))).toBe(7);
    expect(healthWeight(entry('n', ['passing', 'passing'], 7, 2))).toBe(7);
    expect(healthWeight(entry('n', ['passing', 'warning'], 7, 2))).toBe(2);
    expect(healthWeight(entry('n', ['warning', 'critical'], 7, 2))).toBe(0);
  });

  it('draws passing and warning entries by their weights and keeps critical ones last', () => {
    const entries = [
      entry('sick', ['critical'], 100, 100),
      entry('light', ['passing'], 1),
      entry('heavy', ['passing'], 3),
      entry('warn', ['warning'], 10, 4),
    ];
    const rng = seededRng(5);
    const first = frequencies(16_000, () => {
      const out = shuffleByHealth(entries, rng);
      expect(out[3]?.node.Node).toBe('sick');
      return out[0]?.node.Node as string;
    });
    // Weights 1, 3 and 4 of 8.
    expect(Math.abs((first.get('light') ?? 0) - 1 / 8)).toBeLessThan(0.02);
    expect(Math.abs((first.get('heavy') ?? 0) - 3 / 8)).toBeLessThan(0.02);
    expect(Math.abs((first.get('warn') ?? 0) - 4 / 8)).toBeLessThan(0.02);
  });
});

describe('weightedJsonArray', () => {
  it('is the JSON text of the elements in the order weightedShuffle draws', () => {
    const elements = [{ a: 1 }, { b: 'x,y' }, [3], null, 'zürich ✓'];
    const parts = elements.map((e, i) => ({ bytes: utf8(JSON.stringify(e)), weight: i }));
    const text = new TextDecoder().decode(weightedJsonArray(parts, seededRng(9)));
    const order = weightedShuffle(parts, (p) => p.weight, seededRng(9));
    const decoded = order.map((p) => JSON.parse(new TextDecoder().decode(p.bytes)) as unknown);
    expect(JSON.parse(text)).toEqual(decoded);
    expect(text).toBe(JSON.stringify(decoded));
    expect(new TextDecoder().decode(weightedJsonArray([], seededRng(1)))).toBe('[]');
    expect(new TextDecoder().decode(jsonArrayBytes([{ bytes: utf8('7') }]))).toBe('[7]');
  });
});
