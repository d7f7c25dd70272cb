import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../testing/manual-clock.js';
import { seededRng } from '../../testing/seeded-rng.js';
import { ConflictError, LimitReachedError, NotFoundError, ShuttingDownError } from '../errors.js';
import { silentLogger } from '../ports/logger.js';
import { ChaosController, type ChaosEffects } from './controller.js';
import { DROP, LinkFaults } from './link-faults.js';
import type { ChaosEvent } from './types.js';

/** A controller for n1 of n1..n3 on a manual clock, with what its effects saw. */
function setup(o: { leader?: boolean; maxActive?: number } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const links = new LinkFaults(seededRng(5));
  const paused: boolean[] = [];
  const events: ChaosEvent[] = [];
  const effects: ChaosEffects = {
    peers: () => ['n2', 'n3'],
    links,
    pauseApply: (p) => paused.push(p),
    stepDown: async () => {
      if (!o.leader) throw new ConflictError('step-down: n1 is not the leader');
      return 'n2';
    },
  };
  const c = new ChaosController({
    self: 'n1',
    clock,
    rng: seededRng(9),
    logger: silentLogger,
    effects,
    onEvent: (e) => events.push(e),
    ...(o.maxActive !== undefined
      ? {
          limits: {
            maxActive: o.maxActive,
            maxPeers: 64,
            maxDelayMs: 10_000,
            maxJitterMs: 10_000,
            maxDurationSeconds: 3600,
            maxBodyBytes: 16_384,
          },
        }
      : {}),
  });
  return { c, clock, links, paused, events };
}

const by = { source: '10.0.0.9', accessor: 'acc-1' };

describe('ChaosController', () => {
  it('starts a partition on every peer by default, lists it, and rolls it back after its duration', async () => {
    const { c, clock, links, events } = setup();
    const x = await c.start({ kind: 'partition', durationMs: 30_000 }, by);
    expect(x).toMatchObject({
      Kind: 'partition',
      Server: 'n1',
      Peers: ['n2', 'n3'],
      Started: '2026-01-01T00:00:00.000Z',
      Ends: '2026-01-01T00:00:30.000Z',
    });
    expect(x.ID).toMatch(/^[0-9a-f-]{36}$/);
    expect(c.list()).toEqual([x]);
    expect(links.outbound('n2')).toBe(DROP);
    expect(links.cut('n3')).toBe(true);
    clock.advance(29_999);
    expect(c.list()).toHaveLength(1);
    clock.advance(1);
    expect(c.list()).toEqual([]);
    expect(links.size).toBe(0);
    expect(links.outbound('n2')).toBe(0);
    expect(events.map((e) => [e.action, e.reason, e.by?.accessor])).toEqual([
      ['start', undefined, 'acc-1'],
      ['end', 'expired', undefined],
    ]);
    expect(events[1]?.time).toBe(Date.UTC(2026, 0, 1, 0, 0, 30));
  });

  it('checks named peers against the configuration', async () => {
    const { c } = setup();
    await expect(c.start({ kind: 'loss', lossPercent: 10, peers: ['n9'], durationMs: 1000 }, by)).rejects.toThrow(
      'Peers: n9 is not a server of the Raft configuration (peers of n1: n2, n3)',
    );
    await expect(c.start({ kind: 'loss', lossPercent: 10, peers: ['n1'], durationMs: 1000 }, by)).rejects.toThrow(
      'Peers: n1 is this server; name the other servers',
    );
    await expect(c.start({ kind: 'pause-apply', server: 'n2', durationMs: 1000 }, by)).rejects.toThrow(
      'Server n2 is not this server (n1)',
    );
    const x = await c.start({ kind: 'latency', delayMs: 200, jitterMs: 0, peers: ['n3'], durationMs: 1000 }, by);
    expect(x).toMatchObject({ Peers: ['n3'], DelayMs: 200, JitterMs: 0 });
    expect(x).not.toHaveProperty('LossPercent');
  });

  it('pauses the apply loop while any pause-apply experiment runs', async () => {
    const { c, clock, paused } = setup();
    await c.start({ kind: 'pause-apply', durationMs: 10_000 }, by);
    const second = await c.start({ kind: 'pause-apply', durationMs: 20_000 }, by);
    expect(paused).toEqual([true]);
    clock.advance(10_000);
    expect(paused).toEqual([true]);
    c.stopOne(second.ID, by);
    expect(paused).toEqual([true, false]);
  });

  it('stops one early (404 for an unknown one), and all of them when the server stops', async () => {
    const { c, links, events, paused } = setup();
    const x = await c.start({ kind: 'partition', peers: ['n2'], durationMs: 60_000 }, by);
    expect(c.stopOne(x.ID, by)).toEqual(x);
    expect(() => c.stopOne(x.ID, by)).toThrow(NotFoundError);
    await c.start({ kind: 'loss', lossPercent: 50, durationMs: 60_000 }, by);
    await c.start({ kind: 'pause-apply', durationMs: 60_000 }, by);
    c.stop();
    expect(c.list()).toEqual([]);
    expect(links.size).toBe(0);
    expect(paused).toEqual([true, false]);
    expect(events.filter((e) => e.action === 'end').map((e) => e.reason)).toEqual(['stopped', 'shutdown', 'shutdown']);
    await expect(c.start({ kind: 'pause-apply', durationMs: 1000 }, by)).rejects.toThrow(ShuttingDownError);
    c.stop();
  });

  it('refuses more than maxActive at once (429, Retry-After until the first one ends)', async () => {
    const { c, clock } = setup({ maxActive: 2 });
    await c.start({ kind: 'pause-apply', durationMs: 90_000 }, by);
    clock.advance(5_000);
    await c.start({ kind: 'pause-apply', durationMs: 300_000 }, by);
    const refused = await c.start({ kind: 'pause-apply', durationMs: 1000 }, by).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LimitReachedError);
    expect(refused).toMatchObject({ code: 'limit_reached', retryAfterSeconds: 85 });
    clock.advance(85_000);
    await expect(c.start({ kind: 'pause-apply', durationMs: 1000 }, by)).resolves.toMatchObject({
      Kind: 'pause-apply',
    });
  });

  it('steps down at once when leading (never listed; audited start and end), 409 otherwise', async () => {
    const led = setup({ leader: true });
    const x = await led.c.start({ kind: 'step-down' }, by);
    expect(x).toMatchObject({ Kind: 'step-down', Server: 'n1', Peers: [], Leader: 'n2' });
    expect(led.c.list()).toEqual([]);
    expect(led.events.map((e) => [e.action, e.reason])).toEqual([
      ['start', undefined],
      ['end', 'completed'],
    ]);
    const follower = setup();
    await expect(follower.c.start({ kind: 'step-down' }, by)).rejects.toThrow(ConflictError);
    expect(follower.events).toEqual([]);
  });
});
