import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../testing/harness.js';

async function put(node: TestNode, path: string, body: BodyInit | null = 'v'): Promise<Response> {
  return node.request(path, { method: 'PUT', body });
}

async function json(res: Response): Promise<unknown> {
  return JSON.parse(await res.text());
}

/** Lets the committer's microtasks and store writes run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('KV API: reads and writes', () => {
  it('answers 404 with an index for a missing key, never index 0', async () => {
    const node = createTestNode();
    const res = await node.request('/v1/kv/missing');
    expect(res.status).toBe(404);
    expect(res.headers.get('X-Consul-Index')).toBe('1');
    expect(res.headers.get('X-Consul-KnownLeader')).toBe('true');
    expect(res.headers.get('X-Consul-LastContact')).toBe('0');
  });

  it('PUT answers true and GET returns Consul DirEntry JSON with base64 value', async () => {
    const node = createTestNode();
    const res = await put(node, '/v1/kv/app/config', 'hello');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('true');
    const got = await node.request('/v1/kv/app/config');
    expect(got.status).toBe(200);
    expect(got.headers.get('Content-Type')).toBe('application/json');
    expect(await json(got)).toEqual([
      { LockIndex: 0, Key: 'app/config', Flags: 0, Value: 'aGVsbG8=', CreateIndex: 1, ModifyIndex: 1 },
    ]);
    expect(got.headers.get('X-Consul-Index')).toBe('1');
  });

  it('keeps CreateIndex and raises ModifyIndex on update; identical writes change nothing', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/k', 'a');
    await put(node, '/v1/kv/k', 'b');
    await put(node, '/v1/kv/k', 'b');
    const [e] = (await json(await node.request('/v1/kv/k'))) as Array<Record<string, unknown>>;
    expect(e).toMatchObject({ CreateIndex: 1, ModifyIndex: 2, Value: 'Yg==' });
  });

  it('round-trips every byte value exactly, raw and base64', async () => {
    const node = createTestNode();
    const bytes = new Uint8Array(512);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 255;
    await put(node, '/v1/kv/bin', bytes);
    const raw = await node.request('/v1/kv/bin?raw');
    expect(raw.headers.get('Content-Type')).toBe('text/plain');
    expect(raw.headers.get('X-Content-Type-Options')).toBe('nosniff');
    expect(new Uint8Array(await raw.arrayBuffer())).toEqual(bytes);
    const [e] = (await json(await node.request('/v1/kv/bin'))) as Array<{ Value: string }>;
    expect(new Uint8Array(Buffer.from(e!.Value, 'base64'))).toEqual(bytes);
  });

  it('stores an empty value as null', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/empty', null);
    const [e] = (await json(await node.request('/v1/kv/empty'))) as Array<{ Value: unknown }>;
    expect(e!.Value).toBeNull();
    const raw = await node.request('/v1/kv/empty?raw');
    expect((await raw.arrayBuffer()).byteLength).toBe(0);
  });

  it('percent-decodes keys, including unicode and encoded slashes', async () => {
    const node = createTestNode();
    await put(node, `/v1/kv/${encodeURIComponent('caf\u00e9/\u{1F600} x')}`, 'u');
    const keys = (await json(await node.request('/v1/kv/?keys'))) as string[];
    expect(keys).toEqual(['caf\u00e9/\u{1F600} x']);
  });

  it('keeps flags as exact unsigned 64-bit integers', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/f?flags=18446744073709551615', 'x');
    const text = await (await node.request('/v1/kv/f')).text();
    expect(text).toContain('"Flags":18446744073709551615');
    await put(node, '/v1/kv/g?flags=42', 'x');
    expect(await json(await node.request('/v1/kv/g'))).toMatchObject([{ Flags: 42 }]);
  });

  it('lists recursively in key order, 404 when nothing matches', async () => {
    const node = createTestNode();
    for (const k of ['b/2', 'a/1', 'b/1', 'c']) await put(node, `/v1/kv/${k}`, k);
    const list = (await json(await node.request('/v1/kv/b?recurse'))) as Array<{ Key: string }>;
    expect(list.map((e) => e.Key)).toEqual(['b/1', 'b/2']);
    const all = (await json(await node.request('/v1/kv/?recurse'))) as Array<{ Key: string }>;
    expect(all.map((e) => e.Key)).toEqual(['a/1', 'b/1', 'b/2', 'c']);
    expect((await node.request('/v1/kv/zzz?recurse')).status).toBe(404);
  });

  it('lists keys with and without a separator (both spellings)', async () => {
    const node = createTestNode();
    for (const k of ['web/a', 'web/b/c', 'web/b/d', 'web/e/', 'webx', 'db/1']) await put(node, `/v1/kv/${k}`, '1');
    expect(await json(await node.request('/v1/kv/web?keys'))).toEqual([
      'web/a',
      'web/b/c',
      'web/b/d',
      'web/e/',
      'webx',
    ]);
    expect(await json(await node.request('/v1/kv/web/?keys&separator=/'))).toEqual(['web/a', 'web/b/', 'web/e/']);
    expect(await json(await node.request('/v1/kv/?keys&seperator=/'))).toEqual(['db/', 'web/', 'webx']);
    expect((await node.request('/v1/kv/nothing?keys')).status).toBe(404);
  });

  it('answers an empty list (not 404) for keys at the root of an empty store', async () => {
    const node = createTestNode();
    const res = await node.request('/v1/kv/?keys');
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual([]);
  });
});

describe('KV API: check-and-set and deletes', () => {
  it('cas=0 creates only when absent', async () => {
    const node = createTestNode();
    expect(await (await put(node, '/v1/kv/c?cas=0', 'first')).text()).toBe('true');
    expect(await (await put(node, '/v1/kv/c?cas=0', 'second')).text()).toBe('false');
    expect(await (await node.request('/v1/kv/c?raw')).text()).toBe('first');
  });

  it('cas=N writes only when ModifyIndex is N', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/c', 'v1');
    await put(node, '/v1/kv/other', 'x');
    expect(await (await put(node, '/v1/kv/c?cas=2', 'bad')).text()).toBe('false');
    expect(await (await put(node, '/v1/kv/c?cas=1', 'v2')).text()).toBe('true');
    expect(await (await put(node, '/v1/kv/absent?cas=5', 'x')).text()).toBe('false');
    expect(await (await node.request('/v1/kv/c?raw')).text()).toBe('v2');
  });

  it('DELETE removes a key and answers true even when absent', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/d', 'x');
    expect(await (await node.request('/v1/kv/d', { method: 'DELETE' })).text()).toBe('true');
    expect((await node.request('/v1/kv/d')).status).toBe(404);
    expect(await (await node.request('/v1/kv/d', { method: 'DELETE' })).text()).toBe('true');
  });

  it('DELETE ?cas deletes only at the matching index', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/d', 'x');
    expect(await (await node.request('/v1/kv/d?cas=7', { method: 'DELETE' })).text()).toBe('false');
    expect((await node.request('/v1/kv/d')).status).toBe(200);
    expect(await (await node.request('/v1/kv/d?cas=1', { method: 'DELETE' })).text()).toBe('true');
    expect((await node.request('/v1/kv/d')).status).toBe(404);
  });

  it('DELETE ?recurse removes a subtree and nothing else', async () => {
    const node = createTestNode();
    for (const k of ['t/a', 't/b/c', 'tx', 'u']) await put(node, `/v1/kv/${k}`, '1');
    expect(await (await node.request('/v1/kv/t/?recurse', { method: 'DELETE' })).text()).toBe('true');
    expect(await json(await node.request('/v1/kv/?keys'))).toEqual(['tx', 'u']);
    await node.request('/v1/kv/?recurse', { method: 'DELETE' });
    expect(await json(await node.request('/v1/kv/?keys'))).toEqual([]);
  });

  it('list index never goes backwards after deletes (tombstones)', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/p/a', '1');
    await put(node, '/v1/kv/p/b', '1');
    const before = Number((await node.request('/v1/kv/p/?recurse')).headers.get('X-Consul-Index'));
    await node.request('/v1/kv/p/b', { method: 'DELETE' });
    const after = Number((await node.request('/v1/kv/p/?recurse')).headers.get('X-Consul-Index'));
    expect(after).toBeGreaterThan(before);
  });
});

describe('KV API: bad input', () => {
  const cases: Array<[string, string, RequestInit | undefined, number, RegExp]> = [
    ['missing key on GET', '/v1/kv/', undefined, 400, /Missing key name/],
    ['missing key on PUT', '/v1/kv/', { method: 'PUT', body: 'x' }, 400, /Missing key name/],
    ['missing key on DELETE', '/v1/kv/', { method: 'DELETE' }, 400, /Missing key name/],
    ['bad cas', '/v1/kv/a?cas=abc', { method: 'PUT', body: 'x' }, 400, /Invalid cas index/],
    ['negative cas', '/v1/kv/a?cas=-1', { method: 'PUT', body: 'x' }, 400, /Invalid cas index/],
    ['bad delete cas', '/v1/kv/a?cas=1.5', { method: 'DELETE' }, 400, /Invalid cas index/],
    ['bad flags', '/v1/kv/a?flags=x', { method: 'PUT', body: 'x' }, 400, /Invalid flags/],
    ['flags over 2^64', '/v1/kv/a?flags=18446744073709551616', { method: 'PUT', body: 'x' }, 400, /Invalid flags/],
    ['bad index', '/v1/kv/a?index=abc', undefined, 400, /Invalid index/],
    ['bad wait', '/v1/kv/a?index=1&wait=forever', undefined, 400, /Invalid wait time/],
    ['stale and consistent', '/v1/kv/a?stale&consistent', undefined, 400, /conflicting/],
    ['cas with acquire', '/v1/kv/a?cas=0&acquire=x', { method: 'PUT', body: 'x' }, 400, /Conflicting flags/],
    ['recurse with cas', '/v1/kv/a?recurse&cas=1', { method: 'DELETE' }, 400, /Conflicting flags/],
    ['bad percent-encoding', '/v1/kv/%E0%A4%A', undefined, 400, /percent-encoding/],
    ['too long key', `/v1/kv/${'k'.repeat(1025)}`, { method: 'PUT', body: 'x' }, 400, /Key too long/],
    ['unknown datacenter', '/v1/kv/a?dc=elsewhere', undefined, 500, /No path to datacenter/],
    ['method', '/v1/kv/a', { method: 'POST', body: 'x' }, 405, /not allowed/],
  ];
  for (const [name, path, init, status, message] of cases) {
    it(`${name}: ${status}`, async () => {
      const node = createTestNode();
      const res = await node.request(path, init);
      expect(res.status).toBe(status);
      expect(await res.text()).toMatch(message);
      expect(res.headers.get('Content-Type')).toMatch(/^text\/plain/);
    });
  }

  it('405 names the allowed methods', async () => {
    const res = await createTestNode().request('/v1/kv/a', { method: 'PATCH', body: 'x' });
    expect(res.headers.get('Allow')).toBe('GET, PUT, DELETE');
  });

  it('refuses values over the limit with 413, declared or streamed, and stores nothing', async () => {
    const node = createTestNode({ limits: { kvMaxValueBytes: 1024 } });
    expect((await put(node, '/v1/kv/ok', new Uint8Array(1024))).status).toBe(200);
    const declared = await put(node, '/v1/kv/big', new Uint8Array(1025));
    expect(declared.status).toBe(413);
    expect(await declared.text()).toMatch(/^Request body\(1025 bytes\) too large, max size: 1024 bytes/);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array(300));
        c.close();
      },
    });
    const streamed = await node.request('/v1/kv/big', { method: 'PUT', body: stream, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await node.request('/v1/kv/big')).status).toBe(404);
  });

  it('accepts values of exactly 512 KiB by default', async () => {
    const node = createTestNode();
    expect((await put(node, '/v1/kv/max', new Uint8Array(512 * 1024))).status).toBe(200);
    expect((await put(node, '/v1/kv/max', new Uint8Array(512 * 1024 + 1))).status).toBe(413);
  });

  it('refuses to acquire for an unknown session (500, as Consul) or with an empty session (400)', async () => {
    const node = createTestNode();
    const res = await put(node, '/v1/kv/l?acquire=abc', 'x');
    expect(res.status).toBe(500);
    expect((await res.text()).trimEnd()).toBe('invalid session "abc"');
    expect((await put(node, '/v1/kv/l?acquire=', 'x')).status).toBe(400);
    expect((await node.request('/v1/kv/l')).status).toBe(404);
  });
});

describe('KV API: blocking queries', () => {
  it('returns at once without index or when the index is already higher', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/w', '1');
    const res = await node.request('/v1/kv/w?index=0');
    expect(res.status).toBe(200);
    expect((await node.request('/v1/kv/w?index=0&wait=1s')).status).toBe(200);
  });

  it('wakes on a change to the watched key with the new value', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/w', '1');
    let done = false;
    const pending = node.request('/v1/kv/w?index=1&wait=5m').then((r) => {
      done = true;
      return r;
    });
    await settle();
    await put(node, '/v1/kv/other', 'x');
    await settle();
    expect(done).toBe(false);
    await put(node, '/v1/kv/w', '2');
    const res = await pending;
    expect(res.headers.get('X-Consul-Index')).toBe('3');
    expect(await json(res)).toMatchObject([{ Value: 'Mg==', ModifyIndex: 3 }]);
  });

  it('wakes a recursive watch on a delete under its prefix', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/dir/a', '1');
    const pending = node.request('/v1/kv/dir/?recurse&index=1');
    await settle();
    await node.request('/v1/kv/dir/a', { method: 'DELETE' });
    const res = await pending;
    expect(res.status).toBe(404);
    expect(Number(res.headers.get('X-Consul-Index'))).toBe(2);
  });

  it('wakes a keys watch when a key appears under the prefix', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/other', '1');
    const pending = node.request('/v1/kv/svc/?keys&index=1');
    await settle();
    await put(node, '/v1/kv/svc/x', '1');
    expect(await json(await pending)).toEqual(['svc/x']);
  });

  it('returns the unchanged result after wait plus at most wait/16 jitter', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/w', '1');
    let done = false;
    const pending = node.request('/v1/kv/w?index=1&wait=16s').then((r) => {
      done = true;
      return r;
    });
    await settle();
    node.clock.advance(15_999);
    await settle();
    expect(done).toBe(false);
    node.clock.advance(1_001 + 1_000);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Consul-Index')).toBe('1');
    expect(node.deps.watches.size).toBe(0);
  });

  it('clamps wait to 10 minutes', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/w', '1');
    const pending = node.request('/v1/kv/w?index=1&wait=1h');
    await settle();
    node.clock.advance(10 * 60_000 * (1 + 1 / 16) + 1);
    expect((await pending).status).toBe(200);
  });

  it('uses 5 minutes when no wait is given', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/w', '1');
    let done = false;
    const pending = node.request('/v1/kv/w?index=1').then((r) => ((done = true), r));
    await settle();
    node.clock.advance(5 * 60_000 - 1);
    await settle();
    expect(done).toBe(false);
    node.clock.advance((5 * 60_000) / 16 + 2);
    expect((await pending).status).toBe(200);
  });

  it('returns at once when the server shuts down', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/w', '1');
    const pending = node.request('/v1/kv/w?index=1');
    await settle();
    node.shutdown.abort();
    expect((await pending).status).toBe(200);
    expect(node.deps.watches.size).toBe(0);
  });

  it('stops waiting when the client goes away', async () => {
    const node = createTestNode();
    await put(node, '/v1/kv/w', '1');
    const ac = new AbortController();
    const pending = node.request('/v1/kv/w?index=1', { signal: ac.signal });
    await settle();
    expect(node.deps.watches.size).toBe(1);
    ac.abort();
    await pending.catch(() => undefined);
    await settle();
    expect(node.deps.watches.size).toBe(0);
  });

  it('refuses blocking queries beyond the watcher limit with 503 and Retry-After', async () => {
    const node = createTestNode({ maxWatchers: 1 });
    await put(node, '/v1/kv/w', '1');
    const first = node.request('/v1/kv/w?index=1');
    await settle();
    const second = await node.request('/v1/kv/w?index=1');
    expect(second.status).toBe(503);
    expect(second.headers.get('Retry-After')).toBe('1');
    await put(node, '/v1/kv/w', '2');
    expect((await first).status).toBe(200);
  });
});

describe('status and agent endpoints', () => {
  it('reports the leader and peers', async () => {
    const node = createTestNode();
    expect(await json(await node.request('/v1/status/leader'))).toBe('127.0.0.1:8300');
    expect(await json(await node.request('/v1/status/peers'))).toEqual(['127.0.0.1:8300']);
  });

  it('describes the agent in Consul shape', async () => {
    const self = (await json(await createTestNode().request('/v1/agent/self'))) as {
      Config: Record<string, unknown>;
      Member: Record<string, unknown>;
    };
    expect(self.Config).toMatchObject({ Datacenter: 'dc1', NodeName: 'test', Server: true });
    expect(self.Member).toMatchObject({ Name: 'test', Addr: '127.0.0.1', Port: 8300, Status: 1 });
  });

  it('shows the session TTL minimum: Config.SessionTTLMin in ns (for Patroni), DebugConfig as Go does', async () => {
    const self = (await json(
      await createTestNode({ limits: { sessionTtlMinMs: 90_000 } }).request('/v1/agent/self'),
    )) as {
      Config: Record<string, unknown>;
      DebugConfig: Record<string, unknown>;
    };
    expect(self.Config).toEqual({
      Datacenter: 'dc1',
      PrimaryDatacenter: 'dc1',
      NodeName: 'test',
      NodeID: '00000000-0000-4000-8000-000000000000',
      Server: true,
      Revision: '',
      Version: '0.0.0',
      SessionTTLMin: 90e9,
    });
    // patroni/dcs/consul.py adjust_ttl(): (Config.SessionTTLMin or 10000000000) / 1e9 seconds.
    expect((self.Config['SessionTTLMin'] as number) / 1e9).toBe(90);
    expect(self.DebugConfig).toMatchObject({
      Datacenter: 'dc1',
      NodeName: 'test',
      NodeID: '00000000-0000-4000-8000-000000000000',
      ServerMode: true,
      SessionTTLMin: '1m30s',
      ACLsEnabled: false,
      KVMaxValueSize: 512 * 1024,
    });
    const byDefault = (await json(await createTestNode().request('/v1/agent/self'))) as typeof self;
    expect(byDefault.Config['SessionTTLMin']).toBe(10e9);
    expect(byDefault.DebugConfig['SessionTTLMin']).toBe('10s');
  });

  it('answers unknown paths with 404', async () => {
    expect((await createTestNode().request('/v1/nope')).status).toBe(404);
  });
});
