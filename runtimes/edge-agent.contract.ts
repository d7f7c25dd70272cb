import { expect } from 'vitest';
import { freePorts } from '../testing/cluster-harness.js';
import { spawnDevServerAt } from '../testing/spawn-server.js';
import { tempDir, until } from '../testing/process.js';
import { type EdgeTestRuntime, spawnEdge } from '../testing/spawn-edge.js';

const text = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
};
const put = (url: string, body: string) => text(url, { method: 'PUT', body });

/** One agent under test: the runtime it runs on, how it syncs, where it keeps its replica. */
export interface EdgeCase {
  readonly runtime: EdgeTestRuntime;
  readonly sync: 'http' | 'mqtt';
  readonly storage: 'fs' | 'memory';
}

/**
 * The edge agent contract every runtime passes: against one dev server it replicates a prefix,
 * serves blocking reads that wake on a change, forwards writes, and while the server is down keeps
 * serving (KnownLeader false) and queues writes that are applied once the server is back.
 */
export async function edgeAgentContract(cases: readonly EdgeCase[], timeoutMs = 20_000): Promise<void> {
  const [httpPort, mqttPort] = await freePorts(2);
  const http = `127.0.0.1:${httpPort}`;
  const mqttAddr = `127.0.0.1:${mqttPort}`;
  const serverDir = tempDir();
  let server = await spawnDevServerAt(serverDir, http, mqttAddr);
  const up = server.url;
  await put(`${up}/v1/kv/cfg/mode`, 'auto');

  const agents = await Promise.all(
    cases.map((c) =>
      spawnEdge({
        timeoutMs: timeoutMs * 3,
        runtime: c.runtime,
        upstream: up,
        args: [
          '--sync',
          c.sync,
          '--mqtt-url',
          `mqtt://${mqttAddr}`,
          '--storage',
          c.storage,
          '--prefix',
          'cfg/',
          '--node-name',
          `${c.runtime}-${c.sync}`,
        ],
      }),
    ),
  );
  for (const [i, a] of agents.entries()) {
    expect(a.runtime).toBe(cases[i]?.runtime.replace('-arm64', ''));
    await until(
      `${a.runtime} to replicate`,
      () => text(`${a.url}/v1/kv/cfg/mode?raw`),
      (r) => r.body === 'auto' && r.headers.get('x-consul-knownleader') === 'true',
      timeoutMs,
    );
  }
  for (const [i, a] of agents.entries()) {
    const status = JSON.parse((await text(`${a.url}/v1/edge/status`)).body) as {
      Runtime: string;
      Connected: boolean;
      RssBytes: number | null;
    };
    expect(status).toMatchObject({ Runtime: cases[i]?.runtime.replace('-arm64', ''), Connected: true });
    // Bun under qemu cannot read its own RSS; everywhere else the agent reports it.
    if (cases[i]?.runtime !== 'bun-arm64') expect(status.RssBytes).toBeGreaterThan(0);
    // Its own metrics, in the Prometheus text format, on every runtime.
    const metrics = await text(`${a.url}/v1/agent/metrics?format=prometheus`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^konsul_edge_link_up 1$/m);
    expect(Number(/^konsul_edge_replica_index (\d+)$/m.exec(metrics.body)?.[1])).toBeGreaterThan(0);
    expect(metrics.body).toMatch(/^konsul_process_cpu_seconds_total \S+$/m);
    // The Web UI, read from the bundle's ui/ with the runtime's own file API.
    const ui = await text(`${a.url}/ui/`);
    expect([ui.status, ui.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(ui.body).toContain('<div id="root"></div>');
    expect((await text(`${a.url}/ui/services/web`)).body).toBe(ui.body);
    expect((await text(`${a.url}/ui/assets/nope.js`)).status).toBe(404);
    expect((await text(`${a.url}/ui/%zz`)).status).toBe(400);
  }

  // Blocking queries on every agent wake on one change at the servers.
  const indexes = await Promise.all(
    agents.map(async (a) => Number((await text(`${a.url}/v1/kv/cfg/mode`)).headers.get('x-consul-index'))),
  );
  const woken = agents.map((a, i) => text(`${a.url}/v1/kv/cfg/mode?raw&index=${indexes[i]}&wait=15s`));
  await new Promise((r) => setTimeout(r, 300));
  await put(`${up}/v1/kv/cfg/mode`, 'manual');
  for (const w of await Promise.all(woken)) expect(w.body).toBe('manual');

  // Writes go through each agent to the servers.
  for (const a of agents)
    expect((await put(`${a.url}/v1/kv/cfg/from-${a.agentId}`, a.runtime)).body.trim()).toBe('true');
  for (const a of agents) expect((await text(`${up}/v1/kv/cfg/from-${a.agentId}?raw`)).body).toBe(a.runtime);

  // Offline: reads from the replica, writes queued; back online: applied.
  expect(await server.stop()).toBe(0);
  const ids: string[] = [];
  for (const a of agents) {
    await until(
      `${a.agentId} to go offline`,
      () => text(`${a.url}/v1/kv/cfg/mode?raw`),
      (r) => r.headers.get('x-consul-knownleader') === 'false' && r.body === 'manual',
      timeoutMs,
    );
    const queued = await put(`${a.url}/v1/kv/cfg/offline-${a.agentId}`, 'queued');
    expect(queued.status).toBe(202);
    ids.push((JSON.parse(queued.body) as { OutboxID: string }).OutboxID);
  }
  server = await spawnDevServerAt(serverDir, http, mqttAddr);
  for (const [i, a] of agents.entries()) {
    await until(
      `${a.agentId}'s outbox`,
      async () => JSON.parse((await text(`${a.url}/v1/edge/outbox/${ids[i]}`)).body) as { Status: string },
      (o) => o.Status === 'applied',
      timeoutMs,
    );
    expect((await text(`${up}/v1/kv/cfg/offline-${a.agentId}?raw`)).body).toBe('queued');
    await until(
      `${a.agentId} back online`,
      () => text(`${a.url}/v1/kv/cfg/offline-${a.agentId}?raw`),
      (r) => r.body === 'queued' && r.headers.get('x-consul-knownleader') === 'true',
      timeoutMs,
    );
  }
  for (const a of agents) {
    const code = await a.stop();
    expect(code, `${a.runtime} (${a.agentId}) exit; its output:\n${a.output().slice(-3000)}`).toBe(0);
  }
  await server.stop();
}
