import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestClusterProcesses } from '../testing/cluster-harness.js';
import { cleanupAll } from '../testing/spawn-server.js';

let cluster: TestClusterProcesses | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});
afterAll(cleanupAll);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const call = async (http: string, path: string, init?: RequestInit) => fetch(`http://${http}${path}`, init);

describe('sessions in a 3-server cluster', () => {
  const title = 'expiry is decided by the leader, survives a leader change, and every server applies the same outcome';
  it(title, async () => {
    cluster = await TestClusterProcesses.start(3, ['--session-ttl-min', '1']);
    const leader = await cluster.waitForLeader();
    const [f1, f2] = cluster.members.filter((m) => m !== leader) as [
      NonNullable<typeof leader>,
      NonNullable<typeof leader>,
    ];
    // The leader registers every member's node (and its serfHealth check) in the catalog.
    for (let i = 0; i < 100; i++) {
      const nodes = (await (await call(f1.http, '/v1/catalog/nodes')).json()) as Array<{ Node: string }>;
      if (nodes.some((n) => n.Node === f1.name)) break;
      await sleep(100);
    }
    const created = await call(f1.http, '/v1/session/create', {
      method: 'PUT',
      body: JSON.stringify({ TTL: '2s', LockDelay: '0s', Node: f1.name }),
    });
    expect(created.status, await created.clone().text()).toBe(200);
    const { ID } = (await created.json()) as { ID: string };
    expect(await (await call(f2.http, `/v1/kv/leader-key?acquire=${ID}`, { method: 'PUT', body: 'f1' })).json()).toBe(
      true,
    );

    // Renewals through followers reach the leader's clock: 5 s is 2.5 deadlines.
    const renewFor = async (ms: number, via: string) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const r = await call(via, `/v1/session/renew/${ID}`, { method: 'PUT' });
        expect(r.status).toBe(200);
        await sleep(300);
      }
    };
    await renewFor(5000, f2.http);

    // The leader dies; the new leader gives the session a full fresh deadline.
    await leader.server?.stop('SIGKILL');
    leader.server = undefined;
    const next = await cluster.waitForLeader(20_000, [f1, f2]);
    expect(((await (await call(next.http, `/v1/session/info/${ID}`)).json()) as unknown[]).length).toBe(1);
    await renewFor(2500, f1.http);

    // Renewals stop; the session lapses and both servers agree on the result.
    const stopped = Date.now();
    for (;;) {
      // As Consul: a session that is gone reads as an empty list.
      if (((await (await call(next.http, `/v1/session/info/${ID}`)).json()) as unknown[]).length === 0) break;
      expect(Date.now() - stopped).toBeLessThan(10_000);
      await sleep(100);
    }
    expect(Date.now() - stopped).toBeGreaterThanOrEqual(1500);
    for (const m of [f1, f2]) {
      const info = await call(m.http, `/v1/session/info/${ID}?consistent`);
      expect(info.status).toBe(200);
      expect(await info.json()).toEqual([]);
      const entry = (await (await call(m.http, '/v1/kv/leader-key?consistent')).json()) as Array<{
        Session?: string;
        ModifyIndex: number;
        Value: string;
      }>;
      expect(entry[0]?.Session).toBeUndefined();
      expect(Buffer.from(entry[0]!.Value, 'base64').toString()).toBe('f1');
    }
    const stale = await Promise.all(
      [f1, f2].map(
        async (m) =>
          ((await (await call(m.http, '/v1/kv/leader-key?stale')).json()) as Array<{ ModifyIndex: number }>)[0]
            ?.ModifyIndex,
      ),
    );
    expect(stale[0]).toBe(stale[1]);
  });

  const ownership =
    "a session created through a server without a Node is that server's (a leader kill leaves the followers' " +
    'sessions alive), and agent writes through a follower are visible when they return';
  it(ownership, async () => {
    // Default settings (a 10 s minimum TTL), as Patroni runs against them.
    cluster = await TestClusterProcesses.start(3);
    const leader = await cluster.waitForLeader();
    const followers = cluster.members.filter((m) => m !== leader);
    // The leader registers every member's node (and its serfHealth check) in the catalog.
    for (let i = 0; i < 100; i++) {
      const nodes = (await (await call(leader.http, '/v1/catalog/nodes')).json()) as Array<{ Node: string }>;
      if (cluster.members.every((m) => nodes.some((n) => n.Node === m.name))) break;
      await sleep(100);
    }
    // Every server's node carries Consul's `consul` service, on its Raft port.
    type Instance = { Node: string; ServicePort: number };
    let consul: Instance[] = [];
    for (let i = 0; i < 100 && consul.length < 3; i++) {
      consul = (await (await call(leader.http, '/v1/catalog/service/consul')).json()) as Instance[];
      if (consul.length < 3) await sleep(100);
    }
    expect(consul.map((c) => [c.Node, c.ServicePort]).sort()).toEqual(
      cluster.members.map((m) => [m.name, Number(m.raft.split(':')[1])]).sort(),
    );
    const create = async (via: string): Promise<string> => {
      const r = await call(via, '/v1/session/create', { method: 'PUT', body: JSON.stringify({ TTL: '15s' }) });
      expect(r.status, await r.clone().text()).toBe(200);
      return ((await r.json()) as { ID: string }).ID;
    };
    const nodeOf = async (via: string, id: string): Promise<string | undefined> => {
      const r = await call(via, `/v1/session/info/${id}`);
      return r.status === 200 ? ((await r.json()) as Array<{ Node: string }>)[0]?.Node : undefined;
    };
    const sessions = new Map<string, string>();
    for (const m of cluster.members) sessions.set(m.name, await create(m.http));
    // An empty body (python-consul sends none without arguments) is resolved the same way.
    const bare = await call(followers[0]!.http, '/v1/session/create', { method: 'PUT' });
    expect(bare.status).toBe(200);
    const bareId = ((await bare.json()) as { ID: string }).ID;
    for (const m of cluster.members) expect(await nodeOf(leader.http, sessions.get(m.name)!)).toBe(m.name);
    expect(await nodeOf(leader.http, bareId)).toBe(followers[0]!.name);

    // Agent writes through a follower reach the catalog before they return, as Consul's do.
    const [fa, fb] = followers as [(typeof followers)[0], (typeof followers)[0]];
    const service = { ID: 'pg/pg1', Name: 'pg', Port: 5432, Check: { CheckID: 'pg/pg1/ttl', TTL: '30s' } };
    const reg = await call(fa.http, '/v1/agent/service/register', { method: 'PUT', body: JSON.stringify(service) });
    expect(reg.status).toBe(200);
    const listed = (await (await call(fb.http, '/v1/catalog/service/pg')).json()) as Array<{ Node: string }>;
    expect(listed.map((s) => s.Node)).toEqual([fa.name]);
    expect((await call(fa.http, '/v1/agent/check/pass/pg/pg1/ttl', { method: 'PUT' })).status).toBe(200);
    expect(await (await call(fb.http, '/v1/health/service/pg?passing')).json()).toHaveLength(1);

    await leader.server?.stop('SIGKILL');
    leader.server = undefined;
    const next = await cluster.waitForLeader(20_000, followers);
    // Renew the followers' sessions until the new leader has marked the dead server's node
    // unhealthy, which invalidates the sessions bound to it, and only those.
    const deadline = Date.now() + 60_000;
    for (;;) {
      for (const f of followers)
        expect((await call(next.http, `/v1/session/renew/${sessions.get(f.name)!}`, { method: 'PUT' })).status).toBe(
          200,
        );
      await call(next.http, `/v1/session/renew/${bareId}`, { method: 'PUT' });
      if ((await nodeOf(next.http, sessions.get(leader.name)!)) === undefined) break;
      expect(Date.now(), "the dead leader's session was never invalidated").toBeLessThan(deadline);
      await sleep(500);
    }
    for (const f of followers) expect(await nodeOf(next.http, sessions.get(f.name)!)).toBe(f.name);
    expect(await nodeOf(next.http, bareId)).toBe(followers[0]!.name);
  });
});
