import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Member, TestClusterProcesses } from '../testing/cluster-harness.js';
import { until } from '../testing/process.js';
import { cleanupAll, runClient } from '../testing/spawn-server.js';

interface Experiment {
  ID: string;
  Kind: string;
  Server: string;
  Peers: string[];
  Leader?: string;
  Ends: string;
}

let cluster: TestClusterProcesses;
beforeAll(async () => {
  cluster = await TestClusterProcesses.start(3, ['--enable-chaos']);
}, 60_000);
afterAll(async () => {
  await cluster?.stopAll();
  await cleanupAll();
});

/** PUT /v1/operator/chaos on `m` with `body`: the status and the parsed (or raw) answer. */
async function start(m: Member, body: unknown): Promise<{ status: number; body: Experiment & { text?: string } }> {
  const res = await fetch(`http://${m.http}/v1/operator/chaos`, { method: 'PUT', body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: res.status === 200 ? (JSON.parse(text) as Experiment) : ({ text } as never) };
}

/** The experiments running on `server`, asked of `m`. */
async function list(m: Member, server?: string): Promise<Experiment[]> {
  const res = await fetch(`http://${m.http}/v1/operator/chaos${server ? `?server=${server}` : ''}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Experiment[];
}

const kv = async (m: Member, key: string, query = ''): Promise<string | number> => {
  const res = await fetch(`http://${m.http}/v1/kv/${key}?raw${query}`);
  return res.status === 200 ? res.text() : res.status;
};

describe('chaos experiments on a 3-server cluster', () => {
  it('a partition of the leader from both followers elects another; when it ends the old leader follows', async () => {
    const old = await cluster.waitForLeader();
    const followers = cluster.members.filter((m) => m !== old);
    const started = await start(old, { Kind: 'partition', DurationSeconds: 6 });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ Kind: 'partition', Server: old.name, Peers: followers.map((f) => f.name) });
    // The followers, cut off from it, elect one of themselves.
    const next = await cluster.waitForLeader(20_000, followers);
    expect(next).not.toBe(old);
    expect((await list(old)).map((x) => x.ID)).toEqual([started.body.ID]);
    // Nobody stops it: it rolls back by itself, and the old leader rejoins as a follower.
    await until(
      'the partition to end by itself',
      () => list(old),
      (l) => l.length === 0,
      30_000,
    );
    const agreed = await cluster.waitForLeader(20_000);
    expect(agreed).not.toBe(old);
    expect(await (await fetch(`http://${old.http}/v1/kv/after-partition`, { method: 'PUT', body: 'ok' })).text()).toBe(
      'true',
    );
    expect(await kv(old, 'after-partition')).toBe('ok');
    await old.server!.waitFor(/"@message":"chaos experiment ended"[^\n]*"reason":"expired"/, 5000);
  });

  it('a step-down, relayed by a follower to the leader it names, moves the leadership', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    const refused = await start(follower, { Kind: 'step-down' });
    expect(refused.status).toBe(409);
    expect(refused.body.text).toMatch(new RegExp(`^step-down: ${follower.name} is not the leader`));
    const done = await start(follower, { Kind: 'step-down', Server: leader.name });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ Kind: 'step-down', Server: leader.name });
    expect(done.body.Leader).not.toBe(leader.name);
    const after = await cluster.waitForLeader(20_000);
    expect(after).not.toBe(leader);
  });

  it('latency shows in GET (also asked of another server) and ends by itself; writes still commit', async () => {
    const leader = await cluster.waitForLeader();
    const other = cluster.members.find((m) => m !== leader)!;
    const started = await start(leader, { Kind: 'latency', DelayMs: 100, JitterMs: 20, DurationSeconds: 4 });
    expect(started.status).toBe(200);
    const seen = await list(other, leader.name);
    expect(seen).toEqual([started.body]);
    expect(await (await fetch(`http://${leader.http}/v1/kv/slow`, { method: 'PUT', body: 'v' })).text()).toBe('true');
    await until(
      'the latency to end by itself',
      () => list(leader),
      (l) => l.length === 0,
      30_000,
    );
  });

  it('pause-apply holds a follower at its applied index until it ends, then it catches up', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    await fetch(`http://${leader.http}/v1/kv/paused`, { method: 'PUT', body: '1' });
    await until(
      'the follower to apply the first write',
      () => kv(follower, 'paused', '&stale'),
      (v) => v === '1',
    );
    expect((await start(follower, { Kind: 'pause-apply', DurationSeconds: 4 })).status).toBe(200);
    // The follower still acknowledges, so the write commits; it does not apply it.
    expect(await (await fetch(`http://${leader.http}/v1/kv/paused`, { method: 'PUT', body: '2' })).text()).toBe('true');
    expect(await kv(follower, 'paused', '&stale')).toBe('1');
    await until(
      'the follower to catch up',
      () => kv(follower, 'paused', '&stale'),
      (v) => v === '2',
      30_000,
    );
    expect(await list(follower)).toEqual([]);
  });

  it('konsul chaos starts, lists and stops an experiment', async () => {
    const leader = await cluster.waitForLeader();
    const at = ['-http-addr', leader.http];
    const started = await runClient(['chaos', 'start', '-kind', 'loss', '-loss', '20', '-duration', '60s', ...at]);
    expect([started.code, started.stderr]).toEqual([0, '']);
    const id = /^Started loss experiment (\S+) on (\S+) \(peers [^)]*: 20% dropped\); it ends at \S+\n$/.exec(
      started.stdout,
    )?.[1];
    expect(id, started.stdout).toBeDefined();
    const listed = await runClient(['chaos', 'list', ...at]);
    expect(listed.stdout).toMatch(new RegExp(`^ID +Kind +Server +Peers +Effect +Ends\\n${id} +loss +${leader.name} `));
    const asJson = JSON.parse((await runClient(['chaos', 'list', '-format=json', ...at])).stdout) as Experiment[];
    expect(asJson.map((x) => x.ID)).toEqual([id]);
    const stopped = await runClient(['chaos', 'stop', id as string, ...at]);
    expect([stopped.code, stopped.stdout]).toEqual([0, `Stopped loss experiment ${id} on ${leader.name}\n`]);
    expect((await runClient(['chaos', 'list', ...at])).stdout).toBe('No chaos experiments running\n');
    const again = await runClient(['chaos', 'stop', id as string, ...at]);
    expect([again.code, again.stderr]).toEqual([
      1,
      `the server answered 404: No chaos experiment "${id}" runs on ${leader.name}\n`,
    ]);
    const bad = await runClient(['chaos', 'start', '-kind', 'latency', '-delay', 'soon', '-duration', '5s', ...at]);
    expect([bad.code, bad.stderr]).toEqual([
      2,
      '-delay must be a duration in whole milliseconds such as 200ms or 2s, not "soon"\n',
    ]);
  });
});
