import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../testing/manual-clock.js';
import { seededRng } from '../../testing/seeded-rng.js';
import { DelayLine } from './delay-line.js';

describe('DelayLine', () => {
  it('hands items on after their delay, per peer in order even when later ones have shorter delays', () => {
    const clock = new ManualClock(0);
    const out: Array<{ peer: string; at: number; items: number[] }> = [];
    const line = new DelayLine<number>(clock, 100, (peer, items) => out.push({ peer, at: clock.now(), items }));
    line.push('n2', 1, 100);
    line.push('n2', 2, 10); // shorter delay: still after 1
    line.push('n3', 3, 50);
    expect(line.size).toBe(3);
    expect(line.holds('n2')).toBe(true);
    clock.advance(49);
    expect(out).toEqual([]);
    clock.advance(1);
    expect(out).toEqual([{ peer: 'n3', at: 50, items: [3] }]);
    clock.advance(50);
    expect(out[1]).toEqual({ peer: 'n2', at: 100, items: [1, 2] });
    expect(line.size).toBe(0);
    expect(line.holds('n2')).toBe(false);
    // Nothing held: a new item waits only its own delay.
    line.push('n2', 4, 0);
    clock.advance(0);
    expect(out[2]).toEqual({ peer: 'n2', at: 100, items: [4] });
  });

  it('keeps each peer in order under random jitter', () => {
    const clock = new ManualClock(0);
    const rng = seededRng(11);
    const got: number[] = [];
    const line = new DelayLine<number>(clock, 10_000, (_peer, items) => got.push(...items));
    for (let i = 0; i < 500; i++) {
      line.push('n2', i, Math.floor(rng.next() * 200));
      clock.advance(Math.floor(rng.next() * 3));
    }
    clock.advance(1000);
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('holds at most maxItems, dropping the oldest of the same peer first; clear() drops everything', () => {
    const clock = new ManualClock(0);
    const got: Array<[string, number[]]> = [];
    const line = new DelayLine<number>(clock, 3, (peer, items) => got.push([peer, items]));
    line.push('n2', 1, 10);
    line.push('n3', 2, 10);
    line.push('n2', 3, 10);
    line.push('n2', 4, 10); // full: n2's oldest (1) goes
    expect(line.size).toBe(3);
    expect(line.dropped).toBe(1);
    line.push('n4', 5, 10); // full, n4 holds nothing: the first lane with items gives one up
    expect(line.size).toBe(3);
    clock.advance(10);
    expect(got.map(([p, items]) => `${p}:${items.join(',')}`).sort()).toEqual(['n2:4', 'n3:2', 'n4:5'].sort());
    line.push('n2', 6, 10);
    line.clear();
    expect(line.size).toBe(0);
    expect(clock.pending).toBe(0);
    clock.advance(100);
    expect(got).toHaveLength(3);
    expect(() => new DelayLine<number>(clock, 0, () => undefined)).toThrow(RangeError);
  });
});
