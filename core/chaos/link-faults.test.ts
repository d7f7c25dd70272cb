import { describe, expect, it } from 'vitest';
import { seededRng } from '../../testing/seeded-rng.js';
import { DROP, LinkFaults } from './link-faults.js';

const peers = (...names: string[]) => new Set(names);

describe('LinkFaults', () => {
  it('lets everything through without rules', () => {
    const f = new LinkFaults(seededRng(1));
    expect(f.size).toBe(0);
    expect(f.outbound('n2')).toBe(0);
    expect(f.cut('n2')).toBe(false);
  });

  it('delays messages to the named peers only, by DelayMs ± JitterMs, never below 0', () => {
    const f = new LinkFaults(seededRng(7));
    f.add('a', { peers: peers('n2'), effect: { kind: 'latency', delayMs: 200, jitterMs: 50 } });
    const delays = Array.from({ length: 2000 }, () => f.outbound('n2'));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(150);
    expect(Math.max(...delays)).toBeLessThanOrEqual(250);
    // The jitter spreads: both halves of the range are used.
    expect(delays.some((d) => d < 180)).toBe(true);
    expect(delays.some((d) => d > 220)).toBe(true);
    expect(f.outbound('n3')).toBe(0);
    // A jitter larger than the delay clamps at 0 instead of going negative.
    const g = new LinkFaults(seededRng(8));
    g.add('b', { peers: peers('n2'), effect: { kind: 'latency', delayMs: 10, jitterMs: 1000 } });
    const clamped = Array.from({ length: 500 }, () => g.outbound('n2'));
    expect(Math.min(...clamped)).toBe(0);
    expect(clamped.every((d) => d >= 0 && d <= 1010)).toBe(true);
  });

  it('drops about LossPercent of the messages, the same ones for the same seed', () => {
    const run = (seed: number) => {
      const f = new LinkFaults(seededRng(seed));
      f.add('loss', { peers: peers('n2', 'n3'), effect: { kind: 'loss', percent: 30 } });
      return Array.from({ length: 10_000 }, (_, i) => f.outbound(i % 2 === 0 ? 'n2' : 'n3') === DROP);
    };
    const first = run(42);
    const dropped = first.filter(Boolean).length;
    expect(dropped).toBeGreaterThan(2700);
    expect(dropped).toBeLessThan(3300);
    expect(run(42)).toEqual(first);
    expect(run(43)).not.toEqual(first);
  });

  it('partitions both ways and composes rules: delays add up, any drop wins, removal undoes one rule', () => {
    const f = new LinkFaults(seededRng(3));
    f.add('slow', { peers: peers('n2', 'n3'), effect: { kind: 'latency', delayMs: 100, jitterMs: 0 } });
    f.add('slower', { peers: peers('n2'), effect: { kind: 'latency', delayMs: 50, jitterMs: 0 } });
    expect(f.outbound('n2')).toBe(150);
    expect(f.outbound('n3')).toBe(100);
    f.add('cut', { peers: peers('n3'), effect: { kind: 'partition' } });
    expect(f.outbound('n3')).toBe(DROP);
    expect(f.cut('n3')).toBe(true);
    expect(f.cut('n2')).toBe(false);
    expect(f.remove('cut')).toBe(true);
    expect(f.remove('cut')).toBe(false);
    expect(f.outbound('n3')).toBe(100);
    expect(f.cut('n3')).toBe(false);
    f.clear();
    expect(f.outbound('n2')).toBe(0);
    expect(f.dropped).toBe(1);
    expect(f.delayed).toBe(3);
  });
});
