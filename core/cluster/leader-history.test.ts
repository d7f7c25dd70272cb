import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../testing/manual-clock.js';
import { LeaderHistory } from './leader-history.js';

describe('the leader history', () => {
  it('starts at the first leader seen and records every change, a lost leader as ""', () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 2, 3, 4, 5, 600));
    const h = new LeaderHistory(clock);
    // Before any leader: nothing to record.
    expect(h.observe(undefined, 1)).toBe(false);
    expect(h.observe('n1', 2)).toBe(true);
    // The same leader again (a role change that did not move it) is no change.
    expect(h.observe('n1', 2)).toBe(false);
    clock.advance(1500);
    expect(h.observe(undefined, 3)).toBe(true);
    expect(h.observe(undefined, 3)).toBe(false);
    clock.advance(250);
    expect(h.observe('n2', 3)).toBe(true);
    expect(h.changes()).toEqual([
      { Leader: 'n1', Term: 2, Time: '2024-01-02T03:04:05.600Z' },
      { Leader: '', Term: 3, Time: '2024-01-02T03:04:07.100Z' },
      { Leader: 'n2', Term: 3, Time: '2024-01-02T03:04:07.350Z' },
    ]);
    // A copy: changing it changes nothing kept.
    h.changes().pop();
    expect(h.changes()).toHaveLength(3);
  });

  it('keeps the last maxChanges, dropping the oldest, and refuses a bound that is not a positive integer', () => {
    const h = new LeaderHistory(new ManualClock(), 3);
    for (let term = 1; term <= 10; term++) h.observe(`n${term}`, term);
    expect(h.changes().map((c) => [c.Leader, c.Term])).toEqual([
      ['n8', 8],
      ['n9', 9],
      ['n10', 10],
    ]);
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => new LeaderHistory(new ManualClock(), bad)).toThrow(/positive integer/);
  });
});
