/**
 * Konsul next to etcd: starts a 3-node Konsul cluster and a 3-node etcd cluster (apt
 * `etcd-server`) on loopback with temporary data dirs, runs the same workloads against each
 * through its own API (Konsul: HTTP /v1/kv; etcd: the v3 JSON gateway), prints throughput, p50
 * and p99 per system, the Konsul/etcd ratios, the CPU of the load generator and of the servers
 * (with the servers' CPU time per operation), and stops both.
 *
 *   npm run bench:compare -- [--duration 5] [--shape leader|spread|both] [--keys N] [--preload N]
 *                           [--only konsul|etcd]
 *
 * Two shapes of closed-loop load, 256-byte values (both by default, on the same two clusters):
 * - leader (--keys 1000): writes with 1 and 64 clients to the leader; default (Konsul) and
 *   linearizable (etcd) reads with 64 clients to the leader; stale (Konsul) and serializable
 *   (etcd) reads with 64 clients spread over the three servers.
 * - spread (--keys 100000 --preload 20000): the first --preload keys are written first (64
 *   clients), then writes over all --keys keys with 64 clients to the leader, to all three
 *   servers, to the followers only (forwarded), and with one client to the leader; default and
 *   stale reads of the preloaded keys with 64 clients over all three servers, as clients spread
 *   them. Then each server's RSS.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { freePorts, startProcess, type TestProcess, tempDir } from '../testing/process.js';
import { cleanupAll } from '../testing/spawn-server.js';
import { startKonsulCluster } from './konsul-cluster.js';
import { processTicks, statusMb } from './proc-memory.js';
import { benchValue, HEADER, type PhaseResult, row, runPhase } from './http-load.js';
import { jsonRequest as rawRequest, sendAll } from './raw-http.js';

const USAGE =
  'usage: npm run bench:compare -- [--duration 5] [--shape leader|spread|both] [--keys N] [--preload N] ' +
  '[--only konsul|etcd]\n';
let parsed;
try {
  parsed = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      shape: { type: 'string', default: 'both' },
      keys: { type: 'string' },
      preload: { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!['leader', 'spread', 'both'].includes(values.shape)) {
  process.stderr.write(`--shape must be leader, spread or both, not ${values.shape}\n`);
  process.exit(2);
}
if (values.only !== undefined && values.only !== 'konsul' && values.only !== 'etcd') {
  process.stderr.write(`--only must be konsul or etcd, not ${values.only}\n`);
  process.exit(2);
}
const durationMs = Number(values.duration) * 1000;
/** Keys and preloaded keys of a shape (flags override both shapes' defaults). */
const shapeKeys = (shape: 'leader' | 'spread') => ({
  keys: Number(values.keys ?? (shape === 'leader' ? 1000 : 100_000)),
  preload: Number(values.preload ?? (shape === 'leader' ? 0 : 20_000)),
});
const VALUE = 'v'.repeat(256);
const b64 = (s: string) => Buffer.from(s).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

try {
  execFileSync('etcd', ['--version'], { stdio: 'ignore' });
} catch {
  process.stderr.write('bench:compare needs etcd (Debian/Ubuntu: apt install etcd-server)\n');
  process.exit(2);
}

async function startEtcd(): Promise<{ procs: TestProcess[]; leader: string; all: string[] }> {
  const ports = await freePorts(6);
  const members = [0, 1, 2].map((i) => ({
    name: `e${i + 1}`,
    client: `127.0.0.1:${ports[2 * i]}`,
    peer: `127.0.0.1:${ports[2 * i + 1]}`,
  }));
  const cluster = members.map((m) => `${m.name}=http://${m.peer}`).join(',');
  const procs = await Promise.all(
    members.map((m) =>
      startProcess(
        'etcd',
        [
          '--name',
          m.name,
          '--data-dir',
          tempDir('etcd-bench-'),
          '--listen-client-urls',
          `http://${m.client}`,
          '--advertise-client-urls',
          `http://${m.client}`,
          '--listen-peer-urls',
          `http://${m.peer}`,
          '--initial-advertise-peer-urls',
          `http://${m.peer}`,
          '--initial-cluster',
          cluster,
          '--initial-cluster-state',
          'new',
          '--initial-cluster-token',
          'konsul-bench',
          '--logger',
          'zap',
        ],
        { ready: /serving client traffic|ready to serve client requests/, timeoutMs: 30_000, what: `etcd ${m.name}` },
      ),
    ),
  );
  // The member that leads: each reports the leader's member id; match it to a member's own id.
  for (;;) {
    const statuses = await Promise.all(
      members.map((m) =>
        fetch(`http://${m.client}/v3/maintenance/status`, { method: 'POST', body: '{}' }).then(
          (r) => r.json() as Promise<{ header?: { member_id?: string }; leader?: string }>,
          () => ({}) as { header?: { member_id?: string }; leader?: string },
        ),
      ),
    );
    const leaderId = statuses[0]?.leader;
    const i = statuses.findIndex((s) => s.header?.member_id !== undefined && s.header.member_id === leaderId);
    if (leaderId && leaderId !== '0' && i >= 0)
      return { procs, leader: (members[i] as { client: string }).client, all: members.map((m) => m.client) };
    await sleep(100);
  }
}

/**
 * Runs a phase and reports the CPU used during it: the load generator's and the servers' (`pids`,
 * summed) in % of one core, and the servers' CPU time per operation in microseconds.
 */
async function measured(
  run: () => Promise<PhaseResult>,
  pids: ReadonlyArray<number | undefined>,
): Promise<PhaseResult & { cpu: number; serverCpu: number; serverUsPerOp: number }> {
  const ticks = () => pids.reduce<number>((sum, pid) => sum + processTicks(pid), 0);
  const c0 = process.cpuUsage();
  const s0 = ticks();
  const t0 = performance.now();
  const r = await run();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const serverMs = (ticks() - s0) * 10; // USER_HZ is 100
  return {
    ...r,
    cpu: ((c.user + c.system) / 1000 / ms) * 100,
    serverCpu: (serverMs / ms) * 100,
    serverUsPerOp: (serverMs * 1000) / (r.opsPerSec * (ms / 1000)),
  };
}

const konsulKey = (keys: number) => (w: number, i: number) => `/v1/kv/bench/${(w * 157 + i) % keys}`;
const etcdPut = (keys: number) => (w: number, i: number) =>
  Buffer.from(
    JSON.stringify({ key: b64(`bench/${(w * 157 + i) % keys}`), value: benchValue(VALUE.length).toString('base64') }),
  );
const etcdRange = (keys: number, serializable: boolean) => (w: number, i: number) =>
  Buffer.from(
    JSON.stringify({ key: b64(`bench/${(w * 157 + i) % keys}`), ...(serializable ? { serializable: true } : {}) }),
  );

/**
 * A process's resident memory: the total, then anonymous (heaps, native allocations) and
 * file-backed (mapped files: LMDB's or bbolt's pages) apart, and `heap` when given.
 */
const memoryOf = (pid: number | undefined, heap = '') =>
  `${statusMb(pid, 'VmRSS').toFixed(0)} MB (anonymous ${statusMb(pid, 'RssAnon').toFixed(0)}, ` +
  `file ${statusMb(pid, 'RssFile').toFixed(0)}${heap})`;

/**
 * A Konsul server's JS heap in use and reserved, native memory V8 tracks (Buffers among it) and
 * the Raft log held in memory (from its metrics), as text for memoryOf.
 */
async function konsulHeap(http: string): Promise<string> {
  const metrics = await (await fetch(`http://${http}/v1/agent/metrics?format=prometheus`)).text();
  const mb = (name: string) =>
    (Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN) / 2 ** 20).toFixed(0);
  return (
    `, JS heap ${mb('konsul_process_heap_used_bytes')} of ${mb('konsul_process_heap_total_bytes')}` +
    `, external ${mb('konsul_process_external_bytes')}, raft log ${mb('konsul_raft_log_memory_bytes')}`
  );
}

/** Writes keys bench/0..count-1 (256-byte values) through `target` with 64 clients; throws on a failed write. */
async function preload(target: string, count: number, request: (host: string, i: number) => Buffer): Promise<number> {
  const at = target.lastIndexOf(':');
  const r = await sendAll(target.slice(0, at), Number(target.slice(at + 1)), count, 64, (i) => request(target, i));
  if (r.statuses.get(200) !== count) throw new Error(`preload answers: ${JSON.stringify([...r.statuses])}`);
  return count / r.seconds;
}
const konsulPreload = (host: string, i: number) => rawRequest('PUT', `/v1/kv/bench/${i}`, host, VALUE);
const etcdPreload = (host: string, i: number) =>
  rawRequest('POST', '/v3/kv/put', host, JSON.stringify({ key: b64(`bench/${i}`), value: b64(VALUE) }));

const runKonsul = values.only !== 'etcd';
const runEtcd = values.only !== 'konsul';
type Phase = () => Promise<PhaseResult>;
interface Workload {
  readonly name: string;
  readonly conc: number;
  readonly konsul?: Phase;
  readonly etcd?: Phase;
}
interface Systems {
  readonly konsul: Awaited<ReturnType<typeof startKonsulCluster>> | undefined;
  readonly etcd: Awaited<ReturnType<typeof startEtcd>> | undefined;
}

/** Konsul's and etcd's 256-byte writes over `keys` keys through `targets` (round robin per client). */
function writes(
  sys: Systems,
  name: string,
  conc: number,
  keys: number,
  to: (s: { leader: string; all: string[] }) => string[],
): Workload {
  const { konsul, etcd } = sys;
  return {
    name,
    conc,
    ...(konsul && {
      konsul: () =>
        runPhase({ targets: to(konsul), method: 'PUT', pathFor: konsulKey(keys), concurrency: conc, durationMs }),
    }),
    ...(etcd && {
      etcd: () =>
        runPhase({
          targets: to(etcd),
          method: 'POST',
          pathFor: () => '/v3/kv/put',
          bodyFor: etcdPut(keys),
          concurrency: conc,
          durationMs,
        }),
    }),
  };
}

/** Default (Konsul) and linearizable (etcd) reads, or stale and serializable ones, of `keys` keys. */
function reads(
  sys: Systems,
  name: string,
  keys: number,
  stale: boolean,
  to: (s: { leader: string; all: string[] }) => string[],
): Workload {
  const { konsul, etcd } = sys;
  return {
    name,
    conc: 64,
    ...(konsul && {
      konsul: () =>
        runPhase({
          targets: to(konsul),
          method: 'GET',
          pathFor: (w, i) => `${konsulKey(keys)(w, i)}${stale ? '?stale' : ''}`,
          concurrency: 64,
          durationMs,
        }),
    }),
    ...(etcd && {
      etcd: () =>
        runPhase({
          targets: to(etcd),
          method: 'POST',
          pathFor: () => '/v3/kv/range',
          bodyFor: etcdRange(keys, stale),
          concurrency: 64,
          durationMs,
        }),
    }),
  };
}

const leaderOnly = (s: { leader: string }) => [s.leader];
const everyServer = (s: { all: string[] }) => s.all;
const followers = (s: { leader: string; all: string[] }) => s.all.filter((a) => a !== s.leader);

/** Runs the workloads, Konsul then etcd for each, and prints their rows and ratios. */
async function report(title: string, workloads: readonly Workload[], sys: Systems): Promise<void> {
  process.stdout.write(`\n${title}\n${'system'.padEnd(7)} ${HEADER}  loadgen CPU  servers CPU  µs/op\n`);
  const cpuCells = (m: { cpu: number; serverCpu: number; serverUsPerOp: number }) =>
    `${m.cpu.toFixed(0).padStart(10)}%  ${m.serverCpu.toFixed(0).padStart(10)}%  ` +
    m.serverUsPerOp.toFixed(0).padStart(5);
  const ratios: string[] = [];
  for (const w of workloads) {
    const k = w.konsul && (await measured(w.konsul, sys.konsul?.servers.map((x) => x.proc.pid) ?? []));
    const e = w.etcd && (await measured(w.etcd, sys.etcd?.procs.map((x) => x.proc.pid) ?? []));
    if (k) process.stdout.write(`${'konsul'.padEnd(7)} ${row(w.name, w.conc, k)}  ${cpuCells(k)}\n`);
    if (e) process.stdout.write(`${'etcd'.padEnd(7)} ${row(w.name, w.conc, e)}  ${cpuCells(e)}\n`);
    if (k && e)
      ratios.push(
        `${w.name.padEnd(28)} ${String(w.conc).padStart(4)}  ` +
          `throughput ${(k.opsPerSec / e.opsPerSec).toFixed(2)}x  ` +
          `p50 ${(k.p50 / e.p50).toFixed(2)}x  p99 ${(k.p99 / e.p99).toFixed(2)}x`,
      );
  }
  if (ratios.length > 0)
    process.stdout.write(
      `\nKonsul / etcd (throughput above 1: Konsul faster; latency below 1: Konsul faster)\n${ratios.join('\n')}\n`,
    );
}

try {
  const systems = [runKonsul && 'a 3-node Konsul cluster', runEtcd && 'a 3-node etcd cluster'].filter(Boolean);
  process.stdout.write(`starting ${systems.join(' and ')} on loopback...\n`);
  const [konsul, etcd] = await Promise.all([
    runKonsul ? startKonsulCluster() : undefined,
    runEtcd ? startEtcd() : undefined,
  ]);
  const sys: Systems = { konsul, etcd };

  if (values.shape !== 'spread') {
    const { keys } = shapeKeys('leader');
    // Both get the same keys, then a short warm-up.
    if (konsul)
      await runPhase({
        targets: [konsul.leader],
        method: 'PUT',
        pathFor: konsulKey(keys),
        concurrency: 64,
        durationMs: 3000,
      });
    if (etcd)
      await runPhase({
        targets: [etcd.leader],
        method: 'POST',
        pathFor: () => '/v3/kv/put',
        bodyFor: etcdPut(keys),
        concurrency: 64,
        durationMs: 3000,
      });
    await report(
      `shape "leader": ${keys} keys, all load on the leader except stale reads`,
      [
        writes(sys, 'write 256 B (leader)', 1, keys, leaderOnly),
        writes(sys, 'write 256 B (leader)', 64, keys, leaderOnly),
        reads(sys, 'read default/linearizable', keys, false, leaderOnly),
        reads(sys, 'read stale/serializable', keys, true, everyServer),
      ],
      sys,
    );
  }

  if (values.shape !== 'leader') {
    const { keys, preload: preloaded } = shapeKeys('spread');
    if (preloaded > 0) {
      if (konsul) {
        const rate = await preload(konsul.leader, preloaded, konsulPreload);
        process.stdout.write(`\nkonsul: ${preloaded} keys preloaded at ${rate.toFixed(0)}/s\n`);
      }
      if (etcd) {
        const rate = await preload(etcd.leader, preloaded, etcdPreload);
        process.stdout.write(`etcd: ${preloaded} keys preloaded at ${rate.toFixed(0)}/s\n`);
      }
    }
    // Reads ask for keys that exist (a missing key is a 404 from Konsul, counted as an error).
    const readKeys = preloaded > 0 ? preloaded : keys;
    await report(
      `shape "spread": writes over ${keys} keys (${preloaded} preloaded), reads of the preloaded ones over all servers`,
      [
        writes(sys, 'write 256 B (leader)', 64, keys, leaderOnly),
        writes(sys, 'write 256 B (all servers)', 64, keys, everyServer),
        writes(sys, 'write 256 B (forwarded)', 64, keys, followers),
        writes(sys, 'write 256 B (leader)', 1, keys, leaderOnly),
        reads(sys, 'read default/linearizable', readKeys, false, everyServer),
        reads(sys, 'read stale/serializable', readKeys, true, everyServer),
      ],
      sys,
    );
    const heaps = await Promise.all((konsul?.all ?? []).map((http) => konsulHeap(http).catch(() => '')));
    const rss = [
      ...(konsul?.servers ?? []).map((s, i) => `konsul ${konsul?.names[i]} ${memoryOf(s.proc.pid, heaps[i])}`),
      ...(etcd?.procs ?? []).map((p, i) => `etcd e${i + 1} ${memoryOf(p.proc.pid)}`),
    ];
    process.stdout.write(`\nRSS per server after the run: ${rss.join(', ')}\n`);
  }
  process.stdout.write(
    '\ngoals at 64 clients (issue 17): writes >= 1.5x etcd with p99 < 20 ms, default reads >= 1.5x etcd, ' +
      'stale reads >= 1.8x, forwarded writes >= 0.8x writes to the leader; 1 client: write p50 <= etcd\n',
  );
  await Promise.all([...(konsul?.servers ?? []).map((s) => s.stop()), ...(etcd?.procs ?? []).map((p) => p.stop())]);
} finally {
  await cleanupAll();
}
