import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/ports/logger.js';
import { createTestNode } from '../testing/harness.js';
import { ManualClock } from '../testing/manual-clock.js';
import { seededRng } from '../testing/seeded-rng.js';
import { Outbox, translateWrite, type UpstreamTxn } from './outbox.js';
import { EdgePersistence, memoryFileStore } from './persist.js';

const enc = (s: string) => new TextEncoder().encode(s);

/** An upstream that is the in-process test server's /v1/txn, with a switch to lose answers. */
function upstreamOf(node: ReturnType<typeof createTestNode>) {
  const state = { loseAnswers: false, calls: 0, down: false };
  const upstream: UpstreamTxn = async (body, key) => {
    state.calls++;
    if (state.down) throw new TypeError('fetch failed');
    const res = await node.request('/v1/txn', { method: 'PUT', body, headers: { 'X-Konsul-Idempotency-Key': key } });
    const text = await res.text();
    // The server applied it, but the answer never reached the agent (the link dropped).
    if (state.loseAnswers) throw new TypeError('fetch failed');
    return { status: res.status, body: text, headers: res.headers };
  };
  return { state, upstream };
}

function outboxOn(persist: EdgePersistence, upstream: UpstreamTxn, max = 100) {
  return new Outbox({
    persist,
    logger: silentLogger,
    clock: new ManualClock(),
    rng: seededRng(7),
    max,
    agentId: 'agent-1',
    upstream,
  });
}

describe('edge outbox', () => {
  it('applies a write exactly once even when the first answer is lost after the server applied it', async () => {
    const node = createTestNode();
    const { state, upstream } = upstreamOf(node);
    const persist = new EdgePersistence(memoryFileStore());
    const outbox = outboxOn(persist, upstream);
    await outbox.load();
    // cas=0 (create only): a second application would fail, so "applied" proves it ran once.
    const item = await outbox.enqueue(
      'PUT',
      '/v1/kv/a?cas=0',
      translateWrite('PUT', new URL('http://x/v1/kv/a?cas=0'), enc('v1')) as never,
    );
    state.loseAnswers = true;
    await outbox.replay();
    expect(outbox.get(item.id)?.status).toBe('pending');
    const applied = (await (await node.request('/v1/kv/a')).json()) as Array<{ ModifyIndex: number }>;
    state.loseAnswers = false;
    await outbox.replay();
    const done = outbox.get(item.id);
    expect(done?.status).toBe('applied');
    expect(done?.result).toMatchObject({ status: 200, body: 'true', replayed: true, index: applied[0]?.ModifyIndex });
    expect(state.calls).toBe(2);
    const after = (await (await node.request('/v1/kv/a')).json()) as Array<{ ModifyIndex: number }>;
    expect(after[0]?.ModifyIndex).toBe(applied[0]?.ModifyIndex);
  });

  it('keeps items in order, pauses while the upstream is down, and reports conflicts and refusals', async () => {
    const node = createTestNode();
    const { state, upstream } = upstreamOf(node);
    const persist = new EdgePersistence(memoryFileStore());
    const outbox = outboxOn(persist, upstream);
    await outbox.load();
    const q = (method: string, path: string, body = '') =>
      outbox.enqueue(method, path, translateWrite(method, new URL(`http://x${path}`), enc(body)) as never);
    const first = await q('PUT', '/v1/kv/k', 'one');
    const conflict = await q('PUT', '/v1/kv/k?cas=0', 'two');
    const txn = await q('PUT', '/v1/txn', JSON.stringify([{ KV: { Verb: 'get', Key: 'missing' } }]));
    state.down = true;
    await outbox.replay();
    expect(outbox.pending).toBe(3);
    expect(state.calls).toBe(1);
    state.down = false;
    await outbox.replay();
    expect(outbox.get(first.id)?.status).toBe('applied');
    expect(outbox.get(conflict.id)).toMatchObject({ status: 'conflict', result: { status: 200, body: 'false' } });
    // A transaction's answer is the server's: a failed get is a rollback (409) with its errors.
    expect(outbox.get(txn.id)).toMatchObject({ status: 'conflict', result: { status: 409 } });
    expect(outbox.get(txn.id)?.result?.body).toMatch(/OpIndex/);
    expect(await (await node.request('/v1/kv/k?raw')).text()).toBe('one');
  });

  it('reports a write the token may not do as refused (403), not as a failed condition', async () => {
    const node = createTestNode({ acl: { enabled: true, defaultPolicy: 'deny' } });
    // The servers answer a forbidden transaction with 409 and "Permission denied" errors, as Consul.
    const upstream: UpstreamTxn = async (body) => {
      const res = await node.request('/v1/txn', { method: 'PUT', body });
      return { status: res.status, body: await res.text(), headers: res.headers };
    };
    const outbox = outboxOn(new EdgePersistence(memoryFileStore()), upstream);
    await outbox.load();
    const item = await outbox.enqueue(
      'PUT',
      '/v1/kv/k',
      translateWrite('PUT', new URL('http://x/v1/kv/k'), enc('v')) as never,
    );
    await outbox.replay();
    const done = outbox.get(item.id);
    expect(done?.status).toBe('failed');
    expect(done?.result?.status).toBe(403);
    expect(done?.result?.body).toMatch(/^Permission denied: .*key:write/);
  });

  it('refuses new writes when full, and bad writes at once', async () => {
    const node = createTestNode();
    const { upstream } = upstreamOf(node);
    const outbox = outboxOn(new EdgePersistence(memoryFileStore()), upstream, 2);
    await outbox.load();
    const w = () => translateWrite('PUT', new URL('http://x/v1/kv/k'), enc('v')) as never;
    await outbox.enqueue('PUT', '/v1/kv/k', w());
    await outbox.enqueue('PUT', '/v1/kv/k', w());
    await expect(outbox.enqueue('PUT', '/v1/kv/k', w())).rejects.toThrow(/outbox full/);
    expect(() => translateWrite('PUT', new URL('http://x/v1/kv/k?cas=x'), enc('v'))).toThrow(/cas/i);
    expect(() => translateWrite('PUT', new URL('http://x/v1/txn'), enc('{'))).toThrow(/JSON/);
    expect(translateWrite('PUT', new URL('http://x/v1/catalog/register'), enc('{}'))).toBeUndefined();
  });
});
