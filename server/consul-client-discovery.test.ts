import Consul from 'consul';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';

afterAll(cleanupAll);

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the consul npm client: agent, catalog and health against a real server', () => {
  it('registers through the agent, sees it in catalog and health, and keeps it across a restart', async () => {
    const server = await spawnServer();
    const consul = new Consul({ host: server.host, port: server.port });
    const self = (await consul.agent.self()) as { Config: { NodeName: string } };
    const node = self.Config.NodeName;

    await consul.agent.service.register({
      name: 'web',
      id: 'web1',
      port: 8080,
      tags: ['v1'],
      meta: { team: 'a' },
      check: { ttl: '30s', notes: 'app heartbeat' },
    } as never);
    await consul.agent.service.register({
      name: 'db',
      id: 'db1',
      port: 5432,
      checks: [{ ttl: '30s' }, { tcp: `${server.host}:${server.port}`, interval: '1s' }],
    } as never);
    const services = (await consul.agent.service.list()) as Record<string, { Service: string; Port: number }>;
    expect(Object.keys(services).sort()).toEqual(['db1', 'web1']);
    const checks = (await consul.agent.check.list()) as Record<string, { Status: string }>;
    expect(Object.keys(checks).sort()).toEqual(['serfHealth', 'service:db1:1', 'service:db1:2', 'service:web1']);
    expect(checks['service:web1']?.Status).toBe('critical');

    await consul.agent.check.pass({ id: 'service:web1', note: 'all good' } as never);
    const healthy = await until(
      () =>
        consul.health.service({ service: 'web', passing: true } as never) as Promise<
          Array<{ Service: { ID: string }; Checks: Array<{ Output: string }> }>
        >,
      (e) => e.length === 1,
    );
    expect(healthy[0]?.Service.ID).toBe('web1');
    const nodes = (await consul.catalog.service.nodes('web')) as Array<{
      Node: string;
      ServicePort: number;
      ServiceTags: string[];
    }>;
    expect(nodes).toMatchObject([{ Node: node, ServicePort: 8080, ServiceTags: ['v1'] }]);
    // Anti-entropy pushes each registration on its own, so db1 and its checks may land a moment
    // after web1, and the leader adds the server's own `consul` service in its next round: wait
    // for them rather than read once.
    await until(
      () => consul.catalog.service.list() as Promise<Record<string, string[]>>,
      (s) => Object.keys(s).sort().join() === 'consul,db,web',
    );
    const nodeList = (await consul.catalog.node.list()) as Array<{ Node: string }>;
    expect(nodeList.map((n) => n.Node)).toContain(node);
    await until(
      () => consul.health.node(node) as Promise<unknown[]>,
      (c) => c.length === 4,
    );
    expect(((await consul.health.checks('db')) as unknown[]).length).toBe(2);
    const passing = (await consul.health.state('passing')) as Array<{ CheckID: string }>;
    expect(passing.map((c) => c.CheckID)).toEqual(expect.arrayContaining(['serfHealth', 'service:web1']));
    await until(
      () => consul.health.checks('db') as Promise<Array<{ CheckID: string; Status: string }>>,
      (c) => c.find((x) => x.CheckID === 'service:db1:2')?.Status === 'passing',
    );

    // The registrations survive a restart of the agent.
    expect(await server.stop()).toBe(0);
    const again = await spawnServer({ dataDir: server.dataDir });
    const c2 = new Consul({ host: again.host, port: again.port });
    expect(Object.keys((await c2.agent.service.list()) as object).sort()).toEqual(['db1', 'web1']);
    await c2.agent.service.deregister('db1');
    await until(
      () => c2.catalog.service.list() as Promise<Record<string, string[]>>,
      (s) => !('db' in s),
    );
    await again.stop();
  });
});
