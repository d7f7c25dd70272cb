import { afterEach, describe, expect, it } from 'vitest';
import { LinkFaults } from '../core/chaos/link-faults.js';
import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { silentLogger } from '../core/ports/logger.js';
import type { Message } from '../core/raft/types.js';
import { systemClock } from '../runtimes/node/clock.js';
import { seededRng } from '../testing/seeded-rng.js';
import { ForwardCancel, RaftTransport } from './transport.js';

const hp = createTsHotPaths();
const open: RaftTransport[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

/** A transport named `name` on a free loopback port; what arrives is pushed to `got`. */
async function transport(name: string, got: Message[] = []): Promise<RaftTransport> {
  const t = new RaftTransport({
    self: { name, raftAddr: '', httpAddr: '' },
    host: '127.0.0.1',
    port: 0,
    hp,
    logger: silentLogger,
    maxQueueMessages: 1024,
    onMessage: (m) => got.push(m),
    onControl: async () => ({ type: 'result', ok: true }),
    onForward: async () => ({ status: 200, headers: [], body: new Uint8Array() }),
  });
  open.push(t);
  const raftAddr = await t.listen();
  t.setSelf({ name, raftAddr, httpAddr: '' });
  return t;
}

/** A heartbeat numbered by its commit field. */
const beat = (from: string, to: string, n: number): Message => ({ type: 'heartbeat', from, to, term: 1, commit: n });

/** Resolves once `done()` holds; throws after `ms`. */
async function until(done: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Two connected transports, a with chaos attached, and what each received. */
async function pair() {
  const toA: Message[] = [];
  const toB: Message[] = [];
  const a = await transport('a', toA);
  const b = await transport('b', toB);
  a.setAddress('b', b.options.self.raftAddr);
  b.setAddress('a', a.options.self.raftAddr);
  const faults = new LinkFaults(seededRng(1));
  a.attachChaos(faults, systemClock());
  // Both directions connected before faults go in.
  a.send([beat('a', 'b', 0)]);
  b.send([beat('b', 'a', 0)]);
  await until(() => toA.length > 0 && toB.length > 0);
  toA.length = 0;
  toB.length = 0;
  return { a, b, toA, toB, faults };
}

describe('RaftTransport with chaos faults', () => {
  it('delays messages to a peer by at least DelayMs and keeps their order under jitter', async () => {
    const { a, toB, faults } = await pair();
    faults.add('lat', { peers: new Set(['b']), effect: { kind: 'latency', delayMs: 150, jitterMs: 100 } });
    const sentAt = Date.now();
    for (let i = 1; i <= 50; i++) a.send([beat('a', 'b', i)]);
    await until(() => toB.length === 50);
    // Each waited at least DelayMs - JitterMs (a generous lower bound; no upper one).
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(45);
    expect(toB.map((m) => m.commit)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // The rule gone, messages go at once again, still behind none.
    faults.remove('lat');
    a.send([beat('a', 'b', 51)]);
    await until(() => toB.length === 51);
    expect(faults.delayed).toBe(50);
  });

  it('drops LossPercent of the messages to a peer', async () => {
    const { a, toB, faults } = await pair();
    faults.add('loss', { peers: new Set(['b']), effect: { kind: 'loss', percent: 50 } });
    for (let i = 1; i <= 400; i++) a.send([beat('a', 'b', i)]);
    faults.remove('loss');
    a.send([beat('a', 'b', 999)]);
    await until(() => toB.some((m) => m.commit === 999));
    const arrived = toB.length - 1;
    expect(arrived).toBeGreaterThan(100);
    expect(arrived).toBeLessThan(300);
    expect(arrived + faults.dropped).toBe(400);
  });

  it('partitions both ways, forwarded requests included, and composes with the test-faults block list', async () => {
    const { a, b, toA, toB, faults } = await pair();
    // Absence can only be seen by waiting: long enough for loopback delivery, many times over.
    const settle = () => new Promise((r) => setTimeout(r, 150));
    faults.add('cut', { peers: new Set(['b']), effect: { kind: 'partition' } });
    a.send([beat('a', 'b', 1)]);
    b.send([beat('b', 'a', 1)]);
    await expect(a.forward('b', { method: 'PUT', path: '/x', headers: [] }, new ForwardCancel())).rejects.toMatchObject(
      { sent: false },
    );
    await settle();
    expect([toA, toB]).toEqual([[], []]);
    // Healing the test-faults block list does not heal the chaos partition…
    a.blocked.add('b');
    a.blocked.clear();
    a.send([beat('a', 'b', 2)]);
    b.send([beat('b', 'a', 2)]);
    await settle();
    expect([toA, toB]).toEqual([[], []]);
    // …and a block stays when the chaos rule goes.
    a.blocked.add('b');
    faults.remove('cut');
    a.send([beat('a', 'b', 3)]);
    b.send([beat('b', 'a', 3)]);
    await settle();
    expect([toA, toB]).toEqual([[], []]);
    a.blocked.clear();
    a.send([beat('a', 'b', 4)]);
    b.send([beat('b', 'a', 4)]);
    await until(() => toA.length > 0 && toB.length > 0);
    expect(toB.map((m) => m.commit)).toEqual([4]);
    expect(toA.map((m) => m.commit)).toEqual([4]);
  });
});
