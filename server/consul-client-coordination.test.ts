import Consul from 'consul';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseReader } from '../testing/sse.js';
import { cleanupAll, spawnServer, type SpawnedServer } from '../testing/spawn-server.js';

let server: SpawnedServer;
let consul: InstanceType<typeof Consul>;
let nodeName: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  // A 1 s minimum TTL (Consul's session_ttl_min) keeps the expiry test short.
  server = await spawnServer({ args: ['--session-ttl-min', '1'] });
  consul = new Consul({ host: server.host, port: server.port });
  nodeName = ((await consul.agent.self()) as { Config: { NodeName: string } }).Config.NodeName;
  // Sessions bind to the node's serfHealth check, which the agent registers on its first sync.
  await until(
    'the node in the catalog',
    async () => ((await consul.health.node(nodeName)) as unknown[]).length > 0 || undefined,
  );
});
afterAll(async () => {
  await server?.stop();
  await cleanupAll();
});

const lockHolder = async (key: string) => ((await consul.kv.get(key)) as { Session?: string } | undefined)?.Session;

describe('the consul npm client: sessions and KV locks against a real server process', () => {
  it('creates, reads, lists, renews and destroys sessions', async () => {
    const { ID } = (await consul.session.create({
      name: 'svc-leader',
      ttl: '15s',
      lockdelay: '1s',
      behavior: 'release',
    })) as { ID: string };
    const info = (await consul.session.info(ID)) as unknown as Record<string, unknown>;
    expect(info).toMatchObject({
      ID,
      Name: 'svc-leader',
      Node: nodeName,
      TTL: '15s',
      LockDelay: 1e9,
      Behavior: 'release',
      NodeChecks: ['serfHealth'],
    });
    expect(((await consul.session.list()) as Array<{ ID: string }>).map((s) => s.ID)).toContain(ID);
    expect(((await consul.session.node(nodeName)) as Array<{ ID: string }>).map((s) => s.ID)).toContain(ID);
    expect(await consul.session.renew(ID)).toEqual([expect.objectContaining({ ID, TTL: '15s' })]);
    await consul.session.destroy(ID);
    // As against Consul: info of a session that is gone resolves to nothing (200 with []),
    // destroying it again succeeds, and renewing it is a 404.
    expect(await consul.session.info(ID)).toBeUndefined();
    await consul.session.destroy(ID);
    await expect(consul.session.renew(ID)).rejects.toMatchObject({ response: { statusCode: 404 } });
  });

  it('acquires and releases locks as Consul does, with lock delay after invalidation', async () => {
    const a = ((await consul.session.create({ lockdelay: '1s' })) as { ID: string }).ID;
    const b = ((await consul.session.create({ lockdelay: '1s' })) as { ID: string }).ID;
    expect(await consul.kv.set({ key: 'locks/db', value: 'a', acquire: a })).toBe(true);
    expect(await consul.kv.get('locks/db')).toMatchObject({ Session: a, LockIndex: 1, Value: 'a' });
    expect(await consul.kv.set({ key: 'locks/db', value: 'b', acquire: b })).toBeFalsy();
    expect(await consul.kv.set({ key: 'locks/db', value: 'a2', acquire: a })).toBe(true);
    expect(await consul.kv.get('locks/db')).toMatchObject({ Session: a, LockIndex: 1, Value: 'a2' });
    await consul.session.destroy(a);
    expect(await lockHolder('locks/db')).toBeUndefined();
    // Lock delay: b cannot take it at once, but can about a second later.
    expect(await consul.kv.set({ key: 'locks/db', value: 'b', acquire: b })).toBeFalsy();
    await until(
      'the lock delay to end',
      async () => (await consul.kv.set({ key: 'locks/db', value: 'b', acquire: b })) === true || undefined,
      5000,
    );
    expect(await consul.kv.get('locks/db')).toMatchObject({ Session: b, LockIndex: 2 });
    expect(await consul.kv.set({ key: 'locks/db', value: 'free', release: b })).toBe(true);
    expect(await lockHolder('locks/db')).toBeUndefined();
    await consul.session.destroy(b);
  });

  it('keeps mutual exclusion among many competing clients', async () => {
    const clients = Array.from({ length: 8 }, () => new Consul({ host: server.host, port: server.port }));
    let holder: string | undefined;
    let overlaps = 0;
    let sections = 0;
    await Promise.all(
      clients.map(async (c) => {
        const id = ((await c.session.create({ lockdelay: '0s' })) as { ID: string }).ID;
        for (let done = 0; done < 4;) {
          if ((await c.kv.set({ key: 'locks/mutex', value: id, acquire: id })) !== true) {
            await sleep(2);
            continue;
          }
          if (holder !== undefined) overlaps++;
          holder = id;
          sections++;
          // While we hold it, the server agrees and nobody else gets it.
          expect(await lockHolder('locks/mutex')).toBe(id);
          await sleep(3);
          holder = undefined;
          expect(await c.kv.set({ key: 'locks/mutex', value: '', release: id })).toBe(true);
          done++;
        }
        await c.session.destroy(id);
      }),
    );
    expect(overlaps).toBe(0);
    expect(sections).toBe(32);
  });

  it('expires a TTL session on the server when it is not renewed, releasing (or deleting) its keys', async () => {
    const kept = ((await consul.session.create({ ttl: '1s', lockdelay: '0s' })) as { ID: string }).ID;
    const lapsed = ((await consul.session.create({ ttl: '1s', lockdelay: '0s', behavior: 'delete' })) as { ID: string })
      .ID;
    expect(await consul.kv.set({ key: 'ttl/kept', value: 'x', acquire: kept })).toBe(true);
    expect(await consul.kv.set({ key: 'ttl/lapsed', value: 'x', acquire: lapsed })).toBe(true);
    // Renew one for 4 s (twice the 2 s deadline); the other lapses.
    const started = Date.now();
    while (Date.now() - started < 4000) {
      await consul.session.renew(kept);
      await sleep(400);
    }
    expect(await consul.session.info(lapsed)).toBeUndefined();
    expect(await consul.kv.get('ttl/lapsed')).toBeUndefined();
    expect(await lockHolder('ttl/kept')).toBe(kept);
    await until(
      'the renewed session to lapse too',
      async () => (await consul.session.info(kept)) === undefined || undefined,
    );
    expect(await lockHolder('ttl/kept')).toBeUndefined();
    expect((await consul.kv.get('ttl/kept')) as { Value: string }).toMatchObject({ Value: 'x' });
  });

  it('invalidates a session when its bound check goes critical', async () => {
    await consul.agent.check.register({ name: 'gate', id: 'gate', ttl: '30s' } as never);
    await consul.agent.check.pass('gate');
    await until(
      'the check in the catalog',
      async () =>
        ((await consul.health.node(nodeName)) as Array<{ CheckID: string; Status: string }>).some(
          (c) => c.CheckID === 'gate' && c.Status === 'passing',
        ) || undefined,
    );
    const id = ((await consul.session.create({ checks: ['serfHealth', 'gate'], lockdelay: '0s' })) as { ID: string })
      .ID;
    expect(await consul.kv.set({ key: 'gated', value: 'x', acquire: id })).toBe(true);
    await consul.agent.check.fail('gate');
    await until(
      'the session to be invalidated',
      async () => (await consul.session.info(id)) === undefined || undefined,
    );
    expect(await lockHolder('gated')).toBeUndefined();
    await consul.agent.check.deregister('gate');
  });
});

describe('the consul npm client: transactions and events against a real server process', () => {
  it('commits a transaction atomically and rolls back a failing one', async () => {
    // The client's type declarations want {operations}; its code takes Consul's array as is.
    const ok = (await consul.transaction.create([
      { KV: { Verb: 'set', Key: 'txn/a', Value: Buffer.from('1').toString('base64') } },
      { KV: { Verb: 'set', Key: 'txn/b', Value: Buffer.from('2').toString('base64') } },
    ] as never)) as unknown as { Results: Array<{ KV: { ModifyIndex: number } }>; Errors: null };
    expect(ok.Errors).toBeNull();
    expect(ok.Results[0]?.KV.ModifyIndex).toBe(ok.Results[1]?.KV.ModifyIndex);
    await expect(
      consul.transaction.create([
        { KV: { Verb: 'set', Key: 'txn/c', Value: Buffer.from('3').toString('base64') } },
        { KV: { Verb: 'check-not-exists', Key: 'txn/a' } },
      ] as never),
    ).rejects.toMatchObject({ response: { statusCode: 409 } });
    expect(await consul.kv.get('txn/c')).toBeUndefined();
    expect(await consul.kv.keys('txn/')).toEqual(['txn/a', 'txn/b']);
  });

  it('fires and lists user events', async () => {
    const fired = (await consul.event.fire('deploy', 'v2')) as { ID: string; Name: string; Payload: string };
    expect(fired).toMatchObject({ Name: 'deploy', Payload: 'v2' });
    const list = (await consul.event.list('deploy')) as Array<{ ID: string; Payload: string }>;
    expect(list.at(-1)).toMatchObject({ ID: fired.ID, Payload: 'v2' });
  });
});

describe('watch streams over real HTTP', () => {
  it('resumes after a disconnect with Last-Event-ID, without gaps or duplicates', async () => {
    const url = `${server.url}/v1/watch/kv/sse/`;
    const ac = new AbortController();
    const first = new SseReader(await fetch(url, { signal: ac.signal }));
    for (let i = 0; i < 5; i++) await consul.kv.set(`sse/k${i}`, `v${i}`);
    const seen = (await first.take(3)).map((e) => JSON.parse(e.data) as { Key: string; Entry: { Value: string } });
    const resumeFrom = first.lastEventId as string;
    ac.abort();
    for (let i = 5; i < 8; i++) await consul.kv.set(`sse/k${i}`, `v${i}`);
    await consul.kv.del('sse/k0');
    const second = new SseReader(await fetch(url, { headers: { 'Last-Event-ID': resumeFrom } }));
    const rest = (await second.take(6)).map((e) => JSON.parse(e.data) as { Key: string; Op: string });
    await second.close();
    expect([...seen, ...rest].map((e) => e.Key)).toEqual([
      'sse/k0',
      'sse/k1',
      'sse/k2',
      'sse/k3',
      'sse/k4',
      'sse/k5',
      'sse/k6',
      'sse/k7',
      'sse/k0',
    ]);
    expect(rest.at(-1)?.Op).toBe('delete');
    expect(Buffer.from(seen[0]!.Entry.Value, 'base64').toString()).toBe('v0');
  });
});
