/**
 * Coordination benchmark against a real `konsul server --dev` process on loopback:
 *  - lock handoffs: N clients, each with its own session, compete for one key
 *    (acquire, release, repeat); prints handoffs/s and the wait for the lock (p50/p99);
 *  - transactions of K KV sets at fixed concurrency, next to single PUTs; prints ops/s and keys/s;
 *  - watch fan-out: S SSE streams on one prefix while a writer PUTs under it; prints the
 *    delivery delay from write acknowledgement to each stream's event (p50/p99) and checks that
 *    every stream received every change exactly once.
 *
 *   npm run bench:coordination -- [--duration 5] [--clients 1,8,32] [--txn-size 10] [--streams 10,200]
 */
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { SseReader } from '../testing/sse.js';
import { benchValue } from './http-load.js';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    clients: { type: 'string', default: '1,8,32' },
    'txn-size': { type: 'string', default: '10' },
    streams: { type: 'string', default: '10,200' },
  },
});
const durationMs = Number(values.duration) * 1000;
const clientLevels = String(values.clients).split(',').map(Number);
const txnSize = Number(values['txn-size']);
const streamLevels = String(values.streams).split(',').map(Number);

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const ms = (n: number) => n.toFixed(2).padStart(8);

const server = await spawnServer();
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function call(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = request(
      {
        host: server.host,
        port: server.port,
        method,
        path,
        agent,
        headers: data ? { 'content-length': data.length } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function lockPhase(clients: number): Promise<void> {
  const sessions = await Promise.all(
    Array.from(
      { length: clients },
      async () =>
        (JSON.parse((await call('PUT', '/v1/session/create', '{"LockDelay":"0s"}')).text) as { ID: string }).ID,
    ),
  );
  const waits: number[] = [];
  let handoffs = 0;
  let failedAttempts = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  await Promise.all(
    sessions.map(async (id) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        for (;;) {
          const r = await call('PUT', `/v1/kv/bench/lock?acquire=${id}`, id);
          if (r.text === 'true') break;
          failedAttempts++;
          if (performance.now() >= deadline) return;
        }
        waits.push(performance.now() - t0);
        handoffs++;
        await call('PUT', `/v1/kv/bench/lock?release=${id}`, '');
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  for (const id of sessions) await call('PUT', `/v1/session/destroy/${id}`);
  waits.sort((a, b) => a - b);
  console.log(
    `lock handoffs      ${String(clients).padStart(4)} clients ${(handoffs / secs).toFixed(0).padStart(8)} /s   ` +
      `wait p50 ${ms(pct(waits, 50))} ms  p99 ${ms(pct(waits, 99))} ms  (${failedAttempts} refused attempts)`,
  );
}

async function writePhase(kind: 'put' | 'txn', concurrency: number): Promise<void> {
  const lat: number[] = [];
  let errors = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const t0 = performance.now();
        const r =
          kind === 'put'
            ? await call('PUT', `/v1/kv/bench/w${w}/${i % 1000}`, benchValue(64).toString())
            : await call(
                'PUT',
                '/v1/txn',
                JSON.stringify(
                  Array.from({ length: txnSize }, (_, k) => ({
                    KV: {
                      Verb: 'set',
                      Key: `bench/t${w}/${(i * txnSize + k) % 1000}`,
                      Value: benchValue(64).toString('base64'),
                    },
                  })),
                ),
              );
        if (r.status !== 200) errors++;
        lat.push(performance.now() - t0);
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const keys = kind === 'put' ? 1 : txnSize;
  const label = kind === 'put' ? 'single PUT' : `txn of ${txnSize} sets`;
  console.log(
    `${label.padEnd(18)} ${String(concurrency).padStart(4)} conc    ` +
      `${(lat.length / secs).toFixed(0).padStart(8)} /s   ` +
      `${((lat.length * keys) / secs).toFixed(0).padStart(8)} keys/s   ` +
      `p50 ${ms(pct(lat, 50))} ms  p99 ${ms(pct(lat, 99))} ms  errors ${errors}`,
  );
}

async function watchPhase(streams: number, writes: number): Promise<void> {
  const prefix = `bench/watch${streams}/`;
  const readers = await Promise.all(
    Array.from({ length: streams }, async () => new SseReader(await fetch(`${server.url}/v1/watch/kv/${prefix}`))),
  );
  const ackedAt = new Map<string, number>();
  const delays: number[] = [];
  let complete = 0;
  const consumers = readers.map(async (r) => {
    const seen = new Set<string>();
    while (seen.size < writes) {
      const e = await r.next(10_000);
      if (!e) break;
      const key = (JSON.parse(e.data) as { Key: string }).Key;
      if (seen.has(key)) throw new Error(`duplicate ${key}`);
      seen.add(key);
      const t = ackedAt.get(key);
      // A stream may see the change before the writer has its acknowledgement (delay <= 0).
      delays.push(t === undefined ? 0 : Math.max(0, performance.now() - t));
    }
    if (seen.size === writes) complete++;
    await r.close();
  });
  const t0 = performance.now();
  for (let i = 0; i < writes; i++) {
    const key = `${prefix}k${i}`;
    await call('PUT', `/v1/kv/${key}`, 'x');
    ackedAt.set(key, performance.now());
  }
  const writeSecs = (performance.now() - t0) / 1000;
  await Promise.all(consumers);
  delays.sort((a, b) => a - b);
  console.log(
    `watch fan-out      ${String(streams).padStart(4)} streams ${String(writes).padStart(6)} writes ` +
      `(${(writes / writeSecs).toFixed(0)}/s)   ` +
      `delivery p50 ${ms(pct(delays, 50))} ms  p99 ${ms(pct(delays, 99))} ms   ` +
      `complete streams ${complete}/${streams}`,
  );
}

try {
  // Sessions bind to the node's serfHealth check, registered by the agent's first sync.
  for (let i = 0; i < 100 && (await call('PUT', '/v1/session/create', '{}')).status !== 200; i++)
    await new Promise((r) => setTimeout(r, 100));
  console.log(`konsul single node, ${durationMs / 1000} s per phase, node ${process.version}`);
  for (const c of clientLevels) await lockPhase(c);
  for (const c of [1, 16]) {
    await writePhase('put', c);
    await writePhase('txn', c);
  }
  for (const s of streamLevels) await watchPhase(s, 1000);
} finally {
  agent.destroy();
  await server.stop();
  await cleanupAll();
}
