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
    expect(a.counts()).toEqual({ flapping_check: 1, check_latency: 0, edge_lag: 0, write_rate: 0, error_rate: 0 });
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

  it('flags a check whose probes turn slow against its own baseline, after warm-up and two in a row', () => {
    const clock = new ManualClock();
    const a = new InsightAnalyser(clock, { latencyWarmup: 10, minLatency: 0.05, latencyConfirm: 2 });
    const probe = (seconds: number) => {
      clock.advance(1000);
      a.checkLatency('n1/web', seconds, 1000);
    };
    // Slow probes during warm-up say nothing.
    const w = new InsightAnalyser(clock, { latencyWarmup: 10 });
    for (const s of [0.01, 0.01, 0.01, 0.5, 0.5]) w.checkLatency('n1/new', s, 1000);
    expect(w.findings()).toEqual([]);
    // A steady baseline around 10 ms.
    for (let i = 0; i < 30; i++) probe(0.01 + (i % 3) * 0.001);
    expect(a.findings()).toEqual([]);
    // One slow probe is not a finding; a fast one in between resets the count.
    probe(0.4);
    probe(0.011);
    probe(0.4);
    const since = clock.now();
    expect(a.findings()).toEqual([]);
    // Slow under the floor (50 ms) is never a finding, however far from the baseline.
    const b = new InsightAnalyser(clock, { latencyWarmup: 3 });
    for (let i = 0; i < 5; i++) b.checkLatency('n1/fast', 0.001, 1000);
    b.checkLatency('n1/fast', 0.04, 1000);
    b.checkLatency('n1/fast', 0.04, 1000);
    expect(b.findings()).toEqual([]);
    // Two slow probes in a row are (since the first of them).
    probe(0.45);
    probe(0.5);
    const [f] = a.findings();
    expect(f).toMatchObject({ Kind: 'check_latency', Subject: 'n1/web', Figure: 0.5, Window: '1s' });
    expect(f?.Baseline).toBeGreaterThan(0.01);
    expect(f?.Baseline).toBeLessThan(0.1);
    expect(f?.Deviation).toBeGreaterThan(0);
    expect(f?.Since).toBe(new Date(since).toISOString());
    expect(f?.Message).toMatch(
      /^check n1\/web took 500ms on its last 3 probes \(every 1s\), against a moving average of /,
    );
    expect(a.counts().check_latency).toBe(1);
    // Back to normal: no finding; a removed check is forgotten.
    probe(0.01);
    expect(a.findings()).toEqual([]);
    a.checkRemoved('n1/web');
    probe(0.5);
    probe(0.5);
    expect(a.findings()).toEqual([]);
  });

  it('flags an edge agent whose lag rises over the whole window to the minimum, and forgets one gone', () => {
    const clock = new ManualClock();
    const a = new InsightAnalyser(clock, { bucketMs: 10_000, edgeLagSamples: 4, minEdgeLag: 100 });
    const sample = (lags: Record<string, number>) => {
      clock.advance(10_000);
      for (const [agent, lag] of Object.entries(lags)) a.edgeLag(agent, lag);
    };
    sample({ rising: 50, steady: 500, dip: 50, low: 1 });
    sample({ rising: 80, steady: 500, dip: 40, low: 2 });
    sample({ rising: 120, steady: 500, dip: 200, low: 3 });
    expect(a.findings()).toEqual([]); // three samples of four
    sample({ rising: 150, steady: 500, dip: 300, low: 4 });
    const found = a.findings();
    // steady does not grow, dip fell below where it started, low stays under the minimum.
    expect(found.map((f) => f.Subject)).toEqual(['rising']);
    expect(found[0]).toMatchObject({ Kind: 'edge_lag', Figure: 150, Baseline: 50, Window: '30s' });
    expect(found[0]?.Message).toBe(
      'edge agent rising is 150 changes behind, up from 50 over the last 30s (a finding from 100)',
    );
    // The window slides: once it starts above the newest, no finding.
    sample({ rising: 60 });
    expect(a.findings()).toEqual([]);
    sample({ rising: 200 });
    sample({ rising: 300 });
    sample({ rising: 400 });
    expect(a.findings().map((f) => f.Subject)).toEqual(['rising']);
    a.edgeGone('rising');
    expect(a.findings()).toEqual([]);
  });
});
