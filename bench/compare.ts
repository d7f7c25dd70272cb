/**
 * Konsul next to etcd: starts a 3-node Konsul cluster and a 3-node etcd cluster (apt
 * `etcd-server`) on loopback with temporary data dirs, runs the same workloads against each
 * through its own API (Konsul: HTTP /v1/kv; etcd: the v3 JSON gateway), prints throughput, p50
 * and p99 per system, the Konsul/etcd ratios and the load generator's CPU, and stops both.
 *
 *   npm run bench:compare -- [--duration 5] [--keys 1000] [--only konsul|etcd]
 *
 * Workloads: 256-byte writes with 1 and 64 clients (to the leader); default (Konsul) and
 * linearizable (etcd) reads with 64 clients (to the leader); stale (Konsul) and serializable
 * (etcd) reads with 64 clients spread over the three servers.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { freePorts, startProcess, type TestProcess, tempDir } from '../testing/process.js';
import { cleanupAll } from '../testing/spawn-server.js';
import { startKonsulCluster } from './konsul-cluster.js';
import { HEADER, type PhaseResult, row, runPhase } from './http-load.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    keys: { type: 'string', default: '1000' },
    only: { type: 'string' },
  },
});
if (values.only !== undefined && values.only !== 'konsul' && values.only !== 'etcd') {
  process.stderr.write(`--only must be konsul or etcd, not ${values.only}\n`);
  process.exit(2);
}
const durationMs = Number(values.duration) * 1000;
const KEYS = Number(values.keys);
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

/** Runs a phase and reports the load generator's CPU use during it (% of one core). */
async function measured(run: () => Promise<PhaseResult>): Promise<PhaseResult & { cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await run();
  const c = process.cpuUsage(c0);
  return { ...r, cpu: ((c.user + c.system) / 1000 / (performance.now() - t0)) * 100 };
}

const konsulKey = (w: number, i: number) => `/v1/kv/bench/${(w * 157 + i) % KEYS}`;
const etcdPut = (w: number, i: number) =>
  Buffer.from(JSON.stringify({ key: b64(`bench/${(w * 157 + i) % KEYS}`), value: b64(VALUE) }));
const etcdRange = (serializable: boolean) => (w: number, i: number) =>
  Buffer.from(
    JSON.stringify({ key: b64(`bench/${(w * 157 + i) % KEYS}`), ...(serializable ? { serializable: true } : {}) }),
  );

const runKonsul = values.only !== 'etcd';
const runEtcd = values.only !== 'konsul';
type Phase = () => Promise<PhaseResult>;

try {
  const systems = [runKonsul && 'a 3-node Konsul cluster', runEtcd && 'a 3-node etcd cluster'].filter(Boolean);
  process.stdout.write(`starting ${systems.join(' and ')} on loopback...\n`);
  const [konsul, etcd] = await Promise.all([
    runKonsul ? startKonsulCluster() : undefined,
    runEtcd ? startEtcd() : undefined,
  ]);
  // Both get the same keys, then a short warm-up.
  if (konsul)
    await runPhase({ targets: [konsul.leader], method: 'PUT', pathFor: konsulKey, concurrency: 64, durationMs: 3000 });
  if (etcd)
    await runPhase({
      targets: [etcd.leader],
      method: 'POST',
      pathFor: () => '/v3/kv/put',
      bodyFor: etcdPut,
      concurrency: 64,
      durationMs: 3000,
    });

  const workloads: Array<{ name: string; conc: number; konsul?: Phase; etcd?: Phase }> = [];
  for (const conc of [1, 64]) {
    workloads.push({
      name: 'write 256 B (leader)',
      conc,
      ...(konsul && {
        konsul: () =>
          runPhase({ targets: [konsul.leader], method: 'PUT', pathFor: konsulKey, concurrency: conc, durationMs }),
      }),
      ...(etcd && {
        etcd: () =>
          runPhase({
            targets: [etcd.leader],
            method: 'POST',
            pathFor: () => '/v3/kv/put',
            bodyFor: etcdPut,
            concurrency: conc,
            durationMs,
          }),
      }),
    });
  }
  workloads.push({
    name: 'read default/linearizable',
    conc: 64,
    ...(konsul && {
      konsul: () =>
        runPhase({ targets: [konsul.leader], method: 'GET', pathFor: konsulKey, concurrency: 64, durationMs }),
    }),
    ...(etcd && {
      etcd: () =>
        runPhase({
          targets: [etcd.leader],
          method: 'POST',
          pathFor: () => '/v3/kv/range',
          bodyFor: etcdRange(false),
          concurrency: 64,
          durationMs,
        }),
    }),
  });
  workloads.push({
    name: 'read stale/serializable',
    conc: 64,
    ...(konsul && {
      konsul: () =>
        runPhase({
          targets: konsul.all,
          method: 'GET',
          pathFor: (w, i) => `${konsulKey(w, i)}?stale`,
          concurrency: 64,
          durationMs,
        }),
    }),
    ...(etcd && {
      etcd: () =>
        runPhase({
          targets: etcd.all,
          method: 'POST',
          pathFor: () => '/v3/kv/range',
          bodyFor: etcdRange(true),
          concurrency: 64,
          durationMs,
        }),
    }),
  });

  process.stdout.write(`\n${'system'.padEnd(7)} ${HEADER}  loadgen CPU\n`);
  const ratios: string[] = [];
  for (const w of workloads) {
    const k = w.konsul && (await measured(w.konsul));
    const e = w.etcd && (await measured(w.etcd));
    if (k) process.stdout.write(`${'konsul'.padEnd(7)} ${row(w.name, w.conc, k)}  ${k.cpu.toFixed(0).padStart(5)}%\n`);
    if (e) process.stdout.write(`${'etcd'.padEnd(7)} ${row(w.name, w.conc, e)}  ${e.cpu.toFixed(0).padStart(5)}%\n`);
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
  process.stdout.write(
    'goals at 64 clients: write throughput >= 2x etcd, write p99 < 20 ms, default read p99 < 2 ms, ' +
      'stale reads >= etcd serializable\n',
  );
  await Promise.all([...(konsul?.servers ?? []).map((s) => s.stop()), ...(etcd?.procs ?? []).map((p) => p.stop())]);
} finally {
  await cleanupAll();
}
