/**
 * What metrics cost: server CPU per write on a 3-server cluster with metrics on against the same
 * cluster started with --disable-metrics, in alternating runs (a fresh cluster each run; 64 clients
 * PUT 256-byte values that change on every write to the leader for `--duration` seconds after a
 * 3-s warm-up). Prints every run, then the medians and spreads of µs of CPU per write summed over
 * the three servers, and the ratio of the medians (issue 18's goal: within 3%).
 *
 *   npm run bench:metrics -- [--runs 5] [--duration 8] [--clients 64]
 */
import { parseArgs } from 'node:util';
import { cleanupAll } from '../testing/spawn-server.js';
import { runPhase } from './http-load.js';
import { startKonsulCluster } from './konsul-cluster.js';
import { processCpu } from './proc-memory.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    duration: { type: 'string', default: '8' },
    clients: { type: 'string', default: '64' },
  },
});
const runs = Number(values.runs);
const durationMs = Number(values.duration) * 1000;
const clients = Number(values.clients);
if (![runs, durationMs, clients].every((n) => Number.isInteger(n) && n > 0)) {
  process.stderr.write('usage: bench:metrics -- [--runs N>=1] [--duration SECONDS] [--clients N>=1]\n');
  process.exit(2);
}

/** One run: µs of CPU per write over the three servers, and writes per second. */
async function once(metrics: boolean): Promise<{ usPerWrite: number; perSec: number }> {
  const cluster = await startKonsulCluster(metrics ? {} : { args: ['--disable-metrics'] });
  try {
    const key = (w: number, i: number) => `/v1/kv/bench/${(w * 157 + i) % 1000}`;
    await runPhase({ targets: [cluster.leader], method: 'PUT', pathFor: key, concurrency: clients, durationMs: 3000 });
    const pids = cluster.servers.map((s) => s.proc.pid);
    const before = pids.map(processCpu);
    const t0 = performance.now();
    const r = await runPhase({
      targets: [cluster.leader],
      method: 'PUT',
      pathFor: key,
      concurrency: clients,
      durationMs,
    });
    const secs = (performance.now() - t0) / 1000;
    const after = pids.map(processCpu);
    let ticks = 0;
    after.forEach((a, i) => {
      const b = before[i] as typeof a;
      ticks += a.user - b.user + a.system - b.system;
    });
    // Ticks are 10 ms.
    return { usPerWrite: (ticks * 10_000) / (r.opsPerSec * secs), perSec: r.opsPerSec };
  } finally {
    await Promise.all(cluster.servers.map((s) => s.stop()));
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

try {
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const metrics of i % 2 === 0 ? [true, false] : [false, true]) {
      const r = await once(metrics);
      (metrics ? on : off).push(r.usPerWrite);
      console.log(
        `run ${i + 1} metrics ${metrics ? 'on ' : 'off'}: ${r.usPerWrite.toFixed(0)} µs of server CPU per write, ` +
          `${r.perSec.toFixed(0)} writes/s`,
      );
    }
  }
  const spread = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
  console.log(
    `metrics on:  median ${median(on).toFixed(0)} µs per write (${spread(on)})\n` +
      `metrics off: median ${median(off).toFixed(0)} µs per write (${spread(off)})\n` +
      `on / off: ${(median(on) / median(off)).toFixed(3)}`,
  );
} finally {
  await cleanupAll();
}
