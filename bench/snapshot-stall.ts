/**
 * Snapshot stall: do snapshots block writes? Registers `--instances` catalog instances (10 per
 * node, 100 per service) on a single-node server, then runs a steady KV PUT load from `--clients`
 * closed-loop clients and reports write latency p50/p99/max in three windows:
 *   quiet       no snapshot of any kind (log compaction off: --snapshot-threshold 10000000)
 *   archive     one more client fetches GET /v1/snapshot back to back
 *   restarted   the same data dir restarted, compaction still off: two windows, for the first
 *               seconds after a start (which can be slow whatever snapshots do)
 *   compaction  the same data dir restarted with --snapshot-threshold `--threshold`, so the Raft
 *               driver snapshots the whole state right away (during the warm-up window) and then
 *               every `--threshold` writes
 * Figures depend on the machine and what else runs on it; run it more than once.
 *
 *   npm run bench:snapshot -- [--instances 100000] [--clients 8] [--duration 10] [--threshold 500]
 */
import { instanceRegistration } from './catalog-load.js';
import { Agent, request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cleanupAll, spawnServer, type SpawnedServer, tempDir } from '../testing/spawn-server.js';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '100000' },
    clients: { type: 'string', default: '8' },
    duration: { type: 'string', default: '10' },
    threshold: { type: 'string', default: '500' },
    'server-log': { type: 'string' },
  },
});
const TOTAL = Number(values.instances);
const CLIENTS = Number(values.clients);
const durationMs = Number(values.duration) * 1000;
const THRESHOLD = Number(values.threshold);
const SERVICES = Math.max(1, Math.ceil(TOTAL / 100));

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;

/** One HTTP call on a keep-alive agent; resolves with status and body length once the body is read. */
function call(agent: Agent, target: string, method: string, path: string, body?: string) {
  const at = target.lastIndexOf(':');
  return new Promise<{ status: number; bytes: number }>((resolve, reject) => {
    const req = request(
      { host: target.slice(0, at), port: Number(target.slice(at + 1)), method, path, agent },
      (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function register(target: string): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let next = 0;
  const body = (i: number) => instanceRegistration(i, SERVICES);
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let i = next++; i < TOTAL; i = next++) {
        const res = await call(agent, target, 'PUT', '/v1/catalog/register', body(i));
        if (res.status !== 200) throw new Error(`register ${i}: ${res.status}`);
      }
    }),
  );
  agent.destroy();
}

/** Runs the write load for durationMs, plus `background` (stopped by the returned flag) alongside. */
async function window(
  label: string,
  server: SpawnedServer,
  background?: (stop: () => boolean) => Promise<string>,
): Promise<void> {
  const target = `${server.host}:${server.port}`;
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const lat: number[] = [];
  let errors = 0;
  const statuses = new Map<number, number>();
  const snapsBefore = (server.output().match(/raft snapshot taken/g) ?? []).length;
  const deadline = performance.now() + durationMs;
  const stop = () => performance.now() >= deadline;
  const bg = background?.(stop);
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, w) => {
      for (let i = 0; !stop(); i++) {
        const t = performance.now();
        const res = await call(agent, target, 'PUT', `/v1/kv/load/${w}/${i % 1000}`, 'x'.repeat(128));
        if (res.status === 200) lat.push(performance.now() - t);
        else {
          errors++;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }
      }
    }),
  );
  const extra = bg ? await bg : '';
  agent.destroy();
  const compactions = (server.output().match(/raft snapshot taken/g) ?? []).length - snapsBefore;
  lat.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(11)} ${String(lat.length).padStart(7)}` +
      ` ${(lat.length / (durationMs / 1000)).toFixed(0).padStart(7)}` +
      ` ${pct(lat, 50).toFixed(1).padStart(7)} ${pct(lat, 99).toFixed(1).padStart(7)}` +
      ` ${(lat[lat.length - 1] ?? NaN).toFixed(1).padStart(8)} ${String(errors).padStart(6)}` +
      `  compactions ${compactions}${extra}` +
      (errors > 0 ? `, error statuses ${JSON.stringify(Object.fromEntries(statuses))}` : ''),
  );
}

/** Fetches GET /v1/snapshot back to back until stopped; reports how many and how big. */
async function archiveLoop(server: SpawnedServer, stop: () => boolean): Promise<string> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const target = `${server.host}:${server.port}`;
  let n = 0;
  let bytes = 0;
  let ms = 0;
  while (!stop()) {
    const t = performance.now();
    const res = await call(agent, target, 'GET', '/v1/snapshot');
    if (res.status !== 200) throw new Error(`GET /v1/snapshot: ${res.status}`);
    ms += performance.now() - t;
    bytes = res.bytes;
    n++;
  }
  agent.destroy();
  return `, archives ${n} of ${(bytes / 1e6).toFixed(1)} MB, ${(ms / Math.max(1, n)).toFixed(0)} ms each`;
}

const dataDir = tempDir();
let server: SpawnedServer | undefined;
try {
  server = await spawnServer({ dataDir, args: ['--snapshot-threshold', '10000000'], timeoutMs: 120_000 });
  const t0 = performance.now();
  await register(`${server.host}:${server.port}`);
  console.log(
    `konsul single node, ${TOTAL} instances (registered in ${((performance.now() - t0) / 1000).toFixed(1)} s), ` +
      `${CLIENTS} KV PUT clients, ${durationMs / 1000} s per window, node ${process.version}`,
  );
  console.log('window         writes   ops/s  p50 ms  p99 ms   max ms errors');
  const first = server;
  await window('quiet', first);
  await window('archive', first, (stop) => archiveLoop(first, stop));
  await first.stop('SIGTERM');
  // A restart alone, compaction still off: the baseline for the first seconds after a start.
  const second = await spawnServer({ dataDir, args: ['--snapshot-threshold', '10000000'], timeoutMs: 120_000 });
  await window('restarted', second);
  await window('restarted', second);
  await second.stop('SIGTERM');
  // A restart with compaction on; it may take its first snapshot (the whole state) right away.
  const t1 = performance.now();
  server = await spawnServer({ dataDir, args: ['--snapshot-threshold', String(THRESHOLD)], timeoutMs: 120_000 });
  console.log(
    `(restarted with --snapshot-threshold ${THRESHOLD} in ${((performance.now() - t1) / 1000).toFixed(1)} s)`,
  );
  await window('warm-up', server);
  await window('compaction', server);
  if (values['server-log']) writeFileSync(values['server-log'], server.output());
} catch (err) {
  // Show why: the server's last words.
  console.error(server?.output().split('\n').slice(-30).join('\n'));
  throw err;
} finally {
  await cleanupAll();
}
