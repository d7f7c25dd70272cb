import { afterAll, describe, expect, it } from 'vitest';
import { freePorts, TestClusterProcesses } from '../testing/cluster-harness.js';
import { cleanupAll, startProcess, tempDir, until } from '../testing/process.js';
import { CLI, spawnServer } from '../testing/spawn-server.js';
import { digA } from '../testing/dig.js';

afterAll(cleanupAll);

const TOKEN = 'federation-test-token';

const call = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
};

describe('federated datacenters', () => {
  it('dc1 (3 servers) and dc2 (1) list each other, read and write across, meet again after a partition', async () => {
    const dc1 = await TestClusterProcesses.start(3, ['--join-token', TOKEN]);
    const [dc2Port] = await freePorts(1);
    const dc2Addr = `127.0.0.1:${dc2Port}`;
    const dc2Dir = tempDir();
    const startDc2 = () =>
      spawnServer({
        cluster: true,
        dataDir: dc2Dir,
        args: [
          ...['--dev', '--datacenter', 'dc2', '--http-addr', dc2Addr, '--raft-addr', '127.0.0.1:0'],
          ...['--dns-addr', '127.0.0.1:0', '--mqtt-addr', '127.0.0.1:0', '--join-token', TOKEN],
          // Only one dc1 server is given: the others learn of dc2 from it.
          ...['--join-wan', dc1.members[0]?.http as string],
        ],
      });
    let dc2 = await startDc2();
    try {
      const leader = await dc1.waitForLeader();
      const follower = dc1.members.find((m) => m !== leader && m !== dc1.members[0]) as (typeof dc1.members)[number];
      const on = (addr: string, path: string, init?: RequestInit) => call(`http://${addr}${path}`, init);
      // Every dc1 server, and dc2's, learn the other datacenter.
      for (const m of dc1.members)
        await until(
          `dc2 known to ${m.name}`,
          () => on(m.http, '/v1/catalog/datacenters'),
          (r) => r.body === '["dc1","dc2"]',
        );
      await until(
        'dc1 known to dc2',
        () => on(dc2Addr, '/v1/catalog/datacenters'),
        (r) => r.body === '["dc2","dc1"]',
      );

      // A write for dc2 made at a dc1 follower lands in dc2 only.
      expect((await on(follower.http, '/v1/kv/app/x?dc=dc2', { method: 'PUT', body: 'in dc2' })).body).toBe('true');
      expect((await on(dc2Addr, '/v1/kv/app/x?raw')).body).toBe('in dc2');
      expect((await on(follower.http, '/v1/kv/app/x')).status).toBe(404);
      const read = await on(follower.http, '/v1/kv/app/x?dc=dc2&raw');
      expect(read.body).toBe('in dc2');
      expect(read.headers.get('x-consul-knownleader')).toBe('true');
      const index = Number(read.headers.get('x-consul-index'));
      expect(index).toBeGreaterThan(0);
      // And the other way: dc2 reads and writes dc1 (through whichever dc1 server it picks).
      expect((await on(dc2Addr, '/v1/kv/app/y?dc=dc1', { method: 'PUT', body: 'in dc1' })).body).toBe('true');
      expect((await on(leader.http, '/v1/kv/app/y?raw')).body).toBe('in dc1');
      // A blocking query across datacenters waits there and answers with the change.
      const blocked = on(follower.http, `/v1/kv/app/x?dc=dc2&raw&index=${index}&wait=30s`);
      await new Promise((r) => setTimeout(r, 200));
      expect((await on(dc2Addr, '/v1/kv/app/x', { method: 'PUT', body: 'changed' })).body).toBe('true');
      const woke = await blocked;
      expect(woke.body).toBe('changed');
      expect(Number(woke.headers.get('x-consul-index'))).toBeGreaterThan(index);
      // DNS: dc2's server answers for dc1's services and nodes by asking a dc1 server.
      const reg = await on(leader.http, '/v1/catalog/register', {
        method: 'PUT',
        body: JSON.stringify({ Node: 'web-1', Address: '10.1.0.7', Service: { Service: 'web', Port: 80 } }),
      });
      expect(reg.status).toBe(200);
      expect(await digA(dc2.dnsAddr, 'web.service.dc1.consul')).toEqual({ status: 'NOERROR', answers: ['10.1.0.7'] });
      expect(await digA(dc2.dnsAddr, 'web-1.node.dc1.consul')).toEqual({ status: 'NOERROR', answers: ['10.1.0.7'] });
      expect((await digA(dc2.dnsAddr, 'web.service.consul')).status).toBe('NXDOMAIN');
      expect((await digA(dc2.dnsAddr, 'web.service.dc9.consul')).status).toBe('NXDOMAIN');
      // A registration whose body names dc2, made at a dc1 follower, is made in dc2 (as Consul).
      const remoteReg = await on(follower.http, '/v1/catalog/register', {
        method: 'PUT',
        body: JSON.stringify({ Datacenter: 'dc2', Node: 'db-2', Address: '10.2.0.1' }),
      });
      expect([remoteReg.status, remoteReg.body]).toEqual([200, 'true']);
      expect((await on(dc2Addr, '/v1/catalog/node/db-2')).body).toContain('"10.2.0.1"');
      expect((await on(leader.http, '/v1/catalog/node/db-2')).body).toBe('null');
      // A prepared query in dc2 with no healthy instance there fails over to dc1.
      for (const [name, failover] of [
        ['near', { NearestN: 1 }],
        ['listed', { Datacenters: ['dc9', 'dc1'] }],
      ] as const) {
        const made = await on(dc2Addr, '/v1/query', {
          method: 'POST',
          body: JSON.stringify({ Name: name, Service: { Service: 'web', Failover: failover } }),
        });
        expect(made.status).toBe(200);
        const ran = JSON.parse((await on(dc2Addr, `/v1/query/${name}/execute`)).body) as {
          Nodes: Array<{ Node: { Node: string } }>;
          Datacenter: string;
          Failovers: number;
        };
        expect([ran.Datacenter, ran.Failovers, ran.Nodes.map((n) => n.Node.Node)]).toEqual(['dc1', 1, ['web-1']]);
      }
      // dc2's DNS answers a prepared query dc1 has by asking dc1.
      const webq = await on(leader.http, '/v1/query', {
        method: 'POST',
        body: JSON.stringify({ Name: 'webq', Service: { Service: 'web' } }),
      });
      expect(webq.status).toBe(200);
      expect(await digA(dc2.dnsAddr, 'webq.query.dc1.consul')).toEqual({ status: 'NOERROR', answers: ['10.1.0.7'] });
      // A datacenter no server knows: Consul's error.
      const unknown = await on(leader.http, '/v1/kv/app/x?dc=dc9');
      expect([unknown.status, unknown.body]).toEqual([500, 'No path to datacenter "dc9"\n']);

      // konsul replicate copies global/ from dc1 into dc2, follows changes and deletions, and resumes.
      for (const [k, v] of [
        ['global/a', '1'],
        ['global/b', '2'],
      ])
        expect((await on(leader.http, `/v1/kv/${k}`, { method: 'PUT', body: v })).body).toBe('true');
      const replicate = () =>
        startProcess(process.execPath, [CLI, 'replicate', '--http-addr', dc2Addr, '--prefix', 'global/@dc1'], {
          ready: /replicate: global\/@dc1: /,
          what: 'konsul replicate',
        });
      const dc2Keys = () =>
        on(dc2Addr, '/v1/kv/global/?recurse').then((r) =>
          r.status === 404
            ? {}
            : Object.fromEntries(
                (JSON.parse(r.body) as Array<{ Key: string; Value: string }>).map((e) => [
                  e.Key,
                  Buffer.from(e.Value ?? '', 'base64').toString(),
                ]),
              ),
        );
      let copier = await replicate();
      await until('global/ copied', dc2Keys, (k) => JSON.stringify(k) === '{"global/a":"1","global/b":"2"}');
      await on(leader.http, '/v1/kv/global/b', { method: 'DELETE' });
      await on(leader.http, '/v1/kv/global/a', { method: 'PUT', body: 'one' });
      await until('changes copied', dc2Keys, (k) => JSON.stringify(k) === '{"global/a":"one"}');
      expect(await copier.stop()).toBe(0);
      await on(leader.http, '/v1/kv/global/c', { method: 'PUT', body: '3' });
      copier = await replicate();
      expect(copier.output()).toMatch(/resuming after index \d+/);
      await until('resumed', dc2Keys, (k) => JSON.stringify(k) === '{"global/a":"one","global/c":"3"}');
      expect(await copier.stop()).toBe(0);

      // dc2 goes away: once dc1 has seen its server fail, requests for dc2 say so, and dc2 stays listed.
      expect(await dc2.stop()).toBe(0);
      const gone = await until(
        'dc2 unreachable',
        () => on(follower.http, '/v1/kv/app/x?dc=dc2&raw'),
        (r) => r.status === 500,
      );
      expect(gone.body).toMatch(/^Remote DC has no server currently reachable/);
      expect((await on(follower.http, '/v1/catalog/datacenters')).body).toBe('["dc1","dc2"]');
      // It comes back at the same address: the pings find it, and requests flow again.
      dc2 = await startDc2();
      await until(
        'dc2 back',
        () => on(follower.http, '/v1/kv/app/x?dc=dc2&raw'),
        (r) => r.body === 'changed',
      );
    } finally {
      await dc2.stop();
      await dc1.stopAll();
    }
  });
});

describe('ACL replication between datacenters', () => {
  it('a secondary copies the primary ACL data, sends ACL writes there, and keeps its Local tokens', async () => {
    const acl = ['--acl-enabled', '--acl-default-policy', 'deny', '--join-token', TOKEN];
    const dc1 = await spawnServer({ args: [...acl] });
    const dc2 = await spawnServer({
      args: [...acl, '--datacenter', 'dc2', '--primary-datacenter', 'dc1', '--join-wan', `${dc1.host}:${dc1.port}`],
    });
    try {
      const on = (s: { url: string }, path: string, init?: RequestInit) => call(`${s.url}${path}`, init);
      // The bootstrap is the primary's: made through dc2, it happens in dc1.
      await until(
        'dc2 knows dc1',
        () => on(dc2, '/v1/catalog/datacenters'),
        (r) => r.body === '["dc2","dc1"]',
      );
      const boot = await on(dc2, '/v1/acl/bootstrap', { method: 'PUT' });
      expect(boot.status).toBe(200);
      const mgmt = { 'X-Consul-Token': (JSON.parse(boot.body) as { SecretID: string }).SecretID };
      expect((await on(dc1, '/v1/acl/token/self', { headers: mgmt })).status).toBe(200);
      // A policy and a token made in dc1 work in dc2 once replicated.
      const policy = await on(dc1, '/v1/acl/policy', {
        method: 'PUT',
        headers: mgmt,
        body: JSON.stringify({ Name: 'app', Rules: 'key_prefix "app/" { policy = "write" }' }),
      });
      expect(policy.status).toBe(200);
      const app = JSON.parse(
        (
          await on(dc1, '/v1/acl/token', {
            method: 'PUT',
            headers: mgmt,
            body: JSON.stringify({ Policies: [{ Name: 'app' }] }),
          })
        ).body,
      ) as { SecretID: string; AccessorID: string };
      const asApp = { 'X-Consul-Token': app.SecretID };
      await until(
        'the app token in dc2',
        () => on(dc2, '/v1/kv/app/x', { method: 'PUT', body: 'v', headers: asApp }),
        (r) => r.status === 200,
      );
      expect((await on(dc2, '/v1/kv/other', { method: 'PUT', body: 'v', headers: asApp })).status).toBe(403);
      const status = JSON.parse((await on(dc2, '/v1/acl/replication')).body) as Record<string, unknown>;
      expect(status).toMatchObject({
        Enabled: true,
        Running: true,
        SourceDatacenter: 'dc1',
        ReplicationType: 'tokens',
      });
      expect(status['ReplicatedIndex']).toBeGreaterThan(0);
      expect(JSON.parse((await on(dc1, '/v1/acl/replication')).body)).toMatchObject({ Enabled: false });
      // A global token made through dc2 is made in dc1; a Local one stays in dc2.
      const made = async (local: boolean) =>
        JSON.parse(
          (
            await on(dc2, '/v1/acl/token', {
              method: 'PUT',
              headers: mgmt,
              body: JSON.stringify({ Policies: [{ Name: 'app' }], Local: local }),
            })
          ).body,
        ) as { AccessorID: string };
      const global = await made(false);
      const local = await made(true);
      expect((await on(dc1, `/v1/acl/token/${global.AccessorID}`, { headers: mgmt })).status).toBe(200);
      expect((await on(dc1, `/v1/acl/token/${local.AccessorID}`, { headers: mgmt })).status).toBe(404);
      expect((await on(dc2, `/v1/acl/token/${local.AccessorID}`, { headers: mgmt })).status).toBe(200);
      // Deleted in dc1, the app token stops working in dc2; the Local token survives replication.
      expect((await on(dc1, `/v1/acl/token/${app.AccessorID}`, { method: 'DELETE', headers: mgmt })).status).toBe(200);
      await until(
        'the app token gone from dc2',
        () => on(dc2, '/v1/kv/app/x', { headers: asApp }),
        (r) => r.status === 403,
      );
      expect((await on(dc2, `/v1/acl/token/${local.AccessorID}`, { headers: mgmt })).status).toBe(200);
    } finally {
      await dc2.stop();
      await dc1.stop();
    }
  });
});
