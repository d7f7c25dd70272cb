import { request } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestClusterProcesses } from '../testing/cluster-harness.js';
import { cleanupAll } from '../testing/spawn-server.js';

let cluster: TestClusterProcesses | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});
afterAll(cleanupAll);

const put = (http: string, key: string, value: string, signal?: AbortSignal) =>
  fetch(`http://${http}/v1/kv/${key}`, { method: 'PUT', body: value, ...(signal ? { signal } : {}) });

describe('a 3-server cluster', () => {
  it('forms, forwards writes from followers, and serves reads on every server', async () => {
    cluster = await TestClusterProcesses.start(3);
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    const res = await put(follower.http, 'greeting', 'hello');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('true');
    for (const m of cluster.members) {
      const r = await fetch(`http://${m.http}/v1/kv/greeting?raw&consistent`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('hello');
      expect(r.headers.get('X-Consul-KnownLeader')).toBe('true');
      expect(Number(r.headers.get('X-Consul-LastContact'))).toBeGreaterThanOrEqual(0);
    }
    const conf = (await (await fetch(`http://${follower.http}/v1/operator/raft/configuration`)).json()) as {
      Servers: Array<{ Node: string; Voter: boolean; Leader: boolean }>;
    };
    expect(conf.Servers.map((s) => s.Node)).toEqual(['n1', 'n2', 'n3']);
    expect(conf.Servers.filter((s) => s.Leader).map((s) => s.Node)).toEqual([leader.name]);
    const peers = (await (await fetch(`http://${follower.http}/v1/status/peers`)).json()) as string[];
    expect(peers.sort()).toEqual(cluster.members.map((m) => m.raft).sort());

    // A chunked body (no Content-Length, as curl -T - sends it) is forwarded too.
    const [host, port] = follower.http.split(':') as [string, string];
    const chunked = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const r = request(
        {
          host,
          port: Number(port),
          method: 'PUT',
          path: '/v1/kv/chunked',
          headers: { 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      r.on('error', reject);
      r.write('part one, ');
      r.end('part two');
    });
    expect(chunked).toEqual({ status: 200, text: 'true' });
    expect(await (await fetch(`http://${leader.http}/v1/kv/chunked?raw`)).text()).toBe('part one, part two');

    // A forwarded transaction answers JSON; a forwarded bad request, the leader's error.
    const txn = await fetch(`http://${follower.http}/v1/txn`, {
      method: 'PUT',
      body: JSON.stringify([{ KV: { Verb: 'set', Key: 'via-txn', Value: Buffer.from('v').toString('base64') } }]),
    });
    expect(txn.status).toBe(200);
    expect(((await txn.json()) as { Results: Array<{ KV: { Key: string } }> }).Results[0]?.KV.Key).toBe('via-txn');
    const bad = await fetch(`http://${follower.http}/v1/kv/bad?flags=x`, { method: 'PUT', body: 'v' });
    const leaderBad = await fetch(`http://${leader.http}/v1/kv/bad?flags=x`, { method: 'PUT', body: 'v' });
    expect(bad.status).toBe(leaderBad.status);
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(await bad.text()).toBe(await leaderBad.text());

    // Those writes went to the leader on the raft transport's connection, not as HTTP requests.
    const forwarded = async (http: string) => {
      const text = await (await fetch(`http://${http}/v1/agent/metrics?format=prometheus`)).text();
      return Number(/^konsul_raft_forwarded_requests (\d+)$/m.exec(text)?.[1]);
    };
    expect(await forwarded(follower.http)).toBeGreaterThanOrEqual(4);
    expect(await forwarded(leader.http)).toBe(0);

    // The leader times its heartbeats and appends to each follower and hears from both; the
    // follower hears from the leader and counts the requests it handed to it.
    const leaderText = await (await fetch(`http://${leader.http}/v1/agent/metrics?format=prometheus`)).text();
    for (const m of cluster.members.filter((x) => x !== leader)) {
      const count = (type: string) =>
        Number(
          new RegExp(`^konsul_raft_rpc_seconds_count\\{peer="${m.name}",type="${type}"\\} (\\d+)$`, 'm').exec(
            leaderText,
          )?.[1],
        );
      expect(count('heartbeat'), m.name).toBeGreaterThan(0);
      expect(count('append'), m.name).toBeGreaterThan(0);
      const contact = Number(
        new RegExp(`^konsul_raft_last_contact_seconds\\{peer="${m.name}"\\} (\\S+)$`, 'm').exec(leaderText)?.[1],
      );
      expect(contact, m.name).toBeGreaterThanOrEqual(0);
      expect(contact, m.name).toBeLessThan(5);
    }
    expect(leaderText).toMatch(/^konsul_raft_state\{state="leader"\} 1$/m);
    const followerText = await (await fetch(`http://${follower.http}/v1/agent/metrics?format=prometheus`)).text();
    expect(followerText).toMatch(/^konsul_raft_state\{state="follower"\} 1$/m);
    expect(followerText).toMatch(new RegExp(`^konsul_raft_last_contact_seconds\\{peer="${leader.name}"\\} `, 'm'));
    // The transaction went to the leader whole (KV writes run on the follower and propose there).
    expect(Number(/^konsul_http_forwarded_requests_total (\d+)$/m.exec(followerText)?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('a follower runs KV writes itself, checking ACL tokens against state as new as the leader', async () => {
    cluster = await TestClusterProcesses.start(3, [
      '--acl-enabled',
      '--acl-default-policy',
      'deny',
      '--join-token',
      'jt',
    ]);
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    const call = async (http: string, path: string, method: string, token?: string, body?: string) => {
      const res = await fetch(`http://${http}${path}`, {
        method,
        headers: token ? { 'X-Consul-Token': token } : {},
        ...(body === undefined ? {} : { body }),
      });
      return { status: res.status, text: await res.text() };
    };
    const boot = await call(leader.http, '/v1/acl/bootstrap', 'PUT');
    const mgmt = (JSON.parse(boot.text) as { SecretID: string }).SecretID;
    const policy = JSON.stringify({ Name: 'kv-write', Rules: 'key_prefix "" { policy = "write" }' });
    expect((await call(leader.http, '/v1/acl/policy', 'PUT', mgmt, policy)).status).toBe(200);

    // A token made on the leader works on the follower at once, and stops working there as soon as
    // the leader has deleted it.
    for (let i = 0; i < 10; i++) {
      const made = await call(leader.http, '/v1/acl/token', 'PUT', mgmt, '{"Policies":[{"Name":"kv-write"}]}');
      const token = JSON.parse(made.text) as { SecretID: string; AccessorID: string };
      expect(await call(follower.http, `/v1/kv/k${i}`, 'PUT', token.SecretID, `v${i}`)).toEqual({
        status: 200,
        text: 'true',
      });
      expect((await call(leader.http, `/v1/acl/token/${token.AccessorID}`, 'DELETE', mgmt)).status).toBe(200);
      expect((await call(follower.http, `/v1/kv/k${i}`, 'PUT', token.SecretID, 'after')).status).toBe(403);
      expect((await call(follower.http, `/v1/kv/k${i}`, 'DELETE', token.SecretID)).status).toBe(403);
    }
    // Consul's KV semantics, from the command's result on the leader: CAS, deletes, lock release.
    expect((await call(follower.http, '/v1/kv/k0?cas=0', 'PUT', mgmt, 'x')).text).toBe('false');
    const modify = (
      JSON.parse((await call(follower.http, '/v1/kv/k0', 'GET', mgmt)).text) as [{ ModifyIndex: number }]
    )[0].ModifyIndex;
    expect((await call(follower.http, `/v1/kv/k0?cas=${modify}`, 'PUT', mgmt, 'y')).text).toBe('true');
    expect((await call(follower.http, '/v1/kv/k1', 'DELETE', mgmt)).text).toBe('true');
    expect((await call(follower.http, '/v1/kv/k0?raw', 'GET', mgmt)).text).toBe('y');
    expect((await call(leader.http, '/v1/kv/k1', 'GET', mgmt)).status).toBe(404);
    expect((await call(follower.http, '/v1/kv/k2?release=not-a-session', 'PUT', mgmt, 'z')).status).toBe(
      (await call(leader.http, '/v1/kv/k2?release=not-a-session', 'PUT', mgmt, 'z')).status,
    );
  });
});
