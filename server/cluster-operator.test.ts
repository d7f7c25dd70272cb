import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePorts, TestClusterProcesses } from '../testing/cluster-harness.js';
import { cleanupAll, spawnServer, tempDir } from '../testing/spawn-server.js';

let cluster: TestClusterProcesses | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});
afterAll(cleanupAll);

const json = async <T>(res: Response | Promise<Response>): Promise<T> => (await (await res).json()) as T;
type RaftConf = { Servers: Array<{ Node: string; Voter: boolean; Leader: boolean; Address: string }> };

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined as T);
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('operating a cluster', () => {
  it('grows by /v1/agent/join (learner, then voter) and shrinks by /v1/agent/leave', async () => {
    cluster = await TestClusterProcesses.start(3);
    const leader = await cluster.waitForLeader();
    const [http, raft] = (await freePorts(2)).map((p) => `127.0.0.1:${p}`);
    const n4 = await spawnServer({
      cluster: true,
      dataDir: tempDir(),
      args: [
        '--node-name',
        'n4',
        '--http-addr',
        http as string,
        '--raft-addr',
        raft as string,
        '--raft-tick-ms',
        '30',
        '--test-faults',
      ],
    });
    expect(
      (await fetch(`http://${http}/v1/agent/join/${encodeURIComponent(leader.raft)}`, { method: 'PUT' })).status,
    ).toBe(200);
    const conf = await until(
      () => json<RaftConf>(fetch(`http://${leader.http}/v1/operator/raft/configuration`)),
      (c) => c.Servers.some((s) => s.Node === 'n4' && s.Voter),
    );
    expect(conf.Servers).toHaveLength(4);
    // The new server serves the data and forwards writes.
    expect(await (await fetch(`http://${http}/v1/kv/grown`, { method: 'PUT', body: 'yes' })).text()).toBe('true');
    expect(await (await fetch(`http://${leader.http}/v1/kv/grown?raw`)).text()).toBe('yes');
    const members = await json<Array<{ Name: string; Status: number }>>(
      fetch(`http://${leader.http}/v1/agent/members`),
    );
    expect(members.map((m) => m.Name)).toEqual(['n1', 'n2', 'n3', 'n4']);
    // Leave: n4 is removed and stops by itself.
    expect((await fetch(`http://${http}/v1/agent/leave`, { method: 'PUT' })).status).toBe(200);
    expect(await n4.stop()).toBe(0);
    await until(
      () => json<RaftConf>(fetch(`http://${leader.http}/v1/operator/raft/configuration`)),
      (c) => c.Servers.length === 3,
    );
  });

  it('refuses a bad join address with 400 naming it', async () => {
    cluster = await TestClusterProcesses.start(3);
    const m = cluster.members[0]!;
    const res = await fetch(`http://${m.http}/v1/agent/join/not-an-address`, { method: 'PUT' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/not-an-address/);
  });

  it('transfers leadership, removes a peer, and answers autopilot configuration and health', async () => {
    cluster = await TestClusterProcesses.start(3);
    const leader = await cluster.waitForLeader();
    const target = cluster.members.find((m) => m !== leader)!;
    const follower = cluster.members.find((m) => m !== leader && m !== target)!;
    // Sent to a follower: forwarded to the leader.
    const moved = await fetch(`http://${follower.http}/v1/operator/raft/transfer-leader?id=${target.name}`, {
      method: 'POST',
    });
    expect(moved.status, await moved.clone().text()).toBe(200);
    expect((await cluster.waitForLeader()).name).toBe(target.name);

    // The follower answers the leader history itself, from what it saw: the old leader, then the
    // new one in a later term (with "" between them if it saw the election start), oldest first.
    type History = { Server: string; Changes: Array<{ Leader: string; Term: number; Time: string }> };
    const history = await until(
      () => json<History>(fetch(`http://${follower.http}/v1/operator/raft/leader-history`)),
      (h) => h.Changes.at(-1)?.Leader === target.name,
    );
    expect(history.Server).toBe(follower.name);
    const leaders = history.Changes.filter((c) => c.Leader !== '');
    const [before, after] = leaders.slice(-2);
    expect([before?.Leader, after?.Leader]).toEqual([leader.name, target.name]);
    expect(after!.Term).toBeGreaterThan(before!.Term);
    for (const [i, c] of history.Changes.entries()) {
      expect(c.Time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const prev = history.Changes[i - 1];
      if (!prev) continue;
      // Each entry is a change, later than the one before it.
      expect(c.Leader).not.toBe(prev.Leader);
      expect(c.Term).toBeGreaterThanOrEqual(prev.Term);
      expect(Date.parse(c.Time)).toBeGreaterThanOrEqual(Date.parse(prev.Time));
    }
    // The new leader's own history ends with itself too; each server answers for itself.
    const own = await json<History>(fetch(`http://${target.http}/v1/operator/raft/leader-history`));
    expect([own.Server, own.Changes.at(-1)?.Leader]).toEqual([target.name, target.name]);

    const health = await json<{
      Healthy: boolean;
      FailureTolerance: number;
      Servers: Array<{ Name: string; Healthy: boolean }>;
    }>(fetch(`http://${target.http}/v1/operator/autopilot/health`));
    expect(health.Servers.map((s) => s.Name)).toEqual(['n1', 'n2', 'n3']);
    const config = await json<{ CleanupDeadServers: boolean; ModifyIndex: number }>(
      fetch(`http://${leader.http}/v1/operator/autopilot/configuration`),
    );
    expect(config.CleanupDeadServers).toBe(true);
    const set = await fetch(`http://${leader.http}/v1/operator/autopilot/configuration`, {
      method: 'PUT',
      body: JSON.stringify({ CleanupDeadServers: false }),
    });
    expect(await set.text()).toBe('true');
    expect(
      (
        await json<{ CleanupDeadServers: boolean }>(
          fetch(`http://${follower.http}/v1/operator/autopilot/configuration?consistent`),
        )
      ).CleanupDeadServers,
    ).toBe(false);
    const bad = await fetch(`http://${leader.http}/v1/operator/autopilot/configuration`, {
      method: 'PUT',
      body: JSON.stringify({ MaxTrailingLogs: -1 }),
    });
    expect(bad.status).toBe(400);

    const removed = await fetch(
      `http://${target.http}/v1/operator/raft/peer?address=${encodeURIComponent(follower.raft)}`,
      { method: 'DELETE' },
    );
    expect(removed.status).toBe(200);
    const conf = await until(
      () => json<RaftConf>(fetch(`http://${target.http}/v1/operator/raft/configuration`)),
      (c) => c.Servers.length === 2,
    );
    expect(conf.Servers.map((s) => s.Node)).not.toContain(follower.name);
    const missing = await fetch(`http://${target.http}/v1/operator/raft/peer`, { method: 'DELETE' });
    expect(missing.status).toBe(400);
    // A server no longer in the configuration: Consul's RPC error, answered 500.
    const again = await fetch(`http://${target.http}/v1/operator/raft/peer?id=${follower.name}`, { method: 'DELETE' });
    expect(again.status).toBe(500);
    expect((await again.text()).trimEnd()).toBe(`id "${follower.name}" was not found in the Raft configuration`);
  });

  it('autopilot removes a dead server after the threshold, never below quorum', async () => {
    cluster = await TestClusterProcesses.start(3);
    const leader = await cluster.waitForLeader();
    await fetch(`http://${leader.http}/v1/operator/autopilot/configuration`, {
      method: 'PUT',
      body: JSON.stringify({ DeadServerLastContactThreshold: '1s' }),
    });
    const dead = cluster.members.find((m) => m !== leader)!;
    await dead.server?.stop('SIGKILL');
    dead.server = undefined;
    const conf = await until(
      () => json<RaftConf>(fetch(`http://${leader.http}/v1/operator/raft/configuration`)),
      (c) => c.Servers.length === 2,
    );
    expect(conf.Servers.map((s) => s.Node)).not.toContain(dead.name);
    // Two voters left: losing another would leave no quorum, so autopilot keeps it.
    const second = cluster.members.find((m) => m !== leader && m !== dead)!;
    await second.server?.stop('SIGKILL');
    second.server = undefined;
    await new Promise((r) => setTimeout(r, 3000));
    const after = await json<RaftConf>(fetch(`http://${leader.http}/v1/operator/raft/configuration?stale`));
    expect(after.Servers).toHaveLength(2);
  });

  const title =
    'without a leader, writes fail with 500 No cluster leader after a bounded wait; stale reads still answer';
  it(title, async () => {
    cluster = await TestClusterProcesses.start(3);
    const leader = await cluster.waitForLeader();
    expect(await (await fetch(`http://${leader.http}/v1/kv/k`, { method: 'PUT', body: 'v' })).text()).toBe('true');
    const survivor = cluster.members[0]!;
    for (const m of cluster.members) {
      if (m === survivor) continue;
      await m.server?.stop('SIGKILL');
      m.server = undefined;
    }
    await new Promise((r) => setTimeout(r, 1500));
    const started = Date.now();
    const res = await fetch(`http://${survivor.http}/v1/kv/k`, {
      method: 'PUT',
      body: 'w',
      signal: AbortSignal.timeout(30_000),
    });
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(/No cluster leader/);
    expect(Date.now() - started).toBeLessThan(25_000);
    const stale = await fetch(`http://${survivor.http}/v1/kv/k?stale&raw`);
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe('v');
    expect(stale.headers.get('X-Consul-KnownLeader')).toBe('false');
  });

  it('saves and restores a snapshot with a checksum; a corrupt one is refused and changes nothing', async () => {
    cluster = await TestClusterProcesses.start(3);
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    await fetch(`http://${leader.http}/v1/kv/snap/a`, { method: 'PUT', body: 'one' });
    const archive = new Uint8Array(await (await fetch(`http://${follower.http}/v1/snapshot`)).arrayBuffer());
    await fetch(`http://${leader.http}/v1/kv/snap/a`, { method: 'PUT', body: 'two' });
    await fetch(`http://${leader.http}/v1/kv/snap/b`, { method: 'PUT', body: 'new' });
    const corrupt = archive.slice();
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] as number) ^ 0xff;
    const refused = await fetch(`http://${leader.http}/v1/snapshot`, { method: 'PUT', body: corrupt });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/checksum/);
    expect(await (await fetch(`http://${leader.http}/v1/kv/snap/a?raw`)).text()).toBe('two');
    const restored = await fetch(`http://${follower.http}/v1/snapshot`, { method: 'PUT', body: archive });
    expect(restored.status).toBe(200);
    for (const m of cluster.members) {
      expect(await (await fetch(`http://${m.http}/v1/kv/snap/a?raw&consistent`)).text()).toBe('one');
      expect((await fetch(`http://${m.http}/v1/kv/snap/b?consistent`)).status).toBe(404);
    }
  });
});
