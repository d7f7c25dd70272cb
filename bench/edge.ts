/**
 * Edge benchmark against a real `konsul server --dev` process on loopback:
 *  - footprint: for each runtime (Node, Deno, Bun, and the aarch64 Bun and Deno builds under
 *    qemu user-mode emulation when qemu-aarch64-static is installed), R cold starts of
 *    `konsul edge` with an empty data dir, replicating K keys: time from spawn to serving
 *    ("ready"), and to the first local read of a replicated key ("synced"); then the resident set
 *    (VmRSS, and the peak VmHWM) after 1,000 local reads. Under qemu the figure is the emulator
 *    process, guest and translator together: an upper bound;
 *  - fan-out: A simulated agents in this process (each a real HttpSync or MqttSync client with its
 *    own Replica, in memory) follow one prefix; the writer PUTs a key W times and the bench records,
 *    per agent, the delay from just before the PUT to the replica having applied it (p50/p99/max).
 *    The A agents share this process's event loop, so the tail includes their own queueing.
 *
 *   npm run bench:edge -- [--runs 5] [--keys 1000] [--agents 1000] [--writes 20] [--runtimes
 * node,deno,bun,bun-arm64,deno-arm64]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { silentLogger } from '../core/ports/logger.js';
import { MemoryStateStore } from '../core/store/memory-store.js';
import { Replica, REPLICA_TABLES, type ReplicaDelta } from '../core/sync/replica.js';
import { seededRng } from '../testing/seeded-rng.js';
import { WatchRegistry } from '../core/watch/watch-registry.js';
import { HttpSync } from '../edge/sync-http.js';
import { MqttSync } from '../edge/sync-mqtt.js';
import { ReplicaSink } from '../edge/sink.js';
import { cleanupAll } from '../testing/process.js';
import { type EdgeTestRuntime, spawnEdge } from '../testing/spawn-edge.js';
import { spawnServer } from '../testing/spawn-server.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    keys: { type: 'string', default: '1000' },
    agents: { type: 'string', default: '1000' },
    writes: { type: 'string', default: '20' },
    runtimes: { type: 'string', default: 'node,deno,bun,bun-arm64,deno-arm64' },
  },
});
const runs = Number(values.runs);
const keyCount = Number(values.keys);
const agentCount = Number(values.agents);
const writes = Number(values.writes);
let runtimes = String(values.runtimes).split(',') as EdgeTestRuntime[];

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const median = (xs: number[]) =>
  pct(
    [...xs].sort((a, b) => a - b),
    50,
  );
const f = (n: number, w = 8) => n.toFixed(1).padStart(w);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function procKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}

function hasQemu(): boolean {
  try {
    execFileSync('qemu-aarch64-static', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (runtimes.some((r) => r.endsWith('-arm64'))) {
  if (hasQemu()) execFileSync('npx', ['tsx', 'testing/fetch-arm64.ts'], { stdio: 'inherit' });
  else {
    process.stdout.write('qemu-aarch64-static not found (apt qemu-user-static): arm64 runs skipped\n');
    runtimes = runtimes.filter((r) => !r.endsWith('-arm64'));
  }
}

const server = await spawnServer({ args: ['--max-watch-streams', String(agentCount + 100)] });
const put = async (key: string, value: string) => {
  const res = await fetch(`${server.url}/v1/kv/${key}`, { method: 'PUT', body: value });
  if (res.status !== 200) throw new Error(`PUT ${key}: ${res.status}`);
};
const value = 'x'.repeat(100);
for (let i = 0; i < keyCount; i += 50)
  await Promise.all(
    Array.from({ length: Math.min(50, keyCount - i) }, (_, j) => put(`cfg/k${String(i + j).padStart(6, '0')}`, value)),
  );

try {
  // ---- footprint per runtime -------------------------------------------------------------------
  process.stdout.write(
    `\nedge agent footprint: ${keyCount} keys x ${value.length} B replicated, ${runs} cold starts each (median)\n`,
  );
  process.stdout.write(
    `${'runtime'.padEnd(12)} ${'ready ms'.padStart(9)} ${'synced ms'.padStart(9)} ` +
      `${'RSS MB'.padStart(8)} ${'peak MB'.padStart(8)}\n`,
  );
  const probe = `cfg/k${String(keyCount - 1).padStart(6, '0')}`;
  for (const runtime of runtimes) {
    const ready: number[] = [];
    const synced: number[] = [];
    const rss: number[] = [];
    const hwm: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const edge = await spawnEdge({ runtime, upstream: server.url, args: ['--prefix', 'cfg/'], timeoutMs: 120_000 });
      ready.push(performance.now() - t0);
      for (;;) {
        const res = await fetch(`${edge.url}/v1/kv/${probe}`).catch(() => undefined);
        if (res?.status === 200) {
          await res.arrayBuffer();
          break;
        }
        await res?.arrayBuffer();
        await sleep(5);
      }
      synced.push(performance.now() - t0);
      for (let i = 0; i < 1000; i++)
        await (await fetch(`${edge.url}/v1/kv/cfg/k${String(i % keyCount).padStart(6, '0')}`)).arrayBuffer();
      const pid = edge.proc.pid as number;
      rss.push(procKb(pid, 'VmRSS') / 1024);
      hwm.push(procKb(pid, 'VmHWM') / 1024);
      await edge.stop();
    }
    const note = runtime.endsWith('-arm64') ? '  (memory: the qemu process, emulator included)' : '';
    process.stdout.write(
      `${runtime.padEnd(12)} ${f(median(ready), 9)} ${f(median(synced), 9)} ` +
        `${f(median(rss))} ${f(median(hwm))}${note}\n`,
    );
  }
  process.stdout.write('goals: RSS < 50 MB, cold start < 500 ms on native runtimes\n');

  // ---- fan-out to simulated agents ------------------------------------------------------------
  for (const transport of ['mqtt', 'http'] as const) {
    const seen: Array<Map<string, number>> = [];
    const syncs: Array<HttpSync | MqttSync> = [];
    const replicas: Replica[] = [];
    for (let i = 0; i < agentCount; i++) {
      const arrivals = new Map<string, number>();
      seen.push(arrivals);
      const replica = new Replica(new MemoryStateStore(REPLICA_TABLES), new WatchRegistry(16), {
        prefixes: ['bench/'],
        services: [],
      });
      replicas.push(replica);
      const persist = async (d: ReplicaDelta) => {
        const now = performance.now();
        for (const [key, rec] of d.kvPut)
          if (key === 'bench/key') arrivals.set(new TextDecoder().decode(rec.value), now);
      };
      const sink = new ReplicaSink(replica, persist, silentLogger, () => Date.now());
      const common = {
        prefixes: ['bench/'],
        services: [],
        replica,
        sink,
        logger: silentLogger,
        onLink: () => undefined,
      };
      const sync =
        transport === 'http'
          ? new HttpSync({ ...common, upstream: () => server.url, agentId: `bench-${i}` })
          : new MqttSync({
              ...common,
              url: `mqtt://${server.mqttAddr}`,
              // The server's embedded broker speaks MQTT 3.1.1.
              protocol: '3.1.1',
              sessionExpirySeconds: 0,
              announceExpirySeconds: 10,
              agentId: `bench-${i}`,
              datacenter: 'dc1',
              rng: seededRng(i + 1),
            });
      syncs.push(sync);
      sync.start();
    }
    await put('bench/key', 'start');
    const t0 = performance.now();
    while (replicas.some((r) => r.lastIndex === 0)) {
      if (performance.now() - t0 > 120_000)
        throw new Error(`${transport}: ${replicas.filter((r) => r.lastIndex === 0).length} agents never synced`);
      await sleep(50);
    }
    await sleep(1000);
    const delays: number[] = [];
    let missing = 0;
    for (let w = 0; w < writes; w++) {
      const v = `w${w}`;
      const start = performance.now();
      await put('bench/key', v);
      const until = performance.now() + 10_000;
      while (seen.some((s) => !s.has(v)) && performance.now() < until) await sleep(2);
      for (const s of seen) {
        const at = s.get(v);
        if (at === undefined) missing++;
        else delays.push(at - start);
      }
      await sleep(100);
    }
    delays.sort((a, b) => a - b);
    process.stdout.write(
      `\nfan-out over ${transport.toUpperCase()}: ${agentCount} agents x ${writes} writes: ` +
        `p50 ${f(pct(delays, 50))} ms  p99 ${f(pct(delays, 99))} ms  max ${f(delays.at(-1) ?? NaN)} ms  ` +
        `missing ${missing}  (goal p99 < 200 ms)\n`,
    );
    await Promise.all(syncs.map((s) => s.stop()));
  }
} finally {
  await server.stop();
  await cleanupAll();
}
