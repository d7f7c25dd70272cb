import type { Model, Operation } from '../linearizability.js';
import { neverSent, pickTarget, type WorkloadEnv } from './workloads.js';

/** The one lock the lock clients contend for. */
export const LOCK_KEY = 'nemesis/lock';
/** The sessions' lock delay (ms): after a holder's session is destroyed, nobody may acquire for this long. */
export const LOCK_DELAY_MS = 2000;
/** The catalog node the sessions belong to (it has no checks, so nothing invalidates them but a destroy). */
export const LOCK_NODE = 'nemesis-lock-clients';

/** A lock operation by a session. */
export type LockInput =
  | { readonly op: 'acquire'; readonly session: string }
  | { readonly op: 'release'; readonly session: string }
  | { readonly op: 'destroy'; readonly session: string };

/** The lock's state: who holds it, or free, or in the lock delay after its holder's session ended. */
type LockState = string;
const FREE = '\u0000free';
const DELAYED = '\u0000delayed';

/** The states `input` with `output` may lead to from `s` (none: that output is impossible there). */
function lockSteps(s: LockState, input: LockInput, output: boolean | undefined): LockState[] {
  const out: LockState[] = [];
  const allow = (ok: boolean, next: LockState) => {
    if (output === undefined || output === ok) out.push(next);
  };
  // An operation of unknown outcome may also not have been applied at all.
  if (output === undefined) out.push(s);
  switch (input.op) {
    case 'acquire':
      if (s === FREE || s === input.session) allow(true, input.session);
      else if (s === DELAYED) {
        // Inside the delay it fails; after it, it succeeds (lockDelayViolations checks the timing).
        allow(false, DELAYED);
        allow(true, input.session);
      } else allow(false, s);
      break;
    case 'release':
      if (s === input.session) allow(true, FREE);
      else allow(false, s);
      break;
    case 'destroy':
      out.push(s === input.session ? DELAYED : s);
      break;
  }
  return out;
}

/**
 * The lock as a register of its holder, over the set of states the history so far allows (an
 * acquire during a lock delay may fail, or succeed once the delay is over): acquire succeeds when
 * free or already held by the same session, release when held by it; destroying the holder's
 * session starts a lock delay. Sessions here have no checks and no TTL, so nothing else frees
 * the lock.
 */
export const lockModel: Model<readonly LockState[], LockInput, boolean> = {
  init: () => [FREE],
  step(states, input, output) {
    const next = [...new Set(states.flatMap((s) => lockSteps(s, input, output)))].sort();
    return next.length === 0 ? undefined : next;
  },
  hash: (states) => states.join('\u0001'),
};

/**
 * `ops` with each unknown-outcome acquire or release ending (ret) when a later destroy of its
 * session returned successfully: the server refuses a lock operation of a session that no longer
 * exists, so one that took effect did so before that destroy. The search may still take it as
 * not applied (lockModel allows that for an unknown outcome), but no longer has to try it at
 * every later point, which made long histories with many unknown outcomes too costly to check.
 */
export function boundBySessionEnd(
  ops: ReadonlyArray<Operation<LockInput, boolean>>,
): Array<Operation<LockInput, boolean>> {
  const destroyed = new Map<string, number[]>();
  for (const o of ops)
    if (o.input.op === 'destroy' && o.output === true && Number.isFinite(o.ret)) {
      let list = destroyed.get(o.input.session);
      if (!list) destroyed.set(o.input.session, (list = []));
      list.push(o.ret);
    }
  return ops.map((o) => {
    if (Number.isFinite(o.ret) || o.input.op === 'destroy') return o;
    // The first destroy that returned after this call (one that returned before cannot bound it).
    const end = destroyed
      .get(o.input.session)
      ?.filter((t) => t > o.call)
      .reduce((a, b) => Math.min(a, b), Infinity);
    return end === undefined || end === Infinity ? o : { ...o, ret: end };
  });
}

/** What the lock clients did. */
export interface LockHistory {
  readonly ops: Array<Operation<LockInput, boolean>>;
}

/**
 * Runs `clients` lock clients until `signal` aborts: each holds a session (on a checkless catalog
 * node, LockDelay 2 s), acquires the lock, holds it a little, then releases it or (one time in
 * five) destroys its session and makes a new one. After an unknown outcome it destroys its session
 * too, so it never believes it holds a lock it may not.
 */
export async function runLockClients(o: WorkloadEnv & { clients: number; signal: AbortSignal }): Promise<LockHistory> {
  const h: LockHistory = { ops: [] };
  const target = () => pickTarget(o);
  const call = async (
    method: string,
    path: string,
    body?: string,
  ): Promise<{ status: number; text: string } | 'unknown' | 'refused'> => {
    const t = target();
    if (!t) return 'refused';
    try {
      const res = await fetch(`http://${t.http}${path}`, { method, body, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      if (/not applied/.test(text)) return 'refused';
      return { status: res.status, text };
    } catch (err) {
      return neverSent(err) ? 'refused' : 'unknown';
    }
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // The node the sessions live on.
  while (!o.signal.aborted) {
    const r = await call('PUT', '/v1/catalog/register', JSON.stringify({ Node: LOCK_NODE, Address: '192.0.2.1' }));
    if (typeof r === 'object' && r.status === 200) break;
    await sleep(200);
  }
  const newSession = async (): Promise<string | undefined> => {
    while (!o.signal.aborted) {
      const body = JSON.stringify({
        Node: LOCK_NODE,
        NodeChecks: [],
        LockDelay: `${LOCK_DELAY_MS}ms`,
        Name: 'nemesis',
      });
      const r = await call('PUT', '/v1/session/create', body);
      if (typeof r === 'object' && r.status === 200) return (JSON.parse(r.text) as { ID: string }).ID;
      await sleep(200);
    }
    return undefined;
  };
  const record = async (input: LockInput, path: string): Promise<boolean | undefined | 'refused'> => {
    const start = o.now();
    const r = await call('PUT', path, input.op === 'destroy' ? undefined : 'x');
    const ret = o.now();
    if (r === 'refused') {
      o.sample({ at: start, ms: ret - start, workload: 'lock', outcome: 'fail' });
      return 'refused';
    }
    const output =
      r === 'unknown' || r.status !== 200 ? undefined : input.op === 'destroy' ? true : r.text.trim() === 'true';
    // A 4xx/5xx other than "not applied" may or may not have happened (a forwarded request timed out).
    h.ops.push({ key: LOCK_KEY, input, output, call: start, ret: output === undefined ? Infinity : ret });
    o.sample({ at: start, ms: ret - start, workload: 'lock', outcome: output === undefined ? 'unknown' : 'ok' });
    return output;
  };
  const client = async (): Promise<void> => {
    let session = await newSession();
    while (session && !o.signal.aborted) {
      const got = await record({ op: 'acquire', session }, `/v1/kv/${LOCK_KEY}?acquire=${session}`);
      if (got === true) {
        await sleep(100 + o.rng.next() * 300);
        if (o.rng.next() < 0.8) {
          const released = await record({ op: 'release', session }, `/v1/kv/${LOCK_KEY}?release=${session}`);
          if (released !== undefined) continue;
        }
      } else if (got === false || got === 'refused') {
        await sleep(50 + o.rng.next() * 100);
        continue;
      }
      // Destroy: after holding (one time in five), or when an outcome is unknown.
      for (;;) {
        const d = await record({ op: 'destroy', session }, `/v1/session/destroy/${session}`);
        if (d === true || o.signal.aborted) break;
        await sleep(200);
      }
      session = await newSession();
    }
  };
  await Promise.all(Array.from({ length: o.clients }, () => client()));
  return h;
}

/**
 * Lock-delay violations: another session's acquire, sent after the destroy of the session that
 * held the lock (its last operation was a successful acquire), succeeded and was answered
 * before LOCK_DELAY_MS had passed since the destroy was sent. The server applied the destroy no
 * earlier than it was sent, so that acquire was applied inside the lock delay.
 */
export function lockDelayViolations(ops: ReadonlyArray<Operation<LockInput, boolean>>): Array<{
  destroy: Operation<LockInput, boolean>;
  acquire: Operation<LockInput, boolean>;
}> {
  const out: Array<{ destroy: Operation<LockInput, boolean>; acquire: Operation<LockInput, boolean> }> = [];
  const sorted = [...ops].sort((a, b) => a.call - b.call);
  for (const d of sorted) {
    if (d.input.op !== 'destroy' || d.output !== true) continue;
    const mine = sorted.filter((x) => x.input.session === d.input.session && x.call < d.call);
    const last = mine[mine.length - 1];
    // It held the lock: its last operation before the destroy was an acquire that succeeded (a
    // release of unknown outcome in between may have freed it already).
    if (!last || last.input.op !== 'acquire' || last.output !== true) continue;
    for (const a of sorted)
      if (
        a.input.op === 'acquire' &&
        a.output === true &&
        a.input.session !== d.input.session &&
        // Sent after the destroy: it cannot have been applied before the lock was held.
        a.call > d.call &&
        a.ret < d.call + LOCK_DELAY_MS
      )
        out.push({ destroy: d, acquire: a });
  }
  return out.slice(0, 20);
}
