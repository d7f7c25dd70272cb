import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestClusterProcesses } from './testing/cluster-harness.js';
import { cleanupAll } from './testing/spawn-server.js';

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
    const conf = (await (await fetch(`http://${follower.http}/v1/operator/raft/configuration`)).json()) as { Servers: Array<{ Node: string; Voter: boolean; Leader: boolean }> };
    expect(conf.Servers.map((s) => s.Node)).toEqual(['n1', 'n2', 'n3']);
    expect(conf.Servers.filter((s) => s.Leader).map((s) => s.Node)).toEqual([leader.name]);
    const peers = (await (await fetch(`http://${follower.http}/v1/status/peers`)).json()) as string[];
    expect(peers.sort()).toEqual(cluster.members.map((m) => m.raft).sort());
  });
});
