/**
 * Where the CPU goes while a 3-node cluster serves one workload: starts the cluster (default
 * settings, as bench:compare), warms it up with 64 writers, runs one phase and prints its
 * throughput and latency, each server's CPU (% of one core, from /proc), the load generator's,
 * and the machine's split (user, system, softirq, idle, iowait from /proc/stat). With
 * --cpu-prof DIR every server writes a V8 CPU profile there when it stops, and the heaviest
 * functions (self time) of the leader's profile are printed.
 *
 *   npm run bench:cpu -- [--clients 64] [--method PUT|GET] [--target leader|any|follower] [--duration 8]
 *     [--cpu-prof DIR]   (follower: all load on one follower, which forwards writes)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanupAll } from '../testing/spawn-server.js';
import { HEADER, row, runPhase } from './http-load.js';
import { startKonsulCluster } from './konsul-cluster.js';
import { processCpu } from './proc-memory.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    method: { type: 'string', default: 'PUT' },
    target: { type: 'string', default: 'leader' },
    duration: { type: 'string', default: '8' },
    'cpu-prof': { type: 'string' },
  },
});
const clients = Number(values.clients);
const method = values.method as 'PUT' | 'GET';
const durationMs = Number(values.duration) * 1000;
if (
  !Number.isInteger(clients) ||
  clients < 1 ||
  (method !== 'PUT' && method !== 'GET') ||
  !['leader', 'any', 'follower'].includes(values.target as string) ||
  !(durationMs > 0)
) {
  process.stderr.write(
    'usage: bench:cpu -- [--clients N>=1] [--method PUT|GET] [--target leader|any|follower] ' +
      '[--duration SECONDS] [--cpu-prof DIR]\n',
  );
  process.exit(2);
}
const profDir = values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']);

/** The machine's cumulative CPU counters: user nice system idle iowait irq softirq steal. */
const machine = (): number[] =>
  (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number);

/** The heaviest functions by self time in a .cpuprofile, as "pct% name file:line". */
function topSelf(file: string, n: number): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const frames = new Map(p.nodes.map((x) => [x.id, x.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const f = frames.get(id);
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    if (!f) return;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, t]) => `${((t / total) * 100).toFixed(1).padStart(5)}% ${k}`);
}

try {
  const cluster = await startKonsulCluster(
    profDir ? { nodeArgs: (name) => ['--cpu-prof', `--cpu-prof-dir=${join(profDir, name)}`] } : {},
  );
  const leaderIndex = cluster.all.indexOf(cluster.leader);
  const key = (w: number, i: number) => `/v1/kv/bench/${(w * 157 + i) % 1000}`;
  await runPhase({ targets: [cluster.leader], method: 'PUT', pathFor: key, concurrency: 64, durationMs: 3000 });
  const pids = cluster.servers.map((s) => s.proc.pid as number);
  const m0 = machine();
  const p0 = pids.map(processCpu);
  const l0 = process.cpuUsage();
  const t0 = performance.now();
  const follower = cluster.all.find((a) => a !== cluster.leader) as string;
  const targets = { leader: [cluster.leader], any: cluster.all, follower: [follower] }[values.target as string];
  const r = await runPhase({
    targets: targets as string[],
    method,
    pathFor: key,
    concurrency: clients,
    durationMs,
  });
  const secs = (performance.now() - t0) / 1000;
  const p1 = pids.map(processCpu);
  const l1 = process.cpuUsage(l0);
  const d = machine().map((x, i) => x - (m0[i] as number));
  const all = d.reduce((a, b) => a + b, 0);
  const pct = (i: number) => `${(((d[i] as number) / all) * 100).toFixed(0)}%`;
  const where = { any: 'any server', leader: 'the leader', follower: 'one follower' }[values.target as string];
  console.log(
    `konsul 3-node cluster, ${method} to ${where}, ` + `256 B values, ${durationMs / 1000} s, node ${process.version}`,
  );
  console.log(HEADER);
  console.log(row(`${method} (${values.target})`, clients, r));
  const ops = r.opsPerSec * secs;
  const serverCpu = cluster.names.map((n, i) => {
    const a = p0[i] as ReturnType<typeof processCpu>;
    const b = p1[i] as ReturnType<typeof processCpu>;
    const user = (b.user - a.user) / secs;
    const system = (b.system - a.system) / secs;
    // Ticks are 10 ms: per operation in microseconds, (ticks * 10,000) / operations.
    const usPerOp = (((b.user - a.user + b.system - a.system) * 10_000) / ops).toFixed(0);
    const switches = ((b.vcsw - a.vcsw + b.ivcsw - a.ivcsw) / ops).toFixed(1);
    return (
      `${n}${i === leaderIndex ? ' (leader)' : ''} ${(user + system).toFixed(0)}% ` +
      `(user ${user.toFixed(0)}%, system ${system.toFixed(0)}%; ${usPerOp} µs and ${switches} context switches per op)`
    );
  });
  console.log(`CPU, % of one core:\n  ${serverCpu.join('\n  ')}`);
  console.log(`  load generator ${((l1.user + l1.system) / 1e4 / secs).toFixed(0)}%`);
  console.log(`machine: user ${pct(0)}, system ${pct(2)}, softirq ${pct(6)}, iowait ${pct(4)}, idle ${pct(3)}`);
  await Promise.all(cluster.servers.map((s) => s.stop()));
  if (profDir) {
    const dir = join(profDir, cluster.names[leaderIndex] as string);
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file)
      console.log(
        `leader profile ${join(dir, file)}; heaviest functions by self time:\n` +
          `${topSelf(join(dir, file), 20).join('\n')}`,
      );
    if (values.target === 'follower') {
      const fdir = join(profDir, cluster.names[cluster.all.indexOf(follower)] as string);
      const ffile = readdirSync(fdir).find((f) => f.endsWith('.cpuprofile'));
      if (ffile)
        console.log(`loaded follower profile ${join(fdir, ffile)}:\n${topSelf(join(fdir, ffile), 20).join('\n')}`);
    }
  }
} finally {
  await cleanupAll();
}
