import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../testing/manual-clock.js';
import { InsightAnalyser } from './analyser.js';

describe('InsightAnalyser', () => {
  it('flags a check that changes status flapChanges times in the window, and forgets it after', () => {
    const clock = new ManualClock();
    const a = new InsightAnalyser(clock, { flapChanges: 4, windowMs: 60_000 });
    a.checkStatus('n1/web', 'passing');
    a.checkStatus('n2/db', 'passing');
    for (const status of ['critical', 'passing', 'critical']) {
      clock.advance(5_000);
      a.checkStatus('n1/web', status);
    }
    // The same status again is no change; another check changing once is no flapping.
    a.checkStatus('n1/web', 'critical');
    a.checkStatus('n2/db', 'warning');
    expect(a.findings()).toEqual([]);
    clock.advance(5_000);
    a.checkStatus('n1/web', 'passing');
    const [f] = a.findings();
    expect(f).toMatchObject({ Kind: 'flapping_check', Subject: 'n1/web', Figure: 4, Baseline: 4, Window: '1m0s' });
    expect(f?.Since).toBe(new Date(clock.now() - 15_000).toISOString());
    expect(f?.Message).toContain('changed status 4 times in 1m0s');
    expect(a.counts()).toEqual({ flapping_check: 1, write_rate: 0, error_rate: 0 });
    // Once the first change leaves the window, three remain: no longer flapping.
    clock.advance(46_000);
    expect(a.findings()).toEqual([]);
    a.checkRemoved('n1/web');
    a.checkStatus('n1/web', 'critical');
    expect(a.findings()).toEqual([]);
  });

  it('flags a write rate far above its own moving baseline, and not during warm-up or at low rates', () => {
    const clock = new ManualClock();
    const a = new InsightAnalyser(clock, { bucketMs: 10_000, warmupBuckets: 6, k: 4, minRate: 5 });
    const bucket = (writes: number) => {
      a.writes(writes);
      clock.advance(10_000);
      a.tick();
    };
    // A burst during warm-up is not judged.
    bucket(5000);
    for (let i = 0; i < 60; i++) bucket(200 + (i % 3) * 10); // about 20 writes/s
    expect(a.findings()).toEqual([]);
    bucket(210);
    bucket(3000); // 300 writes/s
    const [f] = a.findings();
    expect(f).toMatchObject({ Kind: 'write_rate', Subject: 'writes', Figure: 300, Window: '10s' });
    expect(f?.Baseline).toBeGreaterThan(15);
    expect(f?.Baseline).toBeLessThan(25);
    expect(f?.Message).toContain('writes ran at 300/s over the last 10s');
    // Back to normal: the finding ends.
    bucket(200);
    expect(a.findings()).toEqual([]);
    // Errors from none to a few per second stay under minRate.
    for (let i = 0; i < 10; i++) {
      a.errors(30);
      clock.advance(10_000);
      a.tick();
    }
    expect(a.findings()).toEqual([]);
  });
});
