/**
 * KV benchmark of a single-node server over HTTP: concurrent PUTs and GETs of fixed-size values
 * against a real `konsul server --dev` process on loopback. Prints ops/s, p50 and p99 latency.
 *
 *   npm run bench:kv -- [--duration 5] [--concurrency 1,16,64] [--value-size 256] [--keys 10000]
 */
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { cleanupAll, spawnServer } from '../server/testing/spawn-server.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,16,64' },
    'value-size': { type: 'string', default: '256' },
    keys: { type: 'string', default: '10000' },
  },
});
const durationMs = Number(values.duration) * 1000;
const levels = String(values.concurrency).split(',').map(Number);
const valueSize = Number(values['value-size']);
const keySpace = Number(values.keys);

function call(agent: Agent, port: number, method: string, path: string, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: body ? { 'content-length': body.length } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function phase(port: number, method: 'PUT' | 'GET', concurrency: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const body = Buffer.alloc(valueSize, 'v');
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const key = `bench/${(w * 7919 + i) % keySpace}`;
        const t0 = performance.now();
        const status = await call(agent, port, method, `/v1/kv/${key}`, method === 'PUT' ? body : undefined);
        latencies.push(performance.now() - t0);
        if (status !== 200) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { ops: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors, n: latencies.length };
}

const server = await spawnServer();
try {
  // Fill the key space so GETs hit existing keys.
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const fill = Buffer.alloc(valueSize, 'v');
  for (let i = 0; i < keySpace; i += 64) {
    await Promise.all(Array.from({ length: Math.min(64, keySpace - i) }, (_, j) => call(agent, server.port, 'PUT', `/v1/kv/bench/${i + j}`, fill)));
  }
  agent.destroy();
  console.log(`konsul single node, ${valueSize} B values, ${keySpace} keys, ${durationMs / 1000} s per phase, node ${process.version}`);
  console.log('op    conc     ops/s    p50 ms    p99 ms   errors');
  for (const method of ['PUT', 'GET'] as const) {
    for (const c of levels) {
      const r = await phase(server.port, method, c);
      console.log(`${method.padEnd(5)} ${String(c).padStart(4)} ${r.ops.toFixed(0).padStart(9)} ${r.p50.toFixed(2).padStart(9)} ${r.p99.toFixed(2).padStart(9)} ${String(r.errors).padStart(8)}`);
    }
  }
} finally {
  await server.stop();
  await cleanupAll();
}
