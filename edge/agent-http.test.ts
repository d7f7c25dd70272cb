import { afterAll, describe, expect, it } from 'vitest';
import { freePorts } from '../testing/cluster-harness.js';
import { spawnDevServerAt } from '../testing/spawn-server.js';
import { cleanupAll, tempDir, until } from '../testing/process.js';
import { spawnEdge } from '../testing/spawn-edge.js';

afterAll(cleanupAll);

const text = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
};
const put = (url: string, body: string) => text(url, { method: 'PUT', body });

/** The agent's metrics: the value of each series of the Prometheus text, by `name{labels}` as written there. */
async function metricsOf(agent: string): Promise<Map<string, number>> {
  const res = await text(`${agent}/v1/agent/metrics?format=prometheus`);
  expect(res.status).toBe(200);
  const out = new Map<string, number>();
  for (const line of res.body.split('\n')) {
    const m = /^(\S+) (\S+)$/.exec(line);
    if (m && !line.startsWith('#')) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

interface OutboxView {
  ID: string;
  Status: string;
  Path: string;
  Result?: { StatusCode: number; Body: string; Index?: number; Replayed?: boolean };
}

describe('edge agent on Node, synced over HTTP', () => {
  const title = 'replicates only its scope, serves reads offline, queues writes durably and applies each exactly once';
  it(title, async () => {
    const [httpPort] = await freePorts(1);
    const serverDir = tempDir();
    let server = await spawnDevServerAt(serverDir, `127.0.0.1:${httpPort}`);
    const up = server.url;
    await put(`${up}/v1/kv/cfg/a`, 'one');
    await put(`${up}/v1/kv/cfg/b`, 'two');
    await put(`${up}/v1/kv/other/x`, 'not replicated');
    for (const [node, svc, status] of [
      ['n1', 'web', 'passing'],
      ['n2', 'web', 'critical'],
      ['n1', 'db', 'passing'],
    ] as const) {
      const res = await put(
        `${up}/v1/catalog/register`,
        JSON.stringify({
          Node: node,
          Address: '10.0.0.1',
          Service: { ID: `${svc}-${node}`, Service: svc, Port: 80 },
          Check: { CheckID: `chk-${svc}`, Name: 'c', Status: status, ServiceID: `${svc}-${node}` },
        }),
      );
      expect(res.status).toBe(200);
    }

    const edgeDir = tempDir('konsul-edge-');
    let edge = await spawnEdge({ upstream: up, dataDir: edgeDir, args: ['--prefix', 'cfg/', '--service', 'web'] });
    await edge.waitFor(/replica snapshot applied/);

    // Reads come from the replica.
    const a = await until(
      'cfg/a on the agent',
      () => text(`${edge.url}/v1/kv/cfg/a?raw`),
      (r) => r.body === 'one',
    );
    expect(a.headers.get('x-consul-knownleader')).toBe('true');
    expect(a.headers.get('x-consul-effective-consistency')).toBe('stale');
    // A linearizable read is the servers' to answer.
    const consistent = await text(`${edge.url}/v1/kv/cfg/a?raw&consistent`);
    expect([consistent.body, consistent.headers.get('x-consul-effective-consistency')]).toEqual(['one', 'consistent']);
    const listed = JSON.parse((await text(`${edge.url}/v1/kv/cfg/?keys`)).body) as string[];
    expect(listed).toEqual(['cfg/a', 'cfg/b']);
    const web = JSON.parse((await text(`${edge.url}/v1/health/service/web`)).body) as Array<{ Node: { Node: string } }>;
    expect(web.map((e) => e.Node.Node).sort()).toEqual(['n1', 'n2']);
    const passing = JSON.parse((await text(`${edge.url}/v1/health/service/web?passing`)).body) as Array<{
      Node: { Node: string };
    }>;
    expect(passing.map((e) => e.Node.Node)).toEqual(['n1']);
    const catalog = JSON.parse((await text(`${edge.url}/v1/catalog/service/web`)).body) as Array<{
      Node: string;
      ServiceID: string;
      ServicePort: number;
    }>;
    expect(catalog.map((e) => [e.Node, e.ServiceID, e.ServicePort]).sort()).toEqual([
      ['n1', 'web-n1', 80],
      ['n2', 'web-n2', 80],
    ]);
    const checks = JSON.parse((await text(`${edge.url}/v1/health/checks/web`)).body) as Array<{ Status: string }>;
    expect(checks.map((c) => c.Status).sort()).toEqual(['critical', 'passing']);

    // A blocking query on the agent wakes when the servers change the key.
    const index = Number(a.headers.get('x-consul-index'));
    const blocked = text(`${edge.url}/v1/kv/cfg/a?raw&index=${index}&wait=10s`);
    await new Promise((r) => setTimeout(r, 200));
    await put(`${up}/v1/kv/cfg/a`, 'uno');
    const woke = await blocked;
    expect(woke.body).toBe('uno');
    expect(Number(woke.headers.get('x-consul-index'))).toBeGreaterThan(index);

    // Writes while connected are forwarded; the client gets the server's answer.
    expect((await put(`${edge.url}/v1/kv/cfg/c?cas=0`, 'three')).body.trim()).toBe('true');
    expect((await put(`${edge.url}/v1/kv/cfg/c?cas=0`, 'again')).body.trim()).toBe('false');
    expect((await text(`${up}/v1/kv/cfg/c?raw`)).body).toBe('three');
    // Out-of-scope reads are forwarded too while connected.
    expect((await text(`${edge.url}/v1/kv/other/x?raw`)).body).toBe('not replicated');

    // The servers go away: reads keep working from the replica, marked as stale.
    const indexOfB = Number((await text(`${edge.url}/v1/kv/cfg/b`)).headers.get('x-consul-index'));
    expect(await server.stop()).toBe(0);
    await edge.waitFor(/lost the sync stream/);
    const offline = await until(
      'the agent to notice',
      () => text(`${edge.url}/v1/kv/cfg/a?raw`),
      (r) => r.headers.get('x-consul-knownleader') === 'false',
    );
    expect(offline.body).toBe('uno');
    await new Promise((r) => setTimeout(r, 300));
    expect(Number((await text(`${edge.url}/v1/kv/cfg/a`)).headers.get('x-consul-lastcontact'))).toBeGreaterThanOrEqual(
      300,
    );
    expect((await text(`${edge.url}/v1/health/service/web?passing`)).status).toBe(200);
    const offlineCatalog = await text(`${edge.url}/v1/catalog/service/web`);
    expect(offlineCatalog.status).toBe(200);
    expect(offlineCatalog.headers.get('x-consul-knownleader')).toBe('false');
    // db was not subscribed: not on the agent.
    expect((await text(`${edge.url}/v1/health/service/db`)).status).toBe(503);
    // Only the scope was replicated: other/x is not on the agent.
    const missing = await text(`${edge.url}/v1/kv/other/x`);
    expect(missing.status).toBe(503);
    expect(missing.body).toMatch(/not replicated/);
    expect((await text(`${edge.url}/v1/kv/cfg/a?consistent`)).status).toBe(503);

    // Writes made offline are queued (202 and an id), including one whose cas will fail.
    const queued: string[] = [];
    for (const [method, path, body] of [
      ['PUT', '/v1/kv/cfg/d', 'four'],
      ['PUT', `/v1/kv/cfg/b?cas=${indexOfB + 1000}`, 'stale cas'],
      ['DELETE', '/v1/kv/cfg/c', ''],
    ] as const) {
      const res = await text(`${edge.url}${path}`, { method, ...(body ? { body } : {}) });
      expect(res.status).toBe(202);
      const answer = JSON.parse(res.body) as { OutboxID: string; Status: string };
      expect(answer.Status).toBe('pending');
      queued.push(answer.OutboxID);
    }
    // A write the agent cannot understand is refused at once, not queued.
    expect((await text(`${edge.url}/v1/kv/cfg/e?cas=notanumber`, { method: 'PUT', body: 'x' })).status).toBe(400);
    // The agent's own metrics say it: offline, three writes queued, the replica where it was.
    const offlineMetrics = await metricsOf(edge.url);
    expect(offlineMetrics.get('konsul_edge_link_up')).toBe(0);
    expect(offlineMetrics.get('konsul_edge_outbox_queued_total')).toBe(3);
    expect(offlineMetrics.get('konsul_edge_outbox_pending')).toBe(3);
    expect(offlineMetrics.get('konsul_edge_replica_index')).toBeGreaterThanOrEqual(indexOfB);
    expect(offlineMetrics.get('konsul_edge_last_contact_seconds')).toBeGreaterThan(0.3);
    expect(offlineMetrics.get('konsul_edge_sync_messages_total{outcome="applied"}')).toBeGreaterThan(0);
    // Consul's JSON shape from the same registry.
    const json = JSON.parse((await text(`${edge.url}/v1/agent/metrics`)).body) as {
      Gauges: Array<{ Name: string; Value: number }>;
      Counters: Array<{ Name: string; Count: number }>;
    };
    expect(json.Gauges.find((g) => g.Name === 'konsul_edge_outbox_pending')?.Value).toBe(3);
    expect(json.Counters.find((g) => g.Name === 'konsul_edge_outbox_queued_total')?.Count).toBe(3);

    // The agent restarts while still offline: the replica and the outbox survive.
    expect(await edge.stop()).toBe(0);
    edge = await spawnEdge({ upstream: up, dataDir: edgeDir, args: ['--prefix', 'cfg/', '--service', 'web'] });
    expect(edge.output()).toMatch(/replica loaded/);
    const reloaded = await text(`${edge.url}/v1/kv/cfg/a?raw`);
    expect(reloaded.body).toBe('uno');
    expect(reloaded.headers.get('x-consul-knownleader')).toBe('false');
    const kept = JSON.parse((await text(`${edge.url}/v1/edge/outbox`)).body) as OutboxView[];
    expect(kept.map((i) => [i.ID, i.Status])).toEqual(queued.map((id) => [id, 'pending']));

    // The servers come back: every queued write is applied once, the cas conflict is reported.
    server = await spawnDevServerAt(serverDir, `127.0.0.1:${httpPort}`);
    const done = await until(
      'the outbox to drain',
      async () => JSON.parse((await text(`${edge.url}/v1/edge/outbox`)).body) as OutboxView[],
      (items) => items.every((i) => i.Status !== 'pending'),
      20_000,
    );
    expect(done.map((i) => i.Status)).toEqual(['applied', 'conflict', 'applied']);
    expect(done[1]?.Result?.Body.trim()).toBe('false');
    const one = JSON.parse((await text(`${edge.url}/v1/edge/outbox/${queued[0]}`)).body) as OutboxView;
    expect(one.Status).toBe('applied');
    expect((await text(`${edge.url}/v1/edge/outbox/nope`)).status).toBe(404);
    await edge.waitFor(/queued write not applied: a condition failed/);
    const d = JSON.parse((await text(`${up}/v1/kv/cfg/d`)).body) as Array<{ ModifyIndex: number; CreateIndex: number }>;
    expect(d[0]?.ModifyIndex).toBe(done[0]?.Result?.Index);
    expect((await text(`${up}/v1/kv/cfg/b?raw`)).body).toBe('two');
    expect((await text(`${up}/v1/kv/cfg/c`)).status).toBe(404);

    // The replica catches up with the servers (the queued writes included) and goes back online.
    await until(
      'cfg/d on the agent',
      () => text(`${edge.url}/v1/kv/cfg/d?raw`),
      (r) => r.body === 'four' && r.headers.get('x-consul-knownleader') === 'true',
      20_000,
    );

    // The replay outcomes are counted; online again, the replica is not behind what the servers showed.
    const online = await until(
      'the agent to count itself caught up',
      () => metricsOf(edge.url),
      (m) => m.get('konsul_edge_link_up') === 1 && m.get('konsul_edge_replica_lag_index') === 0,
    );
    expect(online.get('konsul_edge_outbox_replays_total{outcome="applied"}')).toBe(2);
    expect(online.get('konsul_edge_outbox_replays_total{outcome="conflict"}')).toBe(1);
    expect(online.get('konsul_edge_outbox_pending')).toBe(0);
    expect(online.get('konsul_edge_server_index')).toBeGreaterThanOrEqual(done[2]?.Result?.Index ?? Infinity);
    expect(online.get('konsul_edge_replica_index')).toBe(online.get('konsul_edge_server_index'));

    // Restarting the agent once more does not replay anything: cfg/d keeps its index.
    expect(await edge.stop()).toBe(0);
    edge = await spawnEdge({ upstream: up, dataDir: edgeDir, args: ['--prefix', 'cfg/', '--service', 'web'] });
    // It resumes from its index rather than asking for a snapshot.
    await edge.waitFor(/"sync stream open"[^\n]*"after":[1-9]/);
    await put(`${up}/v1/kv/cfg/after-restart`, 'x');
    await until(
      'a change after the restart',
      () => text(`${edge.url}/v1/kv/cfg/after-restart?raw`),
      (r) => r.body === 'x',
    );
    expect(edge.output()).not.toMatch(/replica snapshot applied/);
    const after = JSON.parse((await text(`${edge.url}/v1/edge/outbox`)).body) as OutboxView[];
    expect(after.map((i) => i.Status)).toEqual(['applied', 'conflict', 'applied']);
    const d2 = JSON.parse((await text(`${up}/v1/kv/cfg/d`)).body) as Array<{ ModifyIndex: number }>;
    expect(d2[0]?.ModifyIndex).toBe(d[0]?.ModifyIndex);
    await edge.stop();
    await server.stop();
  });
});
