import type { Rng } from '../../core/ports/rng.js';
import type { Operation, RegisterInput, RegisterOutput } from '../linearizability.js';

/** A server the clients may call, as the runner sees it at the moment. */
export interface Target {
  readonly name: string;
  readonly http: string;
}

/** One client call as the report charts it: ms since the run began, latency, outcome. */
export interface OpSample {
  readonly at: number;
  readonly ms: number;
  readonly workload: 'register' | 'set' | 'lock' | 'watch' | 'edge';
  readonly outcome: 'ok' | 'fail' | 'unknown';
}

/** What the workloads did: the histories the checkers read. */
export interface WorkloadHistory {
  /** Per-key register operations (reads, writes, compare-and-sets) for the linearizability checker. */
  readonly register: Array<Operation<RegisterInput, RegisterOutput>>;
  /** Set adds: key → 'ok' (acknowledged), 'unknown' (may or may not have happened). */
  readonly setAdds: Map<string, 'ok' | 'unknown'>;
}

/** Most samples kept (one per call); later calls are still checked, not charted. */
export const MAX_SAMPLES = 400_000;
/** Registers the CAS workload spreads its operations over. */
export const REGISTER_KEYS = 8;
/** Time a call may take before its outcome counts as unknown (ms). */
const CALL_TIMEOUT_MS = 10_000;

/** What every workload runs with: where to call, its seeded choices, the run's time and the chart. */
export interface WorkloadEnv {
  /** The servers to call now (live ones). */
  readonly targets: () => readonly Target[];
  readonly rng: Rng;
  /** Milliseconds since the run began. */
  readonly now: () => number;
  /** Records one call for the chart and availability. */
  readonly sample: (s: OpSample) => void;
}

/** A random live target, or undefined when none is live. */
export const pickTarget = (env: WorkloadEnv): Target | undefined => {
  const live = env.targets();
  return live[Math.floor(env.rng.next() * live.length)];
};

/** Whether an error means the request never reached a server (so it certainly did not happen). */
export function neverSent(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } }).cause?.code ?? '';
  return code === 'ECONNREFUSED' || code === 'ENETUNREACH' || code === 'EHOSTUNREACH';
}

/**
 * Runs `clients` concurrent clients until `signal` aborts, each calling a random live server:
 * per-key registers with consistent reads, writes and compare-and-sets (cas on the index a read
 * returned; every written value is unique, so a cas on an index is a cas on the value read), and
 * adds of unique keys to a set. Times are `now()` ms from the run's start; every call goes to
 * `sample`.
 */
export async function runWorkloads(
  o: WorkloadEnv & { clients: number; signal: AbortSignal },
): Promise<WorkloadHistory> {
  const h: WorkloadHistory = { register: [], setAdds: new Map() };
  const sample = o.sample;
  let seq = 0;
  const client = async (id: number): Promise<void> => {
    // The last value and index this client read of each register.
    const seen = new Map<string, { value: string | null; index: number }>();
    while (!o.signal.aborted) {
      const t = pickTarget(o);
      if (!t) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const r = o.rng.next();
      const call = o.now();
      const signal = AbortSignal.timeout(CALL_TIMEOUT_MS);
      if (r < 0.2) {
        // A set add.
        const key = `nemesis/set/${id}-${seq++}`;
        let outcome: OpSample['outcome'] = 'unknown';
        try {
          const res = await fetch(`http://${t.http}/v1/kv/${key}`, { method: 'PUT', body: 'x', signal });
          const text = await res.text();
          if (res.status === 200 && text === 'true') outcome = 'ok';
          else if (/not applied/.test(text) || res.status === 400 || res.status === 403) outcome = 'fail';
        } catch (err) {
          if (neverSent(err)) outcome = 'fail';
        }
        if (outcome !== 'fail') h.setAdds.set(key, outcome);
        sample({ at: call, ms: o.now() - call, workload: 'set', outcome });
        continue;
      }
      const key = `nemesis/reg/${Math.floor(o.rng.next() * REGISTER_KEYS)}`;
      if (r < 0.55) {
        // A consistent read.
        try {
          const res = await fetch(`http://${t.http}/v1/kv/${key}?consistent`, { signal });
          if (res.status === 200 || res.status === 404) {
            const body =
              res.status === 404 ? [] : ((await res.json()) as Array<{ Value: string; ModifyIndex: number }>);
            const entry = body[0];
            const value = entry ? Buffer.from(entry.Value ?? '', 'base64').toString() : null;
            seen.set(key, { value, index: entry?.ModifyIndex ?? 0 });
            h.register.push({ key, input: { op: 'get' }, output: value, call, ret: o.now() });
            sample({ at: call, ms: o.now() - call, workload: 'register', outcome: 'ok' });
          } else {
            await res.body?.cancel();
            sample({ at: call, ms: o.now() - call, workload: 'register', outcome: 'fail' });
          }
        } catch {
          sample({ at: call, ms: o.now() - call, workload: 'register', outcome: 'fail' });
        }
        continue;
      }
      // A write (unconditional) or a compare-and-set on what this client last read.
      const value = `c${id}-${seq++}`;
      const last = seen.get(key);
      const cas = r >= 0.7;
      const input: RegisterInput = cas ? { op: 'cas', expect: last?.value ?? null, value } : { op: 'put', value };
      const query = cas ? `?cas=${last?.index ?? 0}` : '';
      let output: RegisterOutput | undefined;
      let refused = false;
      try {
        const res = await fetch(`http://${t.http}/v1/kv/${key}${query}`, { method: 'PUT', body: value, signal });
        const text = await res.text();
        if (res.status === 200 && (text === 'true' || text === 'false')) output = cas ? text === 'true' : true;
        else refused = /not applied/.test(text);
      } catch (err) {
        refused = neverSent(err);
      }
      const ret = o.now();
      sample({
        at: call,
        ms: ret - call,
        workload: 'register',
        outcome: output !== undefined ? 'ok' : refused ? 'fail' : 'unknown',
      });
      if (refused) continue;
      // A put answered "false" cannot happen; anything unanswered may or may not have happened.
      h.register.push({ key, input, output, call, ret: output === undefined ? Infinity : ret });
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
  return h;
}

/** What the set checker found: acknowledged adds missing, and keys present that nobody added. */
export interface SetVerdict {
  readonly ok: boolean;
  readonly acknowledged: number;
  readonly unknown: number;
  readonly present: number;
  readonly lost: string[];
  readonly unexpected: string[];
}

/** Checks the final set (the keys under nemesis/set/ read after the faults healed) against the adds. */
export function checkSet(adds: ReadonlyMap<string, 'ok' | 'unknown'>, present: readonly string[]): SetVerdict {
  const have = new Set(present);
  const lost = [...adds].filter(([k, v]) => v === 'ok' && !have.has(k)).map(([k]) => k);
  const unexpected = present.filter((k) => !adds.has(k));
  let acknowledged = 0;
  for (const v of adds.values()) if (v === 'ok') acknowledged++;
  return {
    ok: lost.length === 0 && unexpected.length === 0,
    acknowledged,
    unknown: adds.size - acknowledged,
    present: present.length,
    lost: lost.slice(0, 50),
    unexpected: unexpected.slice(0, 50),
  };
}
