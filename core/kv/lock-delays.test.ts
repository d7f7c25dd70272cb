import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../testing/manual-clock.js';
import { LOCK_DELAY_TABLE } from './ops.js';
import { KV_TABLE } from './types.js';
import { LocalLockDelays } from './lock-delays.js';

const started = (key: string, ms: number, index = 1) => ({
  index,
  change: { table: LOCK_DELAY_TABLE, key, entry: { ms } },
});

describe('LocalLockDelays', () => {
  it('starts each delay when the invalidation is applied here, by this clock, and ends it after its length', () => {
    const clock = new ManualClock();
    const d = new LocalLockDelays(clock);
    clock.advance(5000);
    d.applied([started('a', 1000), { index: 1, change: { table: KV_TABLE, key: 'b', entry: null } }]);
    expect(d.inDelay('a')).toBe(true);
    expect(d.inDelay('b')).toBe(false);
    clock.advance(999);
    expect(d.inDelay('a')).toBe(true);
    clock.advance(1);
    expect(d.inDelay('a')).toBe(false);
    expect(d.size()).toBe(0);
    // A new invalidation of the same key starts a new delay.
    d.applied([started('a', 500, 2)]);
    expect(d.inDelay('a')).toBe(true);
  });

  it('keeps at most its bound, dropping the delays that started first', () => {
    const clock = new ManualClock();
    const d = new LocalLockDelays(clock, 2);
    d.applied([started('a', 60_000), started('b', 60_000), started('c', 60_000)]);
    expect(d.size()).toBe(2);
    expect([d.inDelay('a'), d.inDelay('b'), d.inDelay('c')]).toEqual([false, true, true]);
  });
});
