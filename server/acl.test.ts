import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Consul from 'consul';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../testing/process.js';
import { digA } from '../testing/dig.js';
import { spawnEdge } from '../testing/spawn-edge.js';
import { byCaller, type Caller, makeCallers, type RouteCase, walkRoutes } from '../testing/acl-walk.js';
import { cleanupAll, runCli, spawnServer, tempDir } from '../testing/spawn-server.js';

afterAll(cleanupAll);

describe('a server with ACLs on (default deny), and rate limits', () => {
  const title =
    'bootstraps, refuses the anonymous token, serves a token holder, filters DNS, ' +
    'and lets an edge agent sync with its token';
  it(title, async () => {
    const dir = tempDir();
    const configFile = join(dir, 'konsul.json');
    // Consul's nested form of the setting.
    writeFileSync(configFile, JSON.stringify({ acl: { enabled: true, default_policy: 'deny' } }));
    const auditPath = join(dir, 'audit.log');
    const server = await spawnServer({ args: ['--config', configFile, '--audit-log', auditPath] });
    const up = server.url;
    const boot = await fetch(`${up}/v1/acl/bootstrap`, { method: 'PUT' });
    expect(boot.status).toBe(200);
    const mgmt = ((await boot.json()) as { SecretID: string }).SecretID;
    const h = { 'X-Consul-Token': mgmt };

    expect((await fetch(`${up}/v1/kv/cfg/a`)).status).toBe(403);
    expect((await fetch(`${up}/v1/kv/cfg/a`, { method: 'PUT', body: 'v', headers: h })).status).toBe(200);
    const bogus = await fetch(`${up}/v1/kv/cfg/a`, {
      headers: { 'X-Consul-Token': '6a1c4b7e-0000-4000-8000-000000000000' },
    });
    expect([bogus.status, (await bogus.text()).trim()]).toEqual([403, 'ACL not found']);

    // The consul client with a token works; without one it is refused.
    const consul = new Consul({ host: server.host, port: server.port, defaults: { token: mgmt } } as never);
    await consul.kv.set('cfg/b', 'two');
    expect(((await consul.kv.get('cfg/b')) as { Value: string }).Value).toBe('two');
    await expect(new Consul({ host: server.host, port: server.port }).kv.get('cfg/b')).rejects.toThrow();

    // DNS answers only what the anonymous token may read.
    const reg = await fetch(`${up}/v1/catalog/register`, {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({ Node: 'n1', Address: '10.0.0.7', Service: { Service: 'web', Port: 80 } }),
    });
    expect(reg.status).toBe(200);
    expect((await digA(server.dnsAddr, 'web.service.consul')).status).toBe('NXDOMAIN');
    const pol = await fetch(`${up}/v1/acl/policy`, {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({
        Name: 'dns',
        Rules: 'service_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }',
      }),
    });
    expect(pol.status).toBe(200);
    const anon = await fetch(`${up}/v1/acl/token/00000000-0000-0000-0000-000000000002`, {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({ Description: 'Anonymous Token', Policies: [{ Name: 'dns' }] }),
    });
    expect(anon.status).toBe(200);
    expect(await digA(server.dnsAddr, 'web.service.consul')).toEqual({ status: 'NOERROR', answers: ['10.0.0.7'] });
    expect((await fetch(`${up}/v1/kv/cfg/a`)).status).toBe(403);

    // An edge agent syncs with a token that may read its prefix. Its token has no acl:read, so the
    // agent cannot check tokens itself: it forwards reads and writes with the caller's token, and
    // lends its own to no one.
    await fetch(`${up}/v1/acl/policy`, {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({ Name: 'edge', Rules: 'key_prefix "cfg/" { policy = "write" }' }),
    });
    const edgeToken = (
      (await (
        await fetch(`${up}/v1/acl/token`, {
          method: 'PUT',
          headers: h,
          body: JSON.stringify({ Policies: [{ Name: 'edge' }] }),
        })
      ).json()) as { SecretID: string }
    ).SecretID;
    const edge = await spawnEdge({ upstream: up, args: ['--prefix', 'cfg/', '--token', edgeToken] });
    await until(
      'the replica',
      () => fetch(`${edge.url}/v1/kv/cfg/b?raw`, { headers: h }).then((r) => r.text()),
      (t) => t === 'two',
    );
    expect((await fetch(`${edge.url}/v1/kv/cfg/b?raw`)).status).toBe(403);
    expect((await fetch(`${edge.url}/v1/kv/cfg/c`, { method: 'PUT', body: 'by no one' })).status).toBe(403);
    const viaEdge = await fetch(`${edge.url}/v1/kv/cfg/c`, {
      method: 'PUT',
      body: 'via edge',
      headers: { 'X-Consul-Token': edgeToken },
    });
    expect((await viaEdge.text()).trim()).toBe('true');
    expect(await (await fetch(`${up}/v1/kv/cfg/c?raw`, { headers: h })).text()).toBe('via edge');
    // Without a token the agent cannot sync: the server refuses the stream.
    const blind = await spawnEdge({ upstream: up, args: ['--prefix', 'cfg/'] });
    await blind.waitFor(/403|Permission denied/, 10_000);
    expect((await fetch(`${blind.url}/v1/kv/cfg/b`)).status).not.toBe(200);

    // No secret reaches a log line.
    for (const out of [server.output(), edge.output(), blind.output()]) {
      expect(out).not.toContain(mgmt);
      expect(out).not.toContain(edgeToken);
    }
    await Promise.all([edge.stop(), blind.stop()]);
    expect(await server.stop()).toBe(0);
    // The audit log has the bootstrap, the refusals and the writes, with accessors and no secret.
    const audit = readFileSync(auditPath, 'utf8');
    expect(audit).not.toContain(mgmt);
    expect(audit).not.toContain(edgeToken);
    const records = audit
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            method: string;
            path: string;
            status: number;
            decision: string;
            accessor?: string;
            source: string;
          },
      );
    expect(records.find((r) => r.path === '/v1/acl/bootstrap')).toMatchObject({
      method: 'PUT',
      status: 200,
      decision: 'allowed',
    });
    expect(records.some((r) => r.path === '/v1/kv/cfg/a' && r.status === 403 && r.decision === 'denied')).toBe(true);
    // The tokenless write through the agent was refused, the one with a token applied.
    const cfgC = records.filter((r) => r.method === 'PUT' && r.path === '/v1/kv/cfg/c').map((r) => r.status);
    expect(cfgC).toEqual([403, 200]);
    expect(records.every((r) => r.source.includes('127.0.0.1'))).toBe(true);
  });

  it('refuses ACLs in a cluster without a join token', async () => {
    const r = await runCli(['server', '--acl-enabled', '--bootstrap-expect', '3', '--data-dir', tempDir()]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/--acl-enabled in a cluster needs --join-token/);
  });

  it('limits requests per client address over real sockets: 429 with Retry-After', async () => {
    const server = await spawnServer({ args: ['--rate-limit-ip', '1', '--rate-limit-burst', '2'] });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await fetch(`${server.url}/v1/status/leader`)).status);
    expect(codes).toEqual([200, 200, 429]);
    const limited = await fetch(`${server.url}/v1/status/leader`);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await server.stop()).toBe(0);
  });

  it('walks the agent endpoints of a real server with no token, a read-only, a write and a deny token', async () => {
    const server = await spawnServer({ args: ['--acl-enabled', '--acl-default-policy', 'deny'] });
    const up = server.url;
    const { mgmt, tokens } = await makeCallers((path, init) => fetch(`${up}${path}`, init));
    const h = { 'X-Consul-Token': mgmt };
    const R = byCaller;
    const routes: RouteCase[] = [
      {
        method: 'PUT',
        path: '/v1/agent/service/register',
        body: '{"Name":"svc","ID":"svc1","Port":1}',
        expect: R(403, 403, 200, 403),
      },
      { method: 'GET', path: '/v1/agent/services', expect: R(200, 200, 200, 200) },
      { method: 'GET', path: '/v1/agent/service/svc1', expect: R(403, 200, 200, 403) },
      { method: 'PUT', path: '/v1/agent/service/maintenance/svc1?enable=false', expect: R(403, 403, 200, 403) },
      {
        method: 'PUT',
        path: '/v1/agent/check/register',
        body: '{"Name":"c1","TTL":"30s"}',
        expect: R(403, 403, 200, 403),
      },
      { method: 'PUT', path: '/v1/agent/check/pass/c1', expect: R(403, 403, 200, 403) },
      { method: 'PUT', path: '/v1/agent/check/update/c1', body: '{"Status":"passing"}', expect: R(403, 403, 200, 403) },
      { method: 'GET', path: '/v1/agent/checks', expect: R(200, 200, 200, 200) },
      { method: 'GET', path: '/v1/agent/health/service/name/svc', expect: R(403, 200, 200, 403) },
      { method: 'GET', path: '/v1/agent/health/service/id/svc1', expect: R(403, 200, 200, 403) },
      { method: 'GET', path: '/v1/agent/self', expect: R(403, 200, 200, 403) },
      { method: 'GET', path: '/v1/agent/members', expect: R(200, 200, 200, 200) },
      { method: 'GET', path: '/v1/agent/metrics', expect: R(403, 200, 200, 403) },
      { method: 'PUT', path: '/v1/agent/join/not-an-address', expect: R(403, 403, 400, 403) },
      // After the write token removed them, an unknown ID is 404 for everyone (the deny token comes last).
      { method: 'PUT', path: '/v1/agent/check/deregister/c1', expect: R(403, 403, 200, 404) },
      { method: 'PUT', path: '/v1/agent/service/deregister/svc1', expect: R(403, 403, 200, 404) },
    ];
    const failures = await walkRoutes((path, init) => fetch(`${up}${path}`, init), tokens, routes);
    expect(failures).toEqual([]);
    // What each caller sees in the lists.
    await fetch(`${up}/v1/agent/service/register`, {
      method: 'PUT',
      headers: h,
      body: '{"Name":"svc","ID":"svc1","Port":1}',
    });
    const seen = async (who: Caller) =>
      Object.keys(
        (await (
          await fetch(`${up}/v1/agent/services`, {
            headers: tokens[who] ? { 'X-Consul-Token': tokens[who] as string } : {},
          })
        ).json()) as object,
      ).length;
    expect([await seen('none'), await seen('read'), await seen('deny')]).toEqual([0, 1, 0]);
    expect(await server.stop()).toBe(0);
  });
});
