import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { seededRng } from '../seeded-rng.js';
import { NemesisCluster, type NemesisMember } from './cluster.js';
import { FAULT_KINDS, type FaultKind, type FaultRecord, type NemesisContext, startFault } from './faults.js';
import { canUseNetns, loopbackNetwork, type NemesisNetwork, netnsNetwork } from './net.js';
import { availability, latencySvg, type NemesisReport, reportHtml } from './report.js';
import { spawnEdge } from '../spawn-edge.js';
import { BUG_ERRORS, checkRun, type SavedRun, type ServerErrors } from './check.js';
import { EDGE_PREFIX, runEdgeClient } from './edge.js';
import { runLockClients } from './locks.js';
import { checkWatch, runWatchWorkload } from './watch.js';
import { MAX_SAMPLES, type OpSample, runWorkloads, type WorkloadEnv } from './workloads.js';

/** Where Debian's faketime package puts the preload library. */
export { LIBFAKETIME } from '../process.js';
import { LIBFAKETIME } from '../process.js';

/** What a nemesis run does. */
export interface NemesisOptions {
  readonly nodes: number;
  readonly seconds: number;
  readonly faults: readonly FaultKind[];
  readonly seed: number;
  readonly clients: number;
  /** Directory for the report, histories and server logs. */
  readonly out: string;
  /** Use network namespaces when root (default), or always the transport's fault layer. */
  readonly netns: boolean;
  /** Search budget of the linearizability checker per key (steps); past it the verdict is unknown. */
  readonly checkBudget: number;
  /** A bug planted in the servers (`--test-bug`), to show the checkers catch it. */
  readonly plant?: 'stale-consistent-reads';
  readonly log: (line: string) => void;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });

/** The command line that replays a run. */
export function replayCommand(o: NemesisOptions): string {
  return (
    `npm run nemesis -- --nodes ${o.nodes} --time ${o.seconds} --faults ${o.faults.join(',')} ` +
    `--seed ${o.seed} --clients ${o.clients}${o.netns ? '' : ' --no-netns'}${o.plant ? ` --plant ${o.plant}` : ''}`
  );
}

/**
 * Runs real servers under the chosen faults while the workloads run, heals everything, checks
 * the histories and writes `report.json`, `report.html` and `history.json` into `out`. The same
 * seed replays the same choices of faults, victims and operations (timing still varies).
 */
export async function runNemesis(o: NemesisOptions): Promise<NemesisReport> {
  mkdirSync(o.out, { recursive: true });
  const rng = seededRng(o.seed);
  const started = performance.now();
  const now = () => performance.now() - started;
  const notes: string[] = [];
  let kinds = [...o.faults];
  const root = process.getuid?.() === 0;
  const network: NemesisNetwork =
    o.netns && canUseNetns() ? netnsNetwork(o.nodes, process.pid % 16) : loopbackNetwork();
  if (network.mechanism !== 'netns') notes.push('partitions use the transport fault layer (not root, or --no-netns)');
  // The clock fault: one member runs under libfaketime, its offset read from a file on every call.
  let clockIndex: number | undefined;
  const clockFile = resolve(o.out, 'faketime');
  if (kinds.includes('clock')) {
    if (existsSync(LIBFAKETIME)) {
      clockIndex = Math.floor(rng.next() * o.nodes);
      writeFileSync(clockFile, '+0\n');
    } else {
      notes.push(`clock faults skipped: ${LIBFAKETIME} missing (Debian package faketime)`);
      kinds = kinds.filter((k) => k !== 'clock');
    }
  }
  // The disk fault: one member's data dir on a small tmpfs.
  let diskIndex: number | undefined;
  const diskMount = resolve(o.out, 'disk');
  if (kinds.includes('disk')) {
    if (root) {
      mkdirSync(diskMount, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128m', 'konsul-nemesis', diskMount]);
      liveMounts.add(diskMount);
      diskIndex = Math.floor(rng.next() * o.nodes);
    } else {
      notes.push('disk faults skipped: mounting a tmpfs needs root');
      kinds = kinds.filter((k) => k !== 'disk');
    }
  }
  const faults: FaultRecord[] = [];
  const crashes: Array<{ server: string; at: number; code: number | string; lastOutput: string }> = [];
  let cluster: NemesisCluster | undefined;
  try {
    cluster = await NemesisCluster.start({
      nodes: o.nodes,
      network,
      dir: o.out,
      serverArgs: ['--test-faults', '--enable-chaos', ...(o.plant ? ['--test-bug', o.plant] : [])],
      onCrash: (m, code, lastOutput) => {
        crashes.push({ server: m.name, at: now(), code, lastOutput });
        o.log(`${(now() / 1000).toFixed(1)} s  ${m.name} exited by itself (${code})`);
      },
      dataDirOf: (name) =>
        diskIndex !== undefined && name === `n${diskIndex + 1}` ? join(diskMount, 'data') : undefined,
    });
    const c = cluster;
    if (clockIndex !== undefined) {
      // Restart it under libfaketime (realtime only: NTP steps the wall clock, never the monotonic one).
      const m = c.members[clockIndex] as NemesisMember;
      m.env = {
        LD_PRELOAD: LIBFAKETIME,
        FAKETIME_TIMESTAMP_FILE: clockFile,
        FAKETIME_NO_CACHE: '1',
        DONT_FAKE_MONOTONIC: '1',
      };
      await c.signal(m, 'SIGTERM');
      await c.startMember(m);
    }
    o.log(`cluster of ${o.nodes} up (${network.mechanism}); faults: ${kinds.join(', ') || 'none'}; seed ${o.seed}`);
    const ctx: NemesisContext = {
      cluster: c,
      network,
      rng,
      now,
      log: o.log,
      ...(clockIndex !== undefined
        ? { clockMember: { member: c.members[clockIndex] as NemesisMember, file: clockFile } }
        : {}),
      ...(diskIndex !== undefined
        ? { diskMember: { member: c.members[diskIndex] as NemesisMember, mount: diskMount } }
        : {}),
    };
    const stopWork = new AbortController();
    const stopReaders = new AbortController();
    const samples: OpSample[] = [];
    const sample = (x: OpSample): void => {
      if (samples.length < MAX_SAMPLES) samples.push(x);
    };
    const env = (salt: number): WorkloadEnv => ({
      targets: () => c.live(),
      rng: seededRng(o.seed ^ salt),
      now,
      sample,
    });
    const work = runWorkloads({ ...env(0x5bd1e995), clients: o.clients, signal: stopWork.signal });
    const locks = runLockClients({ ...env(0x27d4eb2f), clients: 3, signal: stopWork.signal });
    const watchRun = runWatchWorkload({
      ...env(0x165667b1),
      watchers: 2,
      stopWriter: stopWork.signal,
      stopReaders: stopReaders.signal,
    });
    const watch = watchRun.done;
    // An edge agent in the runner's network, synced with one server: offline whenever that server
    // is down, paused or removed, queueing the writes made through it meanwhile.
    const upstream = c.members[Math.floor(rng.next() * o.nodes)] as NemesisMember;
    const agent = await spawnEdge({
      upstream: `http://${upstream.http}`,
      args: ['--prefix', EDGE_PREFIX, '--node-name', 'nemesis-edge'],
    });
    o.log(`edge agent ${agent.url} syncing with ${upstream.name}`);
    const edge = runEdgeClient({
      agentUrl: agent.url,
      rng: seededRng(o.seed ^ 0x3c6ef372),
      now,
      signal: stopWork.signal,
      sample,
    });
    const peekWatch = () => watchRun.history;
    // Faults in turns: every kind once (in a seeded order) before any repeats. A fault lasts 3 to
    // 10 s with 2 to 5 s of quiet after it, shorter in a run too short for every kind at that pace.
    const slot = (o.seconds * 1000 - 5000) / Math.max(1, kinds.length);
    const scale = Math.min(1, slot / 15_000);
    const endAt = o.seconds * 1000;
    let turn: FaultKind[] = [];
    await sleep(Math.min(3000, endAt / 10));
    while (kinds.length > 0 && now() < endAt - 4000) {
      if (turn.length === 0) turn = [...kinds].sort(() => rng.next() - 0.5);
      const kind = turn.shift() as FaultKind;
      const duration = Math.min((3000 + rng.next() * 7000) * scale, Math.max(1000, endAt - now() - 3000));
      const begun = now();
      const fault = await startFault(ctx, kind, duration).catch((err: Error) => {
        o.log(`${kind} failed to start: ${err.message}`);
        return undefined;
      });
      if (!fault) continue;
      const record: FaultRecord = { kind, detail: fault.detail, mechanism: fault.mechanism, start: begun, end: begun };
      faults.push(record);
      o.log(`${(begun / 1000).toFixed(1)} s  ${kind}: ${fault.detail}`);
      await sleep(duration);
      await fault.end();
      record.end = now();
      await sleep((2000 + rng.next() * 3000) * scale);
    }
    while (now() < endAt) await sleep(Math.min(500, endAt - now()));
    stopWork.abort();
    const [history, lockHistory, edgeHistory] = await Promise.all([work, locks, edge]);
    o.log(`workloads stopped after ${samples.length} calls; healing and checking`);

    // Everything back: links, paused and stopped processes, clock, disk.
    for (let a = 0; a < o.nodes && network.mechanism === 'netns'; a++)
      for (let b = a + 1; b < o.nodes; b++) network.restore(a, b);
    for (const m of c.members) {
      if (m.state === 'paused') await c.signal(m, 'SIGCONT');
      if (m.state === 'down' || (m.state === 'up' && !m.proc)) await c.startMember(m).catch(() => undefined);
      if (m.state === 'removed') await c.readd(m).catch(() => undefined);
    }
    const leader = await c.waitForLeader(60_000);
    // The watchers catch up with the last writes (at most 30 s), then stop.
    const catchUpUntil = now() + 30_000;
    while (now() < catchUpUntil && !checkWatch(peekWatch()).ok) await sleep(1000);
    stopReaders.abort();
    const watchHistory = await watch;

    // What the servers hold after healing: the set, each server's keys, the edge agent's writes.
    let present: string[] = [];
    if (leader) {
      const res = await fetch(`http://${leader.http}/v1/kv/nemesis/set/?keys&consistent`).catch(() => undefined);
      if (res?.status === 200) present = (await res.json()) as string[];
    }
    const views = await Promise.all(
      c.members.map(async (m) => {
        for (let i = 0; i < 60; i++) {
          const res = await fetch(`http://${m.http}/v1/kv/nemesis/?keys&stale`).catch(() => undefined);
          if (res?.status === 200) {
            const keys = ((await res.json()) as string[]).sort().join('\n');
            if (keys.split('\n').filter((k) => k.startsWith('nemesis/set/')).length >= present.length) return keys;
          }
          await sleep(500);
        }
        return undefined;
      }),
    );
    // The edge agent's outbox drains (at most 60 s) before its writes are read back.
    let pending = -1;
    for (let i = 0; i < 120; i++) {
      const status = await fetch(`${agent.url}/v1/edge/status`)
        .then((r) => r.json() as Promise<{ Connected: boolean; Outbox: { Pending: number } }>)
        .catch(() => undefined);
      pending = status?.Outbox.Pending ?? -1;
      if (status?.Connected && pending === 0) break;
      await sleep(500);
    }
    await agent.stop();
    let stored: SavedRun['final']['edgeStored'] = [];
    if (leader) {
      const res = await fetch(`http://${leader.http}/v1/kv/${EDGE_PREFIX}?recurse&consistent`).catch(() => undefined);
      if (res?.status === 200) stored = (await res.json()) as typeof stored;
    }
    const diskName = diskIndex === undefined ? undefined : `n${diskIndex + 1}`;
    const saved: SavedRun = {
      register: history.register,
      set: [...history.setAdds],
      lock: lockHistory.ops,
      watch: {
        writes: [...watchHistory.writes],
        watchers: watchHistory.watchers.map((x) => ({ ...x, snapshotKeys: [...x.snapshotKeys] })),
        blocking: watchHistory.blocking,
      },
      edge: [...edgeHistory.writes],
      crashes,
      serverErrors: scanServerErrors(join(o.out, 'logs')),
      faults,
      ...(diskName ? { diskServer: diskName } : {}),
      final: {
        leader: leader?.name ?? null,
        setPresent: present,
        views: c.members.map((m, i) => ({ server: m.name, keys: views[i] ?? null })),
        edgePending: Math.max(0, pending),
        edgeStored: stored,
      },
    };
    const { checks, anomalies } = checkRun(saved, o.checkBudget);

    const faultsByKind: Record<string, number> = {};
    for (const f of faults) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
    const ok = samples.filter((s) => s.outcome === 'ok').length;
    const unknownOps = samples.filter((s) => s.outcome === 'unknown').length;
    const verdict =
      anomalies.length > 0 ? 'anomalies' : Object.values(checks).every((v) => v.ok === true) ? 'ok' : 'unknown';
    const report: NemesisReport = {
      seed: o.seed,
      replay: replayCommand(o),
      nodes: o.nodes,
      seconds: o.seconds,
      network: [network.mechanism, ...notes].join('; '),
      faults,
      faultsByKind,
      ops: {
        total: samples.length,
        ok,
        failed: samples.length - ok - unknownOps,
        unknown: unknownOps,
        perSecond: Math.round(samples.length / o.seconds),
      },
      availability: availability(samples, faults),
      checks,
      anomalies,
      verdict,
    };
    // Saved for re-checking (`--recheck`): unknown outcomes' ret Infinity is written as null.
    writeFileSync(join(o.out, 'history.json'), JSON.stringify(saved));
    writeFileSync(join(o.out, 'report.json'), JSON.stringify(report, null, 2));
    writeFileSync(join(o.out, 'report.html'), reportHtml(report, latencySvg(samples, faults, o.seconds)));
    return report;
  } finally {
    await cluster?.stopAll();
    network.teardown();
    if (diskIndex !== undefined) unmount(diskMount);
  }
}

/** Samples of bug lines kept in a run's history. */
const MAX_BUG_SAMPLES = 20;

/**
 * Reads the servers' logs (`<dir>/<name>.log`, JSON lines) for failed requests: counts them by
 * status and error class, and keeps samples of those whose class shows a bug (BUG_ERRORS).
 */
function scanServerErrors(dir: string): ServerErrors {
  const counts: Record<string, number> = {};
  const bugs: ServerErrors['bugs'] = [];
  for (const file of existsSync(dir) ? readdirSync(dir) : []) {
    if (!file.endsWith('.log')) continue;
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (!line.includes('"request failed"')) continue;
      const m = /"status":(\d+),"error":"([A-Za-z]+)/.exec(line);
      if (!m) continue;
      const key = `${m[1]} ${m[2]}`;
      counts[key] = (counts[key] ?? 0) + 1;
      if (BUG_ERRORS.includes(m[2] as string) && bugs.length < MAX_BUG_SAMPLES)
        bugs.push({ server: file.slice(0, -4), line: line.slice(0, 600) });
    }
  }
  return { counts, bugs };
}

/** The disk faults' tmpfs mounts of runs under way in this process. */
const liveMounts = new Set<string>();

/** Unmounts a disk fault's tmpfs (lazily: a server may still hold files there). */
function unmount(mount: string): void {
  liveMounts.delete(mount);
  try {
    execFileSync('umount', ['-l', mount], { stdio: 'ignore' });
  } catch {
    // Not mounted.
  }
}

/** Unmounts every disk fault tmpfs a run in this process mounted (for an interrupted run). */
export function unmountAllDisks(): void {
  for (const m of [...liveMounts]) unmount(m);
}

/** Every fault kind (for `--faults all`). */
export const ALL_FAULTS: readonly FaultKind[] = FAULT_KINDS;
