import type { Rng } from '../../core/ports/rng.js';
import type { OpSample } from './workloads.js';

/** The prefix the edge agent replicates and its client writes. */
export const EDGE_PREFIX = 'nemesis/edge/';

/** What the edge client did: each write's key, value and how the agent answered. */
export interface EdgeHistory {
  /** key → value and outcome: 'forwarded' (200 true), 'queued' (202), or 'unknown'. */
  readonly writes: Map<string, { value: string; outcome: 'forwarded' | 'queued' | 'unknown' }>;
}

/**
 * Writes unique keys through an edge agent (`agentUrl`) until `signal` aborts: while its server
 * is reachable the agent forwards them, while not it queues them in its outbox (202) and replays
 * them later. Writes refused as "not applied" are left out of the history.
 */
export async function runEdgeClient(o: {
  agentUrl: string;
  rng: Rng;
  now: () => number;
  signal: AbortSignal;
  sample: (s: OpSample) => void;
}): Promise<EdgeHistory> {
  const h: EdgeHistory = { writes: new Map() };
  for (let n = 0; !o.signal.aborted; n++) {
    const key = `${EDGE_PREFIX}${n}`;
    const value = `e${n}-${Math.floor(o.rng.next() * 1e9)}`;
    const start = o.now();
    let outcome: 'forwarded' | 'queued' | 'unknown' | 'refused' = 'unknown';
    try {
      const res = await fetch(`${o.agentUrl}/v1/kv/${key}`, {
        method: 'PUT',
        body: value,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (res.status === 200 && text === 'true') outcome = 'forwarded';
      else if (res.status === 202) outcome = 'queued';
      // A refusal counts only when the write certainly did not happen; anything else is unknown.
      else if (/not applied/.test(text)) outcome = 'refused';
    } catch {
      // Unknown.
    }
    o.sample({
      at: start,
      ms: o.now() - start,
      workload: 'edge',
      outcome: outcome === 'unknown' ? 'unknown' : outcome === 'refused' ? 'fail' : 'ok',
    });
    if (outcome !== 'refused') h.writes.set(key, { value, outcome });
    await new Promise((r) => setTimeout(r, 50));
  }
  return h;
}

/** What the edge checker found. */
export interface EdgeVerdict {
  readonly ok: boolean;
  readonly detail: string;
  readonly anomalies: Array<{ what: string; evidence: unknown }>;
}

/**
 * Checks the keys under the edge prefix, read from the servers once the agent's outbox is empty:
 * every forwarded or queued write is there with its value, applied exactly once (CreateIndex
 * equals ModifyIndex: a second application of the same write would move ModifyIndex), and
 * nothing is there that was never written. `pending` is the outbox depth left when the check ran.
 */
export function checkEdge(
  h: EdgeHistory,
  stored: ReadonlyArray<{ Key: string; Value: string | null; CreateIndex: number; ModifyIndex: number }>,
  pending: number,
): EdgeVerdict {
  const anomalies: EdgeVerdict['anomalies'] = [];
  const byKey = new Map(stored.map((e) => [e.Key, e]));
  const missing: string[] = [];
  const wrong: unknown[] = [];
  const twice: unknown[] = [];
  for (const [key, w] of h.writes) {
    const e = byKey.get(key);
    if (!e) {
      if (w.outcome !== 'unknown') missing.push(key);
      continue;
    }
    const value = e.Value === null ? null : Buffer.from(e.Value, 'base64').toString();
    if (value !== w.value) wrong.push({ key, wrote: w.value, stored: value });
    if (e.CreateIndex !== e.ModifyIndex) twice.push({ key, CreateIndex: e.CreateIndex, ModifyIndex: e.ModifyIndex });
  }
  const phantom = stored.filter((e) => !h.writes.has(e.Key)).map((e) => e.Key);
  if (pending > 0)
    anomalies.push({ what: `the agent's outbox still held ${pending} writes after healing`, evidence: pending });
  if (missing.length > 0)
    anomalies.push({ what: 'writes the agent accepted never reached the servers', evidence: missing.slice(0, 50) });
  if (wrong.length > 0)
    anomalies.push({ what: 'stored values differ from what was written', evidence: wrong.slice(0, 50) });
  if (twice.length > 0) anomalies.push({ what: 'writes applied more than once', evidence: twice.slice(0, 50) });
  if (phantom.length > 0)
    anomalies.push({ what: 'keys present that were never written', evidence: phantom.slice(0, 50) });
  const count = (o: string) => [...h.writes.values()].filter((w) => w.outcome === o).length;
  return {
    ok: anomalies.length === 0,
    detail:
      `${count('forwarded')} writes forwarded, ${count('queued')} queued offline, ${count('unknown')} unknown; ` +
      `${stored.length} stored`,
    anomalies,
  };
}
