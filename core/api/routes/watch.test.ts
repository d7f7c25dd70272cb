import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertySeed } from '../../../testing/kv-arbitraries.js';
import { type SseEvent, SseReader } from '../../../testing/sse.js';
import { createTestNode, type TestNode } from '../../../testing/harness.js';

const put = (n: TestNode, path: string, body?: unknown) =>
  n.request(path, {
    method: 'PUT',
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface KvEvent {
  Index: number;
  Op: string;
  Key?: string;
  Prefix?: string;
  Entry: { Key: string; Value: string | null; ModifyIndex: number } | null;
}

async function watch(n: TestNode, path: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const r = await n.request(path, { headers });
  if (r.status !== 200) throw new Error(`watch ${path}: ${r.status} ${await r.text()}`);
  expect(r.headers.get('Content-Type')).toMatch(/^text\/event-stream/);
  return new SseReader(r);
}

const data = (e: SseEvent) => JSON.parse(e.data) as KvEvent;

describe('watch streams (/v1/watch)', () => {
  it('streams every change under a prefix as one event with its index, key, operation and entry', async () => {
    const n = createTestNode();
    const s = await watch(n, '/v1/watch/kv/app/');
    await put(n, '/v1/kv/app/a', '1');
    await put(n, '/v1/kv/other', 'x');
    await put(n, '/v1/txn', [
      { KV: { Verb: 'set', Key: 'app/b', Value: b64('2') } },
      { KV: { Verb: 'set', Key: 'other2', Value: b64('2') } },
      { KV: { Verb: 'set', Key: 'app/c', Value: b64('3') } },
    ]);
    await n.request('/v1/kv/app/a', { method: 'DELETE' });
    await n.request('/v1/kv/app/?recurse', { method: 'DELETE' });
    const events = await s.take(5);
    const d = events.map(data);
    expect(d.map((e) => [e.Op, e.Key ?? e.Prefix])).toEqual([
      ['set', 'app/a'],
      ['set', 'app/b'],
      ['set', 'app/c'],
      ['delete', 'app/a'],
      ['delete-tree', 'app/'],
    ]);
    expect(d[0]?.Entry).toMatchObject({ Key: 'app/a', Value: b64('1') });
    expect(d[3]?.Entry).toBeNull();
    // Ids are indexes; the changes of one transaction share it and are told apart by position.
    const txnIndex = d[1]?.Index as number;
    expect(d[2]?.Index).toBe(txnIndex);
    expect(events.map((e) => e.id)).toEqual([
      String(d[0]?.Index),
      `${txnIndex}:0`,
      String(txnIndex),
      String(d[3]?.Index),
      String(d[4]?.Index),
    ]);
    expect(d[0]?.Entry?.ModifyIndex).toBe(d[0]?.Index);
    await s.close();
    expect(n.feed.subscriptions).toBe(0);
  });

  it('replays exactly the changes after Last-Event-ID, for any disconnect points', async () => {
    const opArb = fc.oneof(
      fc.record({ t: fc.constant('set' as const), key: fc.constantFrom('p/a', 'p/b', 'p/c/d', 'q') }),
      fc.record({ t: fc.constant('del' as const), key: fc.constantFrom('p/a', 'p/b', 'q') }),
      fc.record({
        t: fc.constant('txn' as const),
        keys: fc.uniqueArray(fc.constantFrom('p/a', 'p/b', 'p/x', 'q'), { minLength: 1, maxLength: 4 }),
      }),
      fc.record({ t: fc.constant('tree' as const), key: fc.constantFrom('p/c/', 'q') }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 15 }),
        fc.array(fc.tuple(fc.nat(5), fc.nat(6)), { maxLength: 6 }),
        async (ops, steps) => {
          const n = createTestNode();
          let v = 0;
          const run = async (op: (typeof ops)[number]) => {
            v++;
            if (op.t === 'set') await put(n, `/v1/kv/${op.key}`, `v${v}`);
            else if (op.t === 'del') await n.request(`/v1/kv/${op.key}`, { method: 'DELETE' });
            else if (op.t === 'tree') await n.request(`/v1/kv/${op.key}?recurse`, { method: 'DELETE' });
            else
              await put(
                n,
                '/v1/txn',
                op.keys.map((k) => ({ KV: { Verb: 'set', Key: k, Value: b64(`v${v}`) } })),
              );
          };
          // Each step: the writer makes some changes, the consumer reads some events (possibly
          // stopping inside one transaction's changes), disconnects, and resumes with Last-Event-ID.
          const received: SseEvent[] = [];
          let s = await watch(n, '/v1/watch/kv/p/?index=0');
          let next = 0;
          for (const [writes, reads] of steps) {
            for (const stop = Math.min(ops.length, next + writes); next < stop; next++)
              await run(ops[next] as (typeof ops)[number]);
            for (let i = 0; i < reads; i++) {
              const e = await s.next(20);
              if (!e) break;
              received.push(e);
            }
            const last = s.lastEventId ?? '0';
            await s.close();
            s = await watch(n, '/v1/watch/kv/p/', { 'Last-Event-ID': last });
            s.lastEventId = last;
          }
          for (; next < ops.length; next++) await run(ops[next] as (typeof ops)[number]);
          for (let e = await s.next(50); e; e = await s.next(50)) received.push(e);
          await s.close();
          // The reference: one uninterrupted replay of everything.
          const all = await watch(n, '/v1/watch/kv/p/?index=0');
          const reference: SseEvent[] = [];
          for (let e = await all.next(50); e; e = await all.next(50)) reference.push(e);
          await all.close();
          expect(received.map((e) => [e.id, e.data])).toEqual(reference.map((e) => [e.id, e.data]));
          expect(received.every((e) => e.event === 'message')).toBe(true);
        },
      ),
      { seed: propertySeed('watch resume'), numRuns: 40 },
    );
  });

  it('sends resync (and ends) when the position is older than what is retained', async () => {
    const n = createTestNode({ feed: { maxEvents: 4 } });
    for (let i = 0; i < 10; i++) await put(n, `/v1/kv/k${i}`, 'x');
    const s = await watch(n, '/v1/watch/kv/', { 'Last-Event-ID': '2' });
    const e = await s.next();
    expect(e?.event).toBe('resync');
    const body = JSON.parse(e!.data) as { Reason: string; Index: number; Oldest: number };
    expect(body.Reason).toBe('too-old');
    expect(body.Index).toBe(n.feed.latest);
    expect(body.Oldest).toBeGreaterThan(2);
    expect(e?.id).toBeUndefined();
    expect(await s.next(200)).toBeUndefined();
    expect(s.done).toBe(true);
    // Resuming from the oldest retained position works.
    const ok = await watch(n, `/v1/watch/kv/?index=${body.Oldest}`);
    expect((await ok.take(4)).every((x) => x.event === 'message')).toBe(true);
    await ok.close();
  });

  it('a consumer that falls behind its buffer gets a gap-free prefix, then resync', async () => {
    const n = createTestNode({ feed: { maxEvents: 4 } });
    const s = await watch(n, '/v1/watch/kv/');
    for (let i = 0; i < 20; i++) await put(n, `/v1/kv/k${String(i).padStart(2, '0')}`, 'x');
    const got: SseEvent[] = [];
    for (let e = await s.next(200); e; e = await s.next(200)) got.push(e);
    const last = got.at(-1);
    expect(last?.event).toBe('resync');
    expect(JSON.parse(last!.data)).toMatchObject({ Reason: 'behind' });
    const keys = got.slice(0, -1).map((e) => data(e).Key);
    expect(keys).toEqual(Array.from({ length: keys.length }, (_, i) => `k${String(i).padStart(2, '0')}`));
    expect(s.done).toBe(true);
  });

  it('tells every stream to resync when a snapshot restore replaces the data', async () => {
    const n = createTestNode();
    await put(n, '/v1/kv/a', '1');
    const archive = new Uint8Array(await (await n.request('/v1/snapshot')).arrayBuffer());
    const s = await watch(n, '/v1/watch/kv/');
    await put(n, '/v1/kv/b', '2');
    expect((await n.request('/v1/snapshot', { method: 'PUT', body: archive })).status).toBe(200);
    const [change, resync] = await s.take(2);
    expect(data(change!).Key).toBe('b');
    expect(resync?.event).toBe('resync');
    expect(JSON.parse(resync!.data)).toMatchObject({ Reason: 'reset' });
  });

  it('streams service health: instances appearing, their checks changing, and leaving', async () => {
    const n = createTestNode();
    const s = await watch(n, '/v1/watch/health/web');
    const reg = (node: string, status: string) =>
      put(n, '/v1/catalog/register', {
        Node: node,
        Address: '10.0.0.1',
        Service: { ID: 'web1', Service: 'web', Port: 80 },
        Checks: [{ CheckID: 'web-http', ServiceID: 'web1', Status: status }],
      });
    await reg('n1', 'passing');
    await put(n, '/v1/catalog/register', { Node: 'n1', Address: '10.0.0.1', Service: { ID: 'db', Service: 'db' } });
    await reg('n1', 'critical');
    await put(n, '/v1/catalog/register', {
      Node: 'n1',
      Address: '10.0.0.1',
      Check: { CheckID: 'serfHealth', Status: 'passing' },
    });
    await put(n, '/v1/catalog/deregister', { Node: 'n1', ServiceID: 'web1' });
    const events = (await s.take(4)).map(
      (e) =>
        JSON.parse(e.data) as {
          Op: string;
          Node: string;
          ServiceID: string;
          Entry: { Checks: Array<{ CheckID: string; Status: string }> } | null;
        },
    );
    expect(events.map((e) => [e.Op, e.Node, e.ServiceID])).toEqual([
      ['set', 'n1', 'web1'],
      ['set', 'n1', 'web1'],
      ['set', 'n1', 'web1'],
      ['delete', 'n1', 'web1'],
    ]);
    expect(events[0]?.Entry?.Checks.map((c) => c.Status)).toEqual(['passing']);
    expect(events[1]?.Entry?.Checks.map((c) => c.Status)).toEqual(['critical']);
    expect(events[2]?.Entry?.Checks.map((c) => c.CheckID).sort()).toEqual(['serfHealth', 'web-http']);
    expect(await s.next(100)).toBeUndefined();
    await s.close();
  });

  it('refuses bad positions with 400 and too many streams with 503', async () => {
    const n = createTestNode({ feed: { maxSubscribers: 1 } });
    expect((await n.request('/v1/watch/kv/?index=abc')).status).toBe(400);
    expect((await n.request('/v1/watch/kv/', { headers: { 'Last-Event-ID': '1:x' } })).status).toBe(400);
    const s = await watch(n, '/v1/watch/kv/');
    const r = await n.request('/v1/watch/kv/');
    expect(r.status).toBe(503);
    expect(await r.text()).toMatch(/too many watch streams/);
    await s.close();
    const again = await watch(n, '/v1/watch/kv/');
    await again.close();
  });

  it('ends streams when the server shuts down', async () => {
    const n = createTestNode();
    const s = await watch(n, '/v1/watch/kv/');
    n.shutdown.abort();
    expect(await s.next(1000)).toBeUndefined();
    expect(s.done).toBe(true);
    expect(n.feed.subscriptions).toBe(0);
  });
});
