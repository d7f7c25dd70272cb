import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../errors.js';
import { parseChaosSpec } from './parse.js';

/** The message parseChaosSpec refuses `body` with. */
function refusal(body: unknown): string {
  try {
    parseChaosSpec(body);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('parseChaosSpec', () => {
  it('accepts each kind with its fields', () => {
    expect(parseChaosSpec({ Kind: 'latency', DelayMs: 200, JitterMs: 50, Peers: ['n2'], DurationSeconds: 30 })).toEqual(
      { kind: 'latency', delayMs: 200, jitterMs: 50, peers: ['n2'], durationMs: 30_000 },
    );
    expect(parseChaosSpec({ Kind: 'latency', DelayMs: 1, DurationSeconds: 1 })).toEqual({
      kind: 'latency',
      delayMs: 1,
      jitterMs: 0,
      durationMs: 1000,
    });
    expect(parseChaosSpec({ Kind: 'loss', LossPercent: 100, DurationSeconds: 3600, Server: 'n1' })).toEqual({
      kind: 'loss',
      lossPercent: 100,
      durationMs: 3_600_000,
      server: 'n1',
    });
    expect(parseChaosSpec({ Kind: 'partition', Peers: ['n2', 'n3'], DurationSeconds: 5 })).toMatchObject({
      peers: ['n2', 'n3'],
    });
    expect(parseChaosSpec({ Kind: 'pause-apply', DurationSeconds: 5 })).toEqual({
      kind: 'pause-apply',
      durationMs: 5000,
    });
    expect(parseChaosSpec({ Kind: 'step-down' })).toEqual({ kind: 'step-down' });
  });

  it('refuses with a message naming the field', () => {
    expect(refusal(null)).toMatch(/JSON object/);
    expect(refusal([])).toMatch(/JSON object/);
    expect(refusal({})).toBe('Kind must be one of latency, loss, partition, pause-apply, step-down, not null');
    expect(refusal({ Kind: 'meteor' })).toMatch(/^Kind must be one of .*, not "meteor"$/);
    expect(refusal({ Kind: 'latency', DurationSeconds: 5 })).toBe('DelayMs is required for latency');
    expect(refusal({ Kind: 'latency', DelayMs: 0, DurationSeconds: 5 })).toBe(
      'DelayMs must be an integer from 1 to 10000 (milliseconds), not 0',
    );
    expect(refusal({ Kind: 'latency', DelayMs: 10_001, DurationSeconds: 5 })).toMatch(/^DelayMs must be/);
    expect(refusal({ Kind: 'latency', DelayMs: 1.5, DurationSeconds: 5 })).toMatch(/^DelayMs must be/);
    expect(refusal({ Kind: 'latency', DelayMs: '200', DurationSeconds: 5 })).toMatch(/^DelayMs must be.*"200"$/);
    expect(refusal({ Kind: 'latency', DelayMs: 5, JitterMs: -1, DurationSeconds: 5 })).toMatch(/^JitterMs must be/);
    expect(refusal({ Kind: 'latency', DelayMs: 5 })).toBe('DurationSeconds is required for latency');
    expect(refusal({ Kind: 'latency', DelayMs: 5, DurationSeconds: 0 })).toBe(
      'DurationSeconds must be an integer from 1 to 3600 (seconds), not 0',
    );
    expect(refusal({ Kind: 'pause-apply', DurationSeconds: 3601 })).toMatch(/^DurationSeconds must be/);
    expect(refusal({ Kind: 'loss', DurationSeconds: 5 })).toBe('LossPercent is required for loss');
    expect(refusal({ Kind: 'loss', LossPercent: 101, DurationSeconds: 5 })).toMatch(/^LossPercent must be .* 1 to 100/);
    expect(refusal({ Kind: 'loss', LossPercent: 5, DelayMs: 5, DurationSeconds: 5 })).toBe(
      'DelayMs applies to latency only, not to loss',
    );
    expect(refusal({ Kind: 'pause-apply', Peers: ['n2'], DurationSeconds: 5 })).toBe(
      'Peers applies to latency, loss and partition only, not to pause-apply',
    );
    expect(refusal({ Kind: 'step-down', DurationSeconds: 5 })).toBe(
      'DurationSeconds applies to latency, loss, partition and pause-apply only, not to step-down',
    );
    expect(refusal({ Kind: 'partition', Peers: [], DurationSeconds: 5 })).toMatch(/^Peers must be a list of 1 to 64/);
    expect(refusal({ Kind: 'partition', Peers: 'n2', DurationSeconds: 5 })).toMatch(/^Peers must be a list/);
    expect(refusal({ Kind: 'partition', Peers: ['n2', 'n2'], DurationSeconds: 5 })).toBe(
      'Peers must not name a server twice',
    );
    expect(refusal({ Kind: 'partition', Peers: ['bad name'], DurationSeconds: 5 })).toBe(
      `Peers must be a server's node name, not "bad name"`,
    );
    expect(refusal({ Kind: 'step-down', Server: '' })).toBe(`Server must be a server's node name, not ""`);
    expect(refusal({ Kind: 'step-down', Duration: '5s' })).toMatch(/^Unknown field "Duration" \(fields: Kind, /);
  });
});
