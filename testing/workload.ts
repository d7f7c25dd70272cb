import type { Operation, RegisterInput, RegisterOutput } from './linearizability.js';
import type { Member } from './cluster-harness.js';

/** What a workload did: the register history (for the linearizability checker) and unique writes. */
export interface WorkloadResult {
  readonly history: Array<Operation<RegisterInput, RegisterOutput>>;
  /** Unique keys whose write was acknowledged (must all survive). */
  readonly ackedUnique: Map<string, string>;
  okWrites: number;
  failed: number;
  /** Acknowledged writes, with their completion time (performance.now()). */
  readonly ackTimes: number[];
}

/**
 * Runs `clients` concurrent clients against random live members for `durationMs`: puts and
 * gets (?consistent, or default reads) on a few shared keys (recorded as a register history) and
 * puts of unique keys.
 * A failed or timed-out write has an unknown outcome; a failed read is dropped.
 */
export async function runWorkload(
  members: () => readonly Member[],
  options: {
    clients: number;
    durationMs: number;
    keys?: readonly string[];
    /** How reads ask for consistency (default 'consistent'; 'default': no parameter, Consul's default mode). */
    reads?: 'consistent' | 'default';
  },
): Promise<WorkloadResult> {
  const keys = options.keys ?? ['a', 'b', 'c', 'd', 'e', 'f'];
  const readQuery = options.reads === 'default' ? '?raw' : '?raw&consistent';
  const result: WorkloadResult = { history: [], ackedUnique: new Map(), okWrites: 0, failed: 0, ackTimes: [] };
  const end = performance.now() + options.durationMs;
  let seq = 0;
  await Promise.all(
    Array.from({ length: options.clients }, async (_, client) => {
      while (performance.now() < end) {
        const live = members().filter((m) => m.server);
        const m = live[Math.floor(Math.random() * live.length)];
        if (!m) continue;
        const key = keys[Math.floor(Math.random() * keys.length)] as string;
        const r = Math.random();
        const call = performance.now();
        const signal = AbortSignal.timeout(15_000);
        if (r < 0.4) {
          try {
            const res = await fetch(`http://${m.http}/v1/kv/${key}${readQuery}`, { signal });
            const body = res.status === 200 ? await res.text() : res.status === 404 ? null : undefined;
            if (body !== undefined)
              result.history.push({ key, input: { op: 'get' }, output: body, call, ret: performance.now() });
            else result.failed++;
          } catch {
            result.failed++;
          }
        } else {
          const unique = r > 0.8;
          const value = `c${client}-${seq++}`;
          const target = unique ? `u/${value}` : key;
          let ok = false;
          let refused: boolean;
          try {
            const res = await fetch(`http://${m.http}/v1/kv/${target}`, { method: 'PUT', body: value, signal });
            const text = await res.text();
            ok = res.status === 200 && text === 'true';
            // The server says when a failed write was certainly not applied.
            refused = !ok && /not applied/.test(text);
          } catch (err) {
            // A refused connection never reached a server: that write certainly did not happen.
            refused = ((err as { cause?: { code?: string } }).cause?.code ?? '') === 'ECONNREFUSED';
          }
          if (refused) {
            result.failed++;
            continue;
          }
          const ret = performance.now();
          if (ok) {
            result.okWrites++;
            result.ackTimes.push(ret);
          } else result.failed++;
          if (unique) {
            if (ok) result.ackedUnique.set(target, value);
          } else {
            result.history.push({
              key,
              input: { op: 'put', value },
              output: ok ? true : undefined,
              call,
              ret: ok ? ret : Infinity,
            });
          }
        }
      }
    }),
  );
  return result;
}
