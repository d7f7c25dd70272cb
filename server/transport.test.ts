import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES } from '../core/hotpaths/frame.js';
import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { createLogger } from '../core/log/logger.js';
import {
  ForwardCancel,
  type ForwardedAnswer,
  type ForwardedRequest,
  ForwardFailedError,
  RaftTransport,
  type TransportOptions,
} from './transport.js';

const hp = createTsHotPaths();
const logger = createLogger({
  level: 'error',
  format: 'text',
  clock: { now: () => Date.now() },
  write: () => undefined,
});
const open: RaftTransport[] = [];

afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

/** A transport on a free loopback port; `onForward` answers what peers forward to it. */
async function transport(name: string, extra: Partial<TransportOptions> = {}): Promise<RaftTransport> {
  const t = new RaftTransport({
    self: { name, raftAddr: '', httpAddr: '' },
    host: '127.0.0.1',
    port: 0,
    hp,
    logger,
    maxQueueMessages: 16,
    joinToken: 'shared secret',
    onMessage: () => undefined,
    onControl: async () => ({ type: 'result', ok: true }),
    ...extra,
  });
  open.push(t);
  const raftAddr = await t.listen();
  t.setSelf({ name, raftAddr, httpAddr: '' });
  return t;
}

/** Forwards `r` from `from` to `to`, retrying while the connection is still being made. */
async function forwardWhenConnected(
  from: RaftTransport,
  to: string,
  r: ForwardedRequest,
  signal = new ForwardCancel(),
): Promise<ForwardedAnswer> {
  for (let i = 0; ; i++) {
    try {
      return await from.forward(to, r, signal);
    } catch (err) {
      if (!(err instanceof ForwardFailedError) || err.sent || i > 100) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

const text = (a: ForwardedAnswer) => new TextDecoder().decode(a.body);

/** Resolves once `done()` holds (checked every few milliseconds). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('RaftTransport forwarding', () => {
  it('carries a request to the peer and its answer back, headers and body intact', async () => {
    const seen: Array<{ from: string; remote: string; r: ForwardedRequest }> = [];
    const leader = await transport('leader', {
      onForward: async (from, remote, r) => {
        seen.push({ from, remote, r });
        return { status: 201, headers: [['x-consul-index', '42']], body: new TextEncoder().encode('true') };
      },
    });
    const follower = await transport('follower');
    follower.setAddress('leader', leader.options.self.raftAddr);
    const body = new Uint8Array(300_000).map((_, i) => i % 251);
    const a = await forwardWhenConnected(follower, 'leader', {
      method: 'PUT',
      path: '/v1/kv/a%2Fb?cas=0',
      headers: [['x-consul-token', 'abc']],
      body,
    });
    expect(a.status).toBe(201);
    expect(a.headers).toEqual([['x-consul-index', '42']]);
    expect(text(a)).toBe('true');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.from).toBe('follower');
    expect(seen[0]?.remote).toMatch(/127\.0\.0\.1/);
    expect(seen[0]?.r.path).toBe('/v1/kv/a%2Fb?cas=0');
    expect(new Uint8Array(seen[0]!.r.body!)).toEqual(body);
    // Many at once, answered out of order, each to its own caller.
    const many = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        follower.forward('leader', { method: 'PUT', path: `/v1/kv/k${i}`, headers: [] }, new ForwardCancel()),
      ),
    );
    expect(many.map((m) => m.status)).toEqual(Array(50).fill(201));
  });

  it('refuses unsent what it cannot send: unknown or blocked peer, no connection yet, too many waiting', async () => {
    const answers: Array<() => void> = [];
    const leader = await transport('leader', {
      onForward: (_f, _r, r) =>
        new Promise((resolve) =>
          answers.push(() => resolve({ status: 200, headers: [], body: new TextEncoder().encode(r.path) })),
        ),
    });
    const follower = await transport('follower', { maxForwards: 2 });
    const signal = new ForwardCancel();
    const r = { method: 'PUT', path: '/x', headers: [] };
    await expect(follower.forward('nobody', r, signal)).rejects.toMatchObject({ sent: false });
    follower.setAddress('leader', leader.options.self.raftAddr);
    // The first call finds no connection (and starts one).
    await expect(follower.forward('leader', r, signal)).rejects.toMatchObject({ sent: false });
    const first = forwardWhenConnected(follower, 'leader', { ...r, path: '/1' });
    // Connected once the leader has the first one.
    await until(() => answers.length === 1);
    const second = follower.forward('leader', { ...r, path: '/2' }, signal);
    await expect(follower.forward('leader', r, signal)).rejects.toThrow(/too many requests waiting/);
    await until(() => answers.length === 2);
    for (const go of answers.splice(0)) go();
    expect([text(await first), text(await second)]).toEqual(['/1', '/2']);
    follower.blocked.add('leader');
    await expect(follower.forward('leader', r, signal)).rejects.toMatchObject({ sent: false });
  });

  it('fails a sent request as sent when the connection closes or the caller gives up first', async () => {
    let arrived = 0;
    const leader = await transport('leader', {
      onForward: () => {
        arrived++;
        return new Promise(() => undefined);
      },
    });
    const follower = await transport('follower');
    follower.setAddress('leader', leader.options.self.raftAddr);
    const giveUp = new ForwardCancel();
    // It waits forever on the leader; the caller gives up once the leader has it.
    const pending = forwardWhenConnected(follower, 'leader', { method: 'PUT', path: '/slow', headers: [] }, giveUp);
    await until(() => arrived === 1);
    giveUp.abort();
    await expect(pending).rejects.toMatchObject({
      sent: true,
      message: expect.stringMatching(/did not answer in time/),
    });
    const second = follower.forward('leader', { method: 'PUT', path: '/slow', headers: [] }, new ForwardCancel());
    await leader.close();
    await expect(second).rejects.toMatchObject({
      sent: true,
      message: expect.stringMatching(/closed before it answered/),
    });
  });

  it('answers 500 while it cannot run forwarded requests, and runs none from an unauthenticated peer', async () => {
    const leader = await transport('leader');
    const follower = await transport('follower');
    follower.setAddress('leader', leader.options.self.raftAddr);
    const a = await forwardWhenConnected(follower, 'leader', { method: 'PUT', path: '/x', headers: [] });
    expect(a.status).toBe(500);
    expect(text(a)).toMatch(/^No cluster leader: the server is starting; the request was not applied/);
    // A connection that has not said hello with the join token gets nothing run, and is closed.
    let ran = false;
    const guarded = await transport('guarded', {
      onForward: async () => {
        ran = true;
        return { status: 200, headers: [], body: new Uint8Array() };
      },
    });
    const [host, port] = guarded.options.self.raftAddr.split(':');
    const s = net.connect({ host, port: Number(port) });
    const closed = new Promise((resolve) => s.once('close', resolve));
    s.on('error', () => undefined);
    const { encode } = await import('@msgpack/msgpack');
    const body = encode({ i: 1, m: 'PUT', p: '/x', h: [] });
    const f = hp.frameBuffer(FRAME_HEADER_BYTES + body.length);
    f.bytes.set(body, FRAME_HEADER_BYTES);
    s.write(hp.sealFrame(f, 4, body.length));
    await closed;
    expect(ran).toBe(false);
  });
});
