/**
 * Blocking queries and watch streams at scale, on one server (issue 16, part 2):
 *   h1  — N KV blocking queries over HTTP/1.1, one connection each (default 15,000)
 *   sse — N /v1/watch/kv SSE streams over HTTP/1.1 (default 10,000)
 *   h2  — N KV blocking queries as HTTP/2 streams over a few h2c connections (default 50,000 over 8)
 * For each mode it starts a fresh `konsul server --dev`, opens the waiters (perKey of them per key),
 * checks on the server's gauges that all of them wait, then in `rounds` rounds changes `changed`
 * keys with one /v1/txn each and measures the wake latency (txn sent → waiter's answer) of the
 * affected waiters, checks that no other waiter answered and that the server woke exactly the
 * affected ones (its wake-up counters), reports the server's RSS and heap per waiter, and checks
 * that one more waiter than the limit gets 503 with Retry-After (and, over HTTP/1.1, one more
 * connection than --max-http-connections too).
 *
 *   npm run bench:watchers -- [--mode h1,sse,h2] [--h1 15000] [--sse 10000] [--h2 50000]
 *                             [--h2-conns 8] [--per-key 10] [--changed 50] [--rounds 5]
 *
 * Each HTTP/1.1 waiter holds one descriptor in the server and one here. Node raises its own soft
 * open-file limit to the hard one at start-up (so `ulimit -Sn` does not matter, `ulimit -Hn` does);
 * the script stops at once if the limit is too low for --h1/--sse. Client and server share the
 * machine, so latencies include the client's work.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Agent, request } from 'node:http';
import { type ClientHttp2Session, connect } from 'node:http2';
import { parseArgs } from 'node:util';
import { cleanupAll, spawnServer, type SpawnedServer } from '../testing/spawn-server.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'h1,sse,h2' },
    h1: { type: 'string', default: '15000' },
    sse: { type: 'string', default: '10000' },
    h2: { type: 'string', default: '50000' },
    'h2-conns': { type: 'string', default: '8' },
    'per-key': { type: 'string', default: '10' },
    changed: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '5' },
  },
});
const MODES = String(values.mode).split(',');
const PER_KEY = Number(values['per-key']);
const CHANGED = Number(values.changed);
const ROUNDS = Number(values.rounds);
const H2_CONNS = Number(values['h2-conns']);
const OPEN_BATCH = 500;

/** The soft and hard open-file limits of this process (Linux /proc). */
function fileLimits(): { soft: number; hard: number } {
  const line = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  const n = (s: string | undefined) => (s === 'unlimited' || s === undefined ? Infinity : Number(s));
  return { soft: n(line?.[1]), hard: n(line?.[2]) };
}

const needFiles = Math.max(
  ...MODES.map((m) => (m === 'h1' ? Number(values.h1) : m === 'sse' ? Number(values.sse) : 0)),
);
// Node raises its soft open-file limit to the hard one at start-up, so the hard limit is what counts.
if (fileLimits().soft < needFiles + 512) {
  console.error(`needs ${needFiles + 512} open files; this process has ${fileLimits().soft}: lower --h1/--sse`);
  process.exit(2);
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One keep-alive connection for control requests (metrics, writes, the limit probes). */
const control = new Agent({ keepAlive: true, maxSockets: 1 });

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

function http1(
  server: SpawnedServer,
  method: string,
  path: string,
  body?: string,
  agent: Agent | false = control,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: server.host, port: server.port, method, path, agent }, (res) => {
      res.on('error', reject);
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function gauges(server: SpawnedServer): Promise<Record<string, number>> {
  let r = await http1(server, 'GET', '/v1/agent/metrics');
  // The control connection may have been closed (keep-alive timeout) and its replacement counted
  // before the server saw the old one go: at the connection limit that is refused for a moment.
  for (let i = 0; i < 50 && r.status === 503; i++) {
    await sleep(100);
    r = await http1(server, 'GET', '/v1/agent/metrics');
  }
  const json = JSON.parse(r.text) as { Gauges: Array<{ Name: string; Value: number }> };
  return Object.fromEntries(json.Gauges.map((g) => [g.Name, g.Value]));
}

const keyOf = (k: number) => `w/${k}/k`;

/** Creates keys 0..n-1 (128 per transaction); returns the index after the last write. */
async function createKeys(server: SpawnedServer, n: number): Promise<number> {
  let index = 0;
  for (let k = 0; k < n; k += 128) {
    const ops = [];
    for (let j = k; j < Math.min(n, k + 128); j++)
      ops.push({ KV: { Verb: 'set', Key: keyOf(j), Value: Buffer.from('0').toString('base64') } });
    const r = await http1(server, 'PUT', '/v1/txn', JSON.stringify(ops));
    if (r.status !== 200) throw new Error(`txn: ${r.status} ${r.text}`);
    index = Number(r.headers['x-consul-index'] ?? 0);
  }
  return index;
}

/** Polls the server's gauge until it reaches `want` (fails after `ms`). */
async function waitGauge(server: SpawnedServer, name: string, want: number, ms = 120_000): Promise<number> {
  const end = performance.now() + ms;
  let last = -1;
  while (performance.now() < end) {
    last = (await gauges(server))[name] ?? -1;
    if (last >= want) return last;
    await sleep(100);
  }
  throw new Error(`${name} reached ${last}, not ${want}`);
}

/** A waiter: which key it watches, and when (if) it answered. */
interface Waiter {
  readonly key: number;
  answeredAt?: number;
  status?: number;
}

/** Opens the mode's waiters; `open(i, waiter)` starts one and records its answer. */
type Opener = (i: number, w: Waiter) => void;

interface ModeSetup {
  readonly n: number;
  readonly args: string[];
  /** Gauge that counts the waiters. */
  readonly gauge: 'konsul_blocking_queries_waiting' | 'konsul_watch_streams_open';
  readonly wakeGauge: 'konsul_blocking_query_wakeups' | 'konsul_watch_stream_wakeups';
  opener(server: SpawnedServer, index: number): Opener;
  /** One more waiter than the limit: the answer. */
  probeLimit(server: SpawnedServer, index: number): Promise<Answer>;
  close(): void;
}

function h1Setup(n: number): ModeSetup {
  const sockets: Array<{ destroy(): void }> = [];
  return {
    n,
    // The control connection is the one beyond the waiters.
    args: ['--max-blocking-queries', String(n), '--max-http-connections', String(n + 1)],
    gauge: 'konsul_blocking_queries_waiting',
    wakeGauge: 'konsul_blocking_query_wakeups',
    opener: (server, index) => (_i, w) => {
      const req = request(
        { host: server.host, port: server.port, path: `/v1/kv/${keyOf(w.key)}?index=${index}&wait=10m`, agent: false },
        (res) => {
          w.answeredAt = performance.now();
          w.status = res.statusCode ?? 0;
          res.on('error', () => undefined);
          res.resume();
        },
      );
      req.on('error', () => undefined);
      req.on('socket', (s) => sockets.push(s));
      req.end();
    },
    probeLimit: (server, index) => http1(server, 'GET', `/v1/kv/${keyOf(0)}?index=${index}&wait=10m`),
    close: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

function sseSetup(n: number): ModeSetup {
  const sockets: Array<{ destroy(): void }> = [];
  return {
    n,
    // The dev server's MQTT bridge holds one feed subscription of its own.
    args: ['--max-watch-streams', String(n + 1), '--max-http-connections', String(n + 1)],
    gauge: 'konsul_watch_streams_open',
    wakeGauge: 'konsul_watch_stream_wakeups',
    opener: (server) => (_i, w) => {
      const req = request(
        { host: server.host, port: server.port, path: `/v1/watch/kv/w/${w.key}/`, agent: false },
        (res) => {
          w.status = res.statusCode ?? 0;
          res.on('error', () => undefined);
          res.on('data', (d: Buffer) => {
            if (w.answeredAt === undefined && d.toString().includes('id: ')) w.answeredAt = performance.now();
          });
        },
      );
      req.on('error', () => undefined);
      req.on('socket', (s) => sockets.push(s));
      req.end();
    },
    probeLimit: (server) =>
      new Promise((resolve, reject) => {
        const req = request(
          { host: server.host, port: server.port, path: '/v1/watch/kv/w/0/', agent: control },
          (res) => {
            res.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '' });
          },
        );
        req.on('error', reject);
        req.end();
      }),
    close: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

function h2Setup(n: number): ModeSetup {
  const sessions: ClientHttp2Session[] = [];
  const perConn = Math.ceil(n / H2_CONNS);
  const session = (server: SpawnedServer) => {
    const s = connect(`http://${server.host}:${server.port}`, { maxSessionMemory: 1024 });
    s.on('error', () => undefined);
    sessions.push(s);
    return s;
  };
  return {
    n,
    args: ['--max-blocking-queries', String(n), '--http2-max-streams', String(perConn + 16)],
    gauge: 'konsul_blocking_queries_waiting',
    wakeGauge: 'konsul_blocking_query_wakeups',
    opener: (server, index) => {
      const conns = Array.from({ length: H2_CONNS }, () => session(server));
      return (i, w) => {
        const s = (conns[i % H2_CONNS] as ClientHttp2Session).request({
          ':path': `/v1/kv/${keyOf(w.key)}?index=${index}&wait=10m`,
        });
        s.on('response', (h) => {
          w.answeredAt = performance.now();
          w.status = Number(h[':status']);
        });
        s.on('error', () => undefined);
        s.resume();
        s.end();
      };
    },
    probeLimit: (server, index) =>
      new Promise((resolve) => {
        const st = session(server).request({ ':path': `/v1/kv/${keyOf(0)}?index=${index}&wait=10m` });
        st.on('response', (h) => resolve({ status: Number(h[':status']), headers: h, text: '' }));
        st.on('error', () => resolve({ status: 0, headers: {}, text: 'stream error' }));
        st.resume();
        st.end();
      }),
    close: () => {
      for (const s of sessions) s.destroy();
    },
  };
}

async function runMode(mode: string, setup: ModeSetup): Promise<void> {
  const { n } = setup;
  const keys = Math.ceil(n / PER_KEY);
  if (CHANGED * ROUNDS > keys) throw new Error(`--changed × --rounds (${CHANGED * ROUNDS}) exceeds the keys (${keys})`);
  const server = await spawnServer({ args: setup.args, timeoutMs: 60_000 });
  try {
    const index = await createKeys(server, keys);
    const before = await gauges(server);
    // Waiters the server has of its own (the MQTT bridge's feed subscription).
    const base = before[setup.gauge] ?? 0;
    const waiters: Waiter[] = Array.from({ length: n }, (_, i) => ({ key: i % keys }));
    const open = setup.opener(server, index);
    const t0 = performance.now();
    for (let i = 0; i < n; i += OPEN_BATCH) {
      for (let j = i; j < Math.min(n, i + OPEN_BATCH); j++) open(j, waiters[j] as Waiter);
      await waitGauge(server, setup.gauge, base + Math.min(n, i + OPEN_BATCH));
    }
    const openSec = (performance.now() - t0) / 1000;
    const waiting = await gauges(server);
    const early = waiters.filter((w) => w.answeredAt !== undefined).length;
    const rssPer = ((waiting['konsul_process_rss_bytes'] ?? 0) - (before['konsul_process_rss_bytes'] ?? 0)) / n;
    const heapPer =
      ((waiting['konsul_process_heap_used_bytes'] ?? 0) - (before['konsul_process_heap_used_bytes'] ?? 0)) / n;
    const mb = (name: string) => ((waiting[name] ?? 0) / 2 ** 20).toFixed(0);
    console.log(
      `[${mode}] ${waiting[setup.gauge]} waiting (opened in ${openSec.toFixed(1)} s; answered early: ${early}); ` +
        `connections ${waiting['konsul_http_connections_open']}, ` +
        `h2 sessions ${waiting['konsul_http2_sessions_open']}, h2 streams ${waiting['konsul_http2_streams_open']}`,
    );
    console.log(
      `[${mode}] server RSS ${mb('konsul_process_rss_bytes')} MB (+${(rssPer / 1024).toFixed(1)} KiB per waiter), ` +
        `heap ${mb('konsul_process_heap_used_bytes')} MB (+${(heapPer / 1024).toFixed(1)} KiB per waiter)`,
    );

    const probe = await setup.probeLimit(server, index);
    console.log(
      `[${mode}] one more than the limit: ${probe.status} Retry-After ${String(probe.headers['retry-after'] ?? '-')}`,
    );
    if (mode !== 'h2') {
      // All waiters + the control connection fill --max-http-connections: a new connection is refused.
      const open = (await gauges(server))['konsul_http_connections_open'];
      const extra = await http1(server, 'GET', '/v1/status/leader', undefined, false).catch((e: Error): Answer => ({
        status: 0,
        headers: {},
        text: e.message,
      }));
      console.log(
        `[${mode}] one more connection (${open} open): ${extra.status} ` +
          `Retry-After ${String(extra.headers['retry-after'] ?? '-')}`,
      );
    }

    const latencies: number[] = [];
    /** From the write's acknowledgement (commit done) to each answer. */
    const afterAck: number[] = [];
    const acks: number[] = [];
    const wakesBefore = (await gauges(server))[setup.wakeGauge] ?? 0;
    for (let r = 0; r < ROUNDS; r++) {
      const changedKeys = Array.from({ length: CHANGED }, (_, j) => r * CHANGED + j);
      const affected = waiters.filter((w) => w.key >= r * CHANGED && w.key < (r + 1) * CHANGED);
      const ops = changedKeys.map((k) => ({
        KV: { Verb: 'set', Key: keyOf(k), Value: Buffer.from(String(r + 1)).toString('base64') },
      }));
      const sent = performance.now();
      const res = await http1(server, 'PUT', '/v1/txn', JSON.stringify(ops));
      if (res.status !== 200) throw new Error(`txn: ${res.status} ${res.text}`);
      const acked = performance.now();
      acks.push(acked - sent);
      const end = performance.now() + 60_000;
      while (affected.some((w) => w.answeredAt === undefined) && performance.now() < end) await sleep(2);
      for (const w of affected) {
        if (w.answeredAt === undefined) continue;
        latencies.push(w.answeredAt - sent);
        afterAck.push(w.answeredAt - acked);
      }
    }
    await sleep(500);
    const after = await gauges(server);
    const woke = waiters.filter((w) => w.answeredAt !== undefined).length;
    const expected = CHANGED * ROUNDS * PER_KEY;
    const serverWakes = (after[setup.wakeGauge] ?? 0) - wakesBefore;
    latencies.sort((a, b) => a - b);
    afterAck.sort((a, b) => a - b);
    acks.sort((a, b) => a - b);
    console.log(
      `[${mode}] ${ROUNDS} rounds × ${CHANGED} keys changed: ${latencies.length}/${expected} affected answered; ` +
        `wake latency p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, ` +
        `max ${(latencies[latencies.length - 1] ?? NaN).toFixed(1)} ms`,
    );
    console.log(
      `[${mode}] of which the write (txn sent → acknowledged) p50 ${pct(acks, 50).toFixed(1)} ms; ` +
        `acknowledgement → answer p50 ${pct(afterAck, 50).toFixed(1)} ms, p99 ${pct(afterAck, 99).toFixed(1)} ms ` +
        `(negative: the answer arrived before the acknowledgement)`,
    );
    const sse = setup.gauge === 'konsul_watch_streams_open';
    console.log(
      `[${mode}] unaffected answered: ${woke - latencies.length} (want 0); server wake-ups ${serverWakes} ` +
        `(affected ${expected}${sse ? ' + the MQTT bridge, woken by every write' : ''}); ` +
        `still ${sse ? 'open' : 'waiting'} ${after[setup.gauge]} (want ${base + (sse ? n : n - expected)})`,
    );
  } finally {
    setup.close();
    await server.stop();
  }
}

console.log(
  `watchers bench: modes ${MODES.join(',')}, ${PER_KEY} waiters per key, ${CHANGED} keys × ${ROUNDS} rounds; ` +
    `open-file limit ${fileLimits().soft}; node ${process.version}; ${cpus().length} CPUs, ` +
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
);
try {
  for (const mode of MODES) {
    if (mode === 'h1') await runMode(mode, h1Setup(Number(values.h1)));
    else if (mode === 'sse') await runMode(mode, sseSetup(Number(values.sse)));
    else if (mode === 'h2') await runMode(mode, h2Setup(Number(values.h2)));
    else throw new Error(`unknown mode ${mode}`);
  }
} finally {
  control.destroy();
  await cleanupAll();
}
