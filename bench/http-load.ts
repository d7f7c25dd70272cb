/** A small closed-loop HTTP load generator for the benchmarks (keep-alive, fixed concurrency). */
import { Agent, request } from 'node:http';

/** What one phase measured. */
export interface PhaseResult {
  readonly ops: number;
  readonly opsPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

/**
 * Sends one request through `agent` (keep-alive) to `target` (host:port) and resolves with the
 * status once the answer was read; rejects on a socket error. Cheaper per request than fetch,
 * so a load generator in the same machine leaves more CPU to the server.
 */
export function call(agent: Agent, target: string, method: string, path: string, body?: Buffer): Promise<number> {
  const at = target.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.slice(0, at),
        port: Number(target.slice(at + 1)),
        method,
        path,
        agent,
        headers: body ? { 'content-length': body.length, 'content-type': 'application/json' } : {},
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

let valueSeq = 0;

/**
 * A `bytes`-long value no other call in this process returned: a sequence number, then 'v's.
 * Consul (and Konsul) skip a set that leaves a key as it was, where etcd makes a new revision of
 * it, so writes measured against etcd must change what they write.
 */
export function benchValue(bytes: number): Buffer {
  const b = Buffer.alloc(bytes, 'v');
  b.write(`${valueSeq++}.`, 0, 'latin1');
  return b;
}

/**
 * Runs `concurrency` workers for `durationMs`, each sending `method path` (path from `pathFor`)
 * to a target from `targets` (round robin per worker), and reports throughput and latency.
 */
export async function runPhase(options: {
  targets: readonly string[];
  method: 'GET' | 'PUT' | 'POST';
  pathFor: (worker: number, i: number) => string;
  /**
   * A body per request (etcd's JSON API); otherwise PUTs send `valueBytes` bytes that differ from
   * request to request (see `benchValue`), so no write repeats the value a key already holds.
   */
  bodyFor?: (worker: number, i: number) => Buffer;
  concurrency: number;
  durationMs: number;
  valueBytes?: number;
}): Promise<PhaseResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const valueBytes = options.valueBytes ?? 256;
  const bodyFor = options.bodyFor ?? (options.method === 'PUT' ? () => benchValue(valueBytes) : undefined);
  const lat: number[] = [];
  let errors = 0;
  const start = performance.now();
  const deadline = start + options.durationMs;
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const t0 = performance.now();
        const target = options.targets[(w + i) % options.targets.length] as string;
        try {
          const status = await call(agent, target, options.method, options.pathFor(w, i), bodyFor?.(w, i));
          if (status !== 200) errors++;
        } catch {
          errors++;
        }
        lat.push(performance.now() - t0);
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  return { ops: lat.length, opsPerSec: lat.length / secs, p50: pct(lat, 50), p99: pct(lat, 99), errors };
}

/** One aligned table row. */
export function row(label: string, conc: number, r: PhaseResult): string {
  return (
    `${label.padEnd(28)} ${String(conc).padStart(4)} ${r.opsPerSec.toFixed(0).padStart(9)} ` +
    `${r.p50.toFixed(2).padStart(9)} ${r.p99.toFixed(2).padStart(9)} ${String(r.errors).padStart(7)}`
  );
}

/** The header matching row(). */
export const HEADER = `${'workload'.padEnd(28)} conc     ops/s    p50 ms    p99 ms  errors`;
