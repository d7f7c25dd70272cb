import { afterAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../server/testing/cluster-harness.js';
import { type SpawnedServer, spawnServer } from '../../server/testing/spawn-server.js';
import { cleanupAll, tempDir, until } from '../testing/process.js';
import { type EdgeTestRuntime, spawnEdge } from '../testing/spawn-edge.js';

afterAll(cleanupAll);

const text = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
};
const put = (url: string, body: string) => text(url, { method: 'PUT', body });

/** A dev server on fixed ports (it is stopped and started again where the agents expect it). */
const startServer = (dataDir: string, http: string, mqtt: string): Promise<SpawnedServer> =>
  spawnServer({ cluster: true, dataDir, args: ['--dev', '--http-addr', http, '--raft-addr', '127.0.0.1:0', '--dns-addr', '127.0.0.1:0', '--mqtt-addr', mqtt] });

describe('the same edge agent bin under Deno and Bun', () => {
  it('syncs over HTTP and MQTT, serves blocking reads, forwards writes, and queues them offline', async () => {
    const [httpPort, mqttPort] = await freePorts(2);
    const http = `127.0.0.1:${httpPort}`;
    const mqttAddr = `127.0.0.1:${mqttPort}`;
    const serverDir = tempDir();
    let server = await startServer(serverDir, http, mqttAddr);
    const up = server.url;
    await put(`${up}/v1/kv/cfg/mode`, 'auto');

    const cases: Array<{ runtime: EdgeTestRuntime; sync: 'http' | 'mqtt'; storage: 'fs' | 'memory' }> = [
      { runtime: 'deno', sync: 'http', storage: 'fs' },
      { runtime: 'deno', sync: 'mqtt', storage: 'memory' },
      { runtime: 'bun', sync: 'http', storage: 'memory' },
      { runtime: 'bun', sync: 'mqtt', storage: 'fs' },
    ];
    const agents = await Promise.all(
      cases.map((c) =>
        spawnEdge({
          runtime: c.runtime,
          upstream: up,
          args: ['--sync', c.sync, '--mqtt-url', `mqtt://${mqttAddr}`, '--storage', c.storage, '--prefix', 'cfg/', '--node-name', `${c.runtime}-${c.sync}`],
        }),
      ),
    );
    for (const [i, a] of agents.entries()) {
      expect(a.runtime).toBe(cases[i]?.runtime);
      await until(`${a.runtime} to replicate`, () => text(`${a.url}/v1/kv/cfg/mode?raw`), (r) => r.body === 'auto' && r.headers.get('x-consul-knownleader') === 'true');
    }
    const status = JSON.parse((await text(`${agents[0]?.url}/v1/edge/status`)).body) as { Runtime: string; Connected: boolean; RssBytes: number };
    expect(status).toMatchObject({ Runtime: 'deno', Connected: true });
    expect(status.RssBytes).toBeGreaterThan(0);

    // Blocking queries on every agent wake on one change at the servers.
    const indexes = await Promise.all(agents.map(async (a) => Number((await text(`${a.url}/v1/kv/cfg/mode`)).headers.get('x-consul-index'))));
    const woken = agents.map((a, i) => text(`${a.url}/v1/kv/cfg/mode?raw&index=${indexes[i]}&wait=15s`));
    await new Promise((r) => setTimeout(r, 300));
    await put(`${up}/v1/kv/cfg/mode`, 'manual');
    for (const w of await Promise.all(woken)) expect(w.body).toBe('manual');

    // Writes go through each agent to the servers.
    for (const a of agents) expect((await put(`${a.url}/v1/kv/cfg/from-${a.agentId}`, a.runtime)).body.trim()).toBe('true');
    for (const a of agents) expect((await text(`${up}/v1/kv/cfg/from-${a.agentId}?raw`)).body).toBe(a.runtime);

    // Offline: reads from the replica, writes queued; back online: applied.
    expect(await server.stop()).toBe(0);
    const ids: string[] = [];
    for (const a of agents) {
      await until(`${a.agentId} to go offline`, () => text(`${a.url}/v1/kv/cfg/mode?raw`), (r) => r.headers.get('x-consul-knownleader') === 'false' && r.body === 'manual', 20_000);
      const queued = await put(`${a.url}/v1/kv/cfg/offline-${a.agentId}`, 'queued');
      expect(queued.status).toBe(202);
      ids.push((JSON.parse(queued.body) as { OutboxID: string }).OutboxID);
    }
    server = await startServer(serverDir, http, mqttAddr);
    for (const [i, a] of agents.entries()) {
      await until(`${a.agentId}'s outbox`, async () => JSON.parse((await text(`${a.url}/v1/edge/outbox/${ids[i]}`)).body) as { Status: string }, (o) => o.Status === 'applied', 20_000);
      expect((await text(`${up}/v1/kv/cfg/offline-${a.agentId}?raw`)).body).toBe('queued');
      await until(`${a.agentId} back online`, () => text(`${a.url}/v1/kv/cfg/offline-${a.agentId}?raw`), (r) => r.body === 'queued' && r.headers.get('x-consul-knownleader') === 'true', 20_000);
    }
    for (const a of agents) expect(await a.stop()).toBe(0);
    await server.stop();
  });
});
