import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { checkLinearizability, registerModel } from '../testing/linearizability.js';
import { TestClusterProcesses } from '../testing/cluster-harness.js';
import { cleanupAll } from '../testing/spawn-server.js';
import { runWorkload, type WorkloadResult } from '../testing/workload.js';

let cluster: TestClusterProcesses | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});
afterAll(cleanupAll);

async function expectAllPresent(c: TestClusterProcesses, acked: Map<string, string>): Promise<void> {
  const leader = await c.waitForLeader();
  const keys = (await (await fetch(`http://${leader.http}/v1/kv/u/?recurse&consistent`)).json()) as Array<{
    Key: string;
    Value: string;
  }>;
  const found = new Map(keys.map((e) => [e.Key, Buffer.from(e.Value, 'base64').toString()]));
  for (const [k, v] of acked) expect(found.get(k), `acknowledged write ${k} lost`).toBe(v);
}

function expectLinearizable(w: WorkloadResult): void {
  const verdict = checkLinearizability(registerModel, w.history, 200_000_000);
  if (verdict.ok !== true)
    writeFileSync(
      `/tmp/konsul-history-${Date.now()}.json`,
      JSON.stringify(w.history.filter((h) => h.key === verdict.key)),
    );
  expect(verdict).toEqual({ ok: true });
}

/**
 * Stops (SIGTERM) a follower of `leader`, then writes keys `prefix/0..count-1` through the
 * leader, each acknowledged; returns the stopped member.
 */
async function writeWithOneStopped(
  c: TestClusterProcesses,
  leader: Awaited<ReturnType<TestClusterProcesses['waitForLeader']>>,
  prefix: string,
  count: number,
  value: (i: number) => string,
) {
  const lagging = c.members.find((m) => m !== leader)!;
  await lagging.server?.stop('SIGTERM');
  lagging.server = undefined;
  for (let i = 0; i < count; i++) {
    const r = await fetch(`http://${leader.http}/v1/kv/${prefix}/${i}`, { method: 'PUT', body: value(i) });
    expect(await r.text()).toBe('true');
  }
  return lagging;
}

/** How many keys under `prefix/` the server at `http` holds (stale read), polled until `want` or 20 s. */
async function keysOnceCaughtUp(http: string, prefix: string, want: number): Promise<number> {
  const deadline = Date.now() + 20_000;
  let count = 0;
  while (Date.now() < deadline) {
    const r = await fetch(`http://${http}/v1/kv/${prefix}/?keys&stale`);
    count = r.status === 200 ? ((await r.json()) as string[]).length : 0;
    if (count === want) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return count;
}

describe('cluster under faults (real processes)', () => {
  const title =
    'replaces a leader killed with SIGKILL under write load; ' +
    'no acknowledged write is lost; history is linearizable';
  it(title, async () => {
    cluster = await TestClusterProcesses.start(3);
    const c = cluster;
    const old = await c.waitForLeader();
    const work = runWorkload(() => c.members, { clients: 4, durationMs: 5000 });
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = performance.now();
    await old.server?.stop('SIGKILL');
    old.server = undefined;
    const next = await c.waitForLeader(20_000);
    const failoverMs = performance.now() - killedAt;
    console.log(`[cluster] new leader ${next.name} ${failoverMs.toFixed(0)} ms after killing ${old.name}`);
    expect(next.name).not.toBe(old.name);
    const w = await work;
    expect(w.ackTimes.some((t) => t > killedAt + failoverMs)).toBe(true);
    await c.startMember(old);
    await expectAllPresent(c, w.ackedUnique);
    expectLinearizable(w);
  });

  it('followers answer default reads themselves after a ReadIndex round; the history stays linearizable', async () => {
    cluster = await TestClusterProcesses.start(3);
    const c = cluster;
    const first = await c.waitForLeader();
    // Reads without ?consistent at every server while leadership moves once.
    const work = runWorkload(() => c.members, { clients: 4, durationMs: 4000, reads: 'default' });
    await new Promise((r) => setTimeout(r, 1500));
    const target = c.members.find((m) => m !== first)!;
    const moved = await fetch(`http://${first.http}/v1/operator/raft/transfer-leader?id=${target.name}`, {
      method: 'POST',
    });
    expect(moved.status).toBe(200);
    const w = await work;
    expect(w.history.filter((h) => h.input.op === 'get').length).toBeGreaterThan(50);
    expectLinearizable(w);
    // A write acknowledged by the leader is seen at once by a default read on a follower.
    const leader = await c.waitForLeader();
    const follower = c.members.find((m) => m !== leader)!;
    for (let i = 0; i < 20; i++) {
      const put = await fetch(`http://${leader.http}/v1/kv/seen`, { method: 'PUT', body: `v${i}` });
      expect(await put.text()).toBe('true');
      expect(await (await fetch(`http://${follower.http}/v1/kv/seen?raw`)).text()).toBe(`v${i}`);
    }
  });

  it('acknowledges no write and no consistent read on the minority side of a partition', async () => {
    cluster = await TestClusterProcesses.start(3);
    const c = cluster;
    const old = await c.waitForLeader();
    const others = c.members.filter((m) => m !== old);
    await c.partition([old.name]);
    const minority = await Promise.all([
      ...[1, 2, 3].map((i) =>
        fetch(`http://${old.http}/v1/kv/minority-${i}`, {
          method: 'PUT',
          body: 'x',
          signal: AbortSignal.timeout(20_000),
        }).then(
          (r) => r.status,
          () => 0,
        ),
      ),
      ...[1, 2].map(() =>
        fetch(`http://${old.http}/v1/kv/anything?consistent`, { signal: AbortSignal.timeout(20_000) }).then(
          (r) => r.status,
          () => 0,
        ),
      ),
    ]);
    for (const status of minority) expect([200, 404]).not.toContain(status);
    const next = await c.waitForLeader(20_000, others);
    const ok = await fetch(`http://${next.http}/v1/kv/majority`, { method: 'PUT', body: 'y' });
    expect(await ok.text()).toBe('true');
    await c.heal();
    await c.waitForLeader(20_000);
    for (const m of c.members) {
      for (const i of [1, 2, 3])
        expect((await fetch(`http://${m.http}/v1/kv/minority-${i}?consistent`)).status).toBe(404);
    }
  });

  it('a paused leader (SIGSTOP) is replaced, and steps down when resumed', async () => {
    cluster = await TestClusterProcesses.start(3);
    const c = cluster;
    const old = await c.waitForLeader();
    const others = c.members.filter((m) => m !== old);
    const work = runWorkload(() => c.members.filter((m) => m !== old), { clients: 4, durationMs: 5000 });
    old.server?.proc.kill('SIGSTOP');
    const next = await c.waitForLeader(20_000, others);
    expect(next).not.toBe(old);
    const w = await work;
    expect(w.okWrites).toBeGreaterThan(0);
    old.server?.proc.kill('SIGCONT');
    expect((await c.waitForLeader(20_000)).name).not.toBe(old.name);
    await expectAllPresent(c, w.ackedUnique);
    expectLinearizable(w);
  });

  it('a restarted server catches up from entries the leader reads back from its WAL', async () => {
    // 1 KiB of log in memory: the entries the stopped server misses are read back from the WAL.
    cluster = await TestClusterProcesses.start(3, ['--raft-log-memory', '1']);
    const c = cluster;
    const leader = await c.waitForLeader();
    const lagging = await writeWithOneStopped(c, leader, 'wal', 200, () => 'x'.repeat(100));
    const metrics = await (await fetch(`http://${leader.http}/v1/agent/metrics?format=prometheus`)).text();
    const held = Number(/^konsul_raft_log_memory_bytes (\d+)/m.exec(metrics)?.[1]);
    expect(held).toBeLessThanOrEqual(1024);
    const restarted = await c.startMember(lagging);
    expect(await keysOnceCaughtUp(lagging.http, 'wal', 200)).toBe(200);
    expect(restarted.output()).not.toMatch(/raft snapshot installed/);
  });

  it('a restarted server catches up by InstallSnapshot after the log was compacted', async () => {
    cluster = await TestClusterProcesses.start(3, ['--snapshot-threshold', '20', '--snapshot-interval', '0']);
    const c = cluster;
    const leader = await c.waitForLeader();
    const lagging = await writeWithOneStopped(c, leader, 'bulk', 120, String);
    const restarted = await c.startMember(lagging);
    expect(await keysOnceCaughtUp(lagging.http, 'bulk', 120)).toBe(120);
    await restarted.waitFor(/"raft snapshot installed"/);
  });
});
