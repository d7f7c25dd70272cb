// Patroni (the PostgreSQL HA manager) with Konsul as its DCS, through Patroni's own `consul:`
// client: three real Konsul servers with default settings, three PostgreSQL members each managed
// by a Patroni talking to a different Konsul server (so two of them talk to followers). Patroni
// keeps its leader lock as a KV key held by a TTL session (service/<scope>/leader), so this
// exercises sessions, acquire, cas, recurse reads and blocking queries the way Consul serves them.
//
// Knobs: KONSUL_CONSUMERS_FAILOVERS (default 1) repeats the failover and rejoin cases;
// KONSUL_CONSUMERS_KONSUL_ARGS adds flags to every Konsul server (e.g. "--session-ttl-min 5"
// to look past a session TTL refusal while investigating).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts, type Member, TestClusterProcesses } from '../cluster-harness.js';
import { cleanupAll, tempDir, until } from '../process.js';
import { chownTree, databaseUser } from './os-user.js';
import { PatroniCluster, type PatroniMember, type PatroniTiming, postgresBinDir } from './patroni.js';
import { killAllGroups, killProcessesMentioning } from './process-group.js';

/** Patroni's DCS timing: ttl 10 as asked of Konsul; loop_wait + 2 × retry_timeout <= ttl. */
const TIMING: PatroniTiming = { ttl: 10, loopWait: 2, retryTimeout: 4 };
const SCOPE = 'konsul-consumers';
const LEADER_KEY = `service/${SCOPE}/leader`;

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in ${min}..${max}`);
  return n;
}

const FAILOVER_ROUNDS = intEnv('KONSUL_CONSUMERS_FAILOVERS', 1, 1, 20);
const EXTRA_KONSUL_ARGS = (process.env['KONSUL_CONSUMERS_KONSUL_ARGS'] ?? '').split(/\s+/).filter(Boolean);

/** The leader key as Konsul serves it, or undefined when absent. */
interface LeaderKey {
  readonly value: string;
  readonly session: string | undefined;
  readonly modifyIndex: number;
}

async function readLeaderKey(http: string): Promise<LeaderKey | undefined> {
  const res = await fetch(`http://${http}/v1/kv/${LEADER_KEY}`, { signal: AbortSignal.timeout(3000) });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET ${LEADER_KEY} on ${http}: ${res.status} ${await res.text()}`);
  const [entry] = (await res.json()) as { Value: string | null; Session?: string; ModifyIndex: number }[];
  if (!entry) return undefined;
  return {
    value: Buffer.from(entry.Value ?? '', 'base64').toString(),
    session: entry.Session,
    modifyIndex: entry.ModifyIndex,
  };
}

/** GET /v1/session/info/<id>: the session, or undefined when absent. */
async function readSession(
  http: string,
  id: string,
): Promise<{ Node: string; TTL: string; Checks?: string[]; NodeChecks?: string[] } | undefined> {
  const res = await fetch(`http://${http}/v1/session/info/${id}`, { signal: AbortSignal.timeout(3000) });
  if (res.status !== 200) throw new Error(`GET /v1/session/info/${id} on ${http}: ${res.status} ${await res.text()}`);
  const [s] = (await res.json()) as { Node: string; TTL: string; Checks?: string[]; NodeChecks?: string[] }[];
  return s;
}

const seconds = (fromMs: number): string => ((performance.now() - fromMs) / 1000).toFixed(1);

describe('Patroni 3 on a 3-server Konsul cluster', () => {
  let konsul: TestClusterProcesses | undefined;
  let pg: PatroniCluster | undefined;
  let base: string | undefined;

  /** Konsul's and Patroni's recent output, appended to a failed wait's message. */
  const explain = (): string => {
    const servers = (konsul?.members ?? []).map((m) => {
      const out = m.server?.output() ?? '';
      return `----- konsul ${m.name} (last 15 lines) -----\n${out.split('\n').slice(-15).join('\n')}`;
    });
    return `\n${pg?.tails(30) ?? ''}\n${servers.join('\n')}`;
  };

  /** until() whose timeout error carries the logs of every process. */
  async function waitUntil<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
    try {
      return await until(what, probe, ok, ms);
    } catch (err) {
      throw new Error(`${(err as Error).message}${explain()}`, { cause: err });
    }
  }

  /** Set once (a) saw a primary: the later cases build on it and fail at once without one. */
  let bootstrapped = false;
  const cluster = (): PatroniCluster => {
    if (!pg) throw new Error('the Patroni cluster did not start');
    return pg;
  };
  const bootstrappedCluster = (): PatroniCluster => {
    if (!bootstrapped) throw new Error('case (a) never saw a primary, so there is nothing to fail over');
    return cluster();
  };

  const konsulOf = (m: PatroniMember): Member => {
    const k = konsul?.members.find((s) => s.http === m.spec.konsul);
    if (!k) throw new Error(`no Konsul server for ${m.name}`);
    return k;
  };

  /** The one running member answering /primary (waits up to `ms` for exactly one). */
  async function onePrimary(ms: number): Promise<PatroniMember> {
    const [name] = await waitUntil(
      'exactly one primary',
      () => cluster().primaries(),
      (p) => p.length === 1,
      ms,
    );
    return cluster().member(name as string);
  }

  /** Waits until `replicas` stream from `primary` and show the row (id, note) written on it. */
  async function expectReplicasFollow(primary: PatroniMember, replicas: PatroniMember[], id: number): Promise<void> {
    const note = `written on ${primary.name} as row ${id}`;
    await primary.sql(`INSERT INTO consumers_probe (id, note) VALUES (${id}, '${note}')`);
    await waitUntil(
      `${replicas.map((r) => r.name).join(', ')} streaming from ${primary.name}`,
      () => primary.status(),
      (s) =>
        replicas.every((r) =>
          (s?.replication ?? []).some((w) => w.application_name === r.name && w.state === 'streaming'),
        ),
      60_000,
    );
    for (const r of replicas) {
      await waitUntil(
        `row ${id} on ${r.name}`,
        () => r.sql(`SELECT note FROM consumers_probe WHERE id = ${id}`).catch((e: Error) => e.message),
        (v) => v === note,
        30_000,
      );
      expect((await r.status())?.role).toBe('replica');
    }
  }

  beforeAll(async () => {
    const binDir = postgresBinDir();
    if (!binDir) throw new Error('PostgreSQL is not installed: run `node testing/system-packages.mjs consumers`');
    const runAs = databaseUser();
    konsul = await TestClusterProcesses.start(3, EXTRA_KONSUL_ARGS, { defaults: true });
    base = tempDir('konsul-patroni-');
    chownTree(base, runAs);
    const ports = await freePorts(6);
    pg = PatroniCluster.create({
      scope: SCOPE,
      baseDir: base,
      binDir,
      timing: TIMING,
      runAs,
      specs: konsul.members.map((k, i) => ({
        name: `pg${i + 1}`,
        restPort: ports[2 * i] as number,
        pgPort: ports[2 * i + 1] as number,
        konsul: k.http,
      })),
    });
    console.log(
      `[patroni] Konsul ${konsul.members.map((k) => `${k.name}=${k.http}`).join(' ')}; ` +
        `${pg.members.map((m) => `${m.name} -> ${m.spec.konsul}`).join(', ')}; ` +
        `ttl=${TIMING.ttl} loop_wait=${TIMING.loopWait} retry_timeout=${TIMING.retryTimeout}; ` +
        `PostgreSQL as ${runAs ? runAs.name : 'the current user'}`,
    );
    for (const m of pg.members) m.start();
  }, 60_000);

  afterAll(async () => {
    await pg?.killAll().catch(() => undefined);
    await killAllGroups();
    if (base) killProcessesMentioning(base);
    await konsul?.stopAll();
    await cleanupAll();
  }, 60_000);

  it('(a) elects exactly one primary, named by the leader key; the replicas stream from it', async () => {
    const t0 = performance.now();
    const c = cluster();
    const primary = await onePrimary(90_000);
    bootstrapped = true;
    // Every member reads the same single leader from Konsul, and all three are running.
    const views = await waitUntil(
      'every member reporting one leader and three running members',
      () => Promise.all(c.members.map((m) => m.cluster())),
      (vs) =>
        vs.every(
          (v) =>
            v !== undefined &&
            v.length === 3 &&
            v.every((x) => x.state === 'running') &&
            v
              .filter((x) => x.role === 'leader')
              .map((x) => x.name)
              .join() === primary.name,
        ),
      60_000,
    );
    expect(views).toHaveLength(3);
    expect(await c.primaries()).toEqual([primary.name]);
    console.log(`[patroni] bootstrap: ${primary.name} primary and 2 replicas running after ${seconds(t0)} s`);
    // Patroni asks for a session TTL of ttl/2; refused, it reads Config.SessionTTLMin and retries.
    const ttls = c.members.map((m) => {
      const a = /Changing Session TTL from (\S+) to (\S+)/.exec(m.output());
      return `${m.name} ${a ? `${a[1]} -> ${a[2]} s` : 'as asked'}`;
    });
    console.log(`[patroni] session TTL: ${ttls.join(', ')}`);

    for (const k of konsul?.members ?? []) {
      const key = await readLeaderKey(k.http);
      expect(key?.value, `leader key on ${k.name}`).toBe(primary.name);
      expect(key?.session, `leader key's session on ${k.name}`).toMatch(/^[0-9a-f-]{36}$/);
    }

    await primary.sql('CREATE TABLE consumers_probe (id int PRIMARY KEY, note text NOT NULL)');
    await expectReplicasFollow(
      primary,
      c.members.filter((m) => m !== primary),
      1,
    );
  });

  for (let round = 1; round <= FAILOVER_ROUNDS; round++) {
    let killed: PatroniMember | undefined;

    it(`(b) round ${round}: kill -9 of the primary's postmaster and Patroni promotes a survivor`, async () => {
      const c = bootstrappedCluster();
      const old = await onePrimary(30_000);
      const survivors = c.members.filter((m) => m !== old);
      const oldTimeline = (await old.status())?.timeline ?? 0;
      const konsulHttp = konsulOf(survivors[0] as PatroniMember).http;

      const t0 = performance.now();
      await old.kill9();
      killed = old;
      let keyGoneAfter: string | undefined;
      const [name] = await waitUntil(
        `a new primary among ${survivors.map((s) => s.name).join(', ')}`,
        async () => {
          if (keyGoneAfter === undefined) {
            const key = await readLeaderKey(konsulHttp).catch(() => undefined);
            if (key?.value !== old.name) keyGoneAfter = seconds(t0);
          }
          return c.primaries(survivors);
        },
        (p) => p.length === 1,
        90_000,
      );
      const failover = seconds(t0);
      const promoted = c.member(name as string);
      console.log(
        `[patroni] failover round ${round}: ${old.name} killed -9; its leader key released after ` +
          `${keyGoneAfter ?? '?'} s; ${promoted.name} answers /primary after ${failover} s`,
      );

      const key = await waitUntil(
        `leader key naming ${promoted.name}`,
        () => readLeaderKey(konsulHttp),
        (k) => k?.value === promoted.name,
        30_000,
      );
      expect(key?.session).toMatch(/^[0-9a-f-]{36}$/);
      // Promotion starts a new timeline (Patroni may answer /primary a moment before it is done).
      await waitUntil(
        `${promoted.name} on a timeline after ${oldTimeline}`,
        () => promoted.status(),
        (s) => (s?.timeline ?? 0) > oldTimeline,
        30_000,
      );
      await expectReplicasFollow(
        promoted,
        survivors.filter((m) => m !== promoted),
        100 * round,
      );
    });

    it(`(c) round ${round}: the killed member restarts and rejoins as a replica`, async () => {
      const c = cluster();
      if (!killed) throw new Error('case (b) did not kill a member');
      const primary = await onePrimary(30_000);
      const before = killed.output().length;
      const t0 = performance.now();
      killed.start();
      const member = killed;
      await waitUntil(
        `${member.name} running as a replica`,
        () => member.status(),
        (s) => s?.state === 'running' && s.role === 'replica',
        120_000,
      );
      await expectReplicasFollow(
        primary,
        c.members.filter((m) => m !== primary),
        100 * round + 1,
      );
      const rewound = /pg_rewind/.test(member.output().slice(before));
      console.log(
        `[patroni] rejoin round ${round}: ${member.name} streaming from ${primary.name} after ${seconds(t0)} s` +
          ` (pg_rewind ${rewound ? 'ran' : 'not needed'})`,
      );
      expect(await c.primaries()).toEqual([primary.name]);
    });
  }

  it('(d) kill -9 of the Konsul Raft leader leaves the PostgreSQL primary in place', async () => {
    const c = bootstrappedCluster();
    const k = konsul as TestClusterProcesses;
    const primary = await onePrimary(30_000);
    const primaryKonsul = konsulOf(primary);
    // The primary's own Konsul server must survive (losing its only DCS endpoint demotes it by design).
    let leader = await k.waitForLeader();
    if (leader === primaryKonsul) {
      const target = k.members.find((m) => m !== primaryKonsul) as Member;
      const res = await fetch(`http://${leader.http}/v1/operator/raft/transfer-leader?id=${target.name}`, {
        method: 'POST',
      });
      expect(res.status, await res.text()).toBe(200);
      leader = await k.waitForLeader();
    }
    expect(leader).not.toBe(primaryKonsul);
    const before = await readLeaderKey(primaryKonsul.http);
    expect(before?.value).toBe(primary.name);
    const timeline = (await primary.status())?.timeline;
    const session = await readSession(primaryKonsul.http, before?.session ?? '');
    console.log(
      `[patroni] ${primary.name} holds the lock with session ${before?.session} ` +
        `(Node ${session?.Node}, NodeChecks ${JSON.stringify(session?.NodeChecks ?? session?.Checks)}, ` +
        `TTL ${session?.TTL}) through Konsul ${primaryKonsul.name}; Konsul leader ${leader.name}`,
    );
    // Consul names the node of the agent a session was created through (here: the server the
    // primary's Patroni talks to). Soft, so the kill below still shows what a wrong node costs.
    expect.soft(session?.Node, 'Node of the session created through a follower').toBe(primaryKonsul.name);

    const t0 = performance.now();
    await leader.server?.stop('SIGKILL');
    const survivors = k.members.filter((m) => m !== leader);
    const newLeader = await k.waitForLeader(20_000, survivors);
    console.log(`[patroni] Konsul leader ${leader.name} killed -9; ${newLeader.name} leads after ${seconds(t0)} s`);

    // Watch for three TTLs: a lost session or lock shows up as another primary, a changed leader
    // key, or the primary stepping down.
    const primariesSeen = new Set<string>();
    const sessionsSeen = new Set<string>();
    const end = t0 + 3 * TIMING.ttl * 1000;
    while (performance.now() < end) {
      for (const p of await c.primaries()) primariesSeen.add(p);
      const key = await readLeaderKey(primaryKonsul.http).then(
        (v) => (v ? `${v.value}/${v.session ?? 'no session'}` : 'absent'),
        (e: Error) => `error: ${e.message}`,
      );
      sessionsSeen.add(key);
      await new Promise((r) => setTimeout(r, 500));
    }
    const after = await readLeaderKey(primaryKonsul.http);
    console.log(
      `[patroni] after the Konsul leader kill: primaries seen ${[...primariesSeen].join(', ') || 'none'}; ` +
        `leader key ${before?.value}/${before?.session} -> ${after?.value}/${after?.session}; ` +
        `values seen ${[...sessionsSeen].join(', ')}`,
    );
    expect([...primariesSeen], `primaries seen${explain()}`).toEqual([primary.name]);
    expect(await primary.isPrimary()).toBe(true);
    expect((await primary.status())?.timeline).toBe(timeline);
    expect(after, `leader key after${explain()}`).toEqual(expect.objectContaining({ value: primary.name }));
    // Consul keeps a session alive across a server leader change (the new leader restarts its TTL
    // timer), so the lock is still held by the very same session.
    expect(after?.session, `leader key session${explain()}`).toBe(before?.session);
  });
});
