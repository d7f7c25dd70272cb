import {
  checkLinearizability,
  type Model,
  type Operation,
  registerModel,
  shortestFailingPrefix,
  type RegisterInput,
  type RegisterOutput,
} from '../linearizability.js';
import { checkEdge, type EdgeHistory } from './edge.js';
import type { FaultRecord } from './faults.js';
import { boundBySessionEnd, LOCK_KEY, lockDelayViolations, type LockInput, lockModel } from './locks.js';
import type { Anomaly, NemesisReport } from './report.js';
import { checkWatch, type WatchHistory } from './watch.js';
import { checkSet } from './workloads.js';

/** A server that exited without the nemesis stopping it. */
export interface Crash {
  readonly server: string;
  readonly at: number;
  readonly code: number | string;
  readonly lastOutput: string;
}

/**
 * Everything a run's checkers read, as `history.json` holds it: the histories of every workload
 * and what the servers held after healing. In the file, an unknown outcome's `ret` (Infinity)
 * is null; reviveSavedRun puts it back.
 */
export interface SavedRun {
  readonly register: Array<Operation<RegisterInput, RegisterOutput>>;
  readonly set: Array<[string, 'ok' | 'unknown']>;
  readonly lock: Array<Operation<LockInput, boolean>>;
  readonly watch: {
    readonly writes: Array<[string, { value: string; outcome: 'ok' | 'unknown' }]>;
    readonly watchers: Array<Omit<WatchHistory['watchers'][number], 'snapshotKeys'> & { snapshotKeys: string[] }>;
    readonly blocking: WatchHistory['blocking'];
  };
  readonly edge: Array<[string, { value: string; outcome: 'forwarded' | 'queued' | 'unknown' }]>;
  readonly crashes: readonly Crash[];
  /** What the servers logged as failed requests (absent in runs saved before it was kept). */
  readonly serverErrors?: ServerErrors;
  readonly faults: readonly FaultRecord[];
  /** The server whose data dir was the tmpfs the disk fault filled, if any. */
  readonly diskServer?: string;
  readonly final: {
    /** The leader after healing, or null when none was agreed (the reads below are then empty). */
    readonly leader: string | null;
    readonly setPresent: string[];
    /** Each server's keys under nemesis/ (newline-joined, sorted), or null when it did not answer. */
    readonly views: Array<{ server: string; keys: string | null }>;
    readonly edgePending: number;
    readonly edgeStored: Array<{ Key: string; Value: string | null; CreateIndex: number; ModifyIndex: number }>;
  };
}

/** Failed requests the servers logged: counts by "<status> <error class>", and samples of those that show a bug. */
export interface ServerErrors {
  readonly counts: Record<string, number>;
  readonly bugs: Array<{ readonly server: string; readonly line: string }>;
}

/**
 * Error classes that mean a server bug whatever the faults: data a server made or stored that it
 * then finds invalid (CorruptError), or a JavaScript error escaping a handler.
 */
export const BUG_ERRORS: readonly string[] = ['CorruptError', 'TypeError', 'RangeError', 'ReferenceError', 'Error'];

/** Puts back what JSON lost: Infinity for the ret of operations of unknown outcome. */
export function reviveSavedRun(parsed: SavedRun): SavedRun {
  const revive = <T extends { ret: number | null }>(ops: T[]): void => {
    for (const op of ops) if (op.ret === null) (op as { ret: number }).ret = Infinity;
  };
  revive(parsed.register as Array<{ ret: number | null }>);
  revive(parsed.lock as Array<{ ret: number | null }>);
  return parsed;
}

/** Operations of a failing prefix listed in a report (the rest of it is in history.json). */
export const EVIDENCE_OPS = 40;

/**
 * What proves a key's history has no linearization: the shortest failing prefix in time
 * (shortestFailingPrefix), its size, and its last EVIDENCE_OPS operations, where the violation
 * shows; the whole history when no shorter prefix could be found within the budget.
 */
function prefixEvidence<S, I, O>(model: Model<S, I, O>, ops: ReadonlyArray<Operation<I, O>>, budget: number): unknown {
  const found = shortestFailingPrefix(model, ops, budget);
  if (!found)
    return { note: 'no shorter failing prefix found: every operation on the key', operations: ops.length, ops };
  return {
    note:
      `the operations called up to ${Math.round(found.until)} ms already have no linearization ` +
      '(those still running then counted as of unknown outcome); the last of them are listed',
    operations: found.ops.length,
    of: ops.length,
    until: found.until,
    last: found.ops.slice(-EVIDENCE_OPS),
  };
}

/**
 * Runs every checker over a saved run: registers (linearizable), the set, the lock (one holder,
 * lock delay), watch streams and blocking queries, the edge agent's writes, convergence of the
 * servers and exits (only a full disk may stop a server). `budget` bounds each linearizability
 * search (steps per key); past it the check is 'unknown'.
 */
export function checkRun(r: SavedRun, budget: number): { checks: NemesisReport['checks']; anomalies: Anomaly[] } {
  const anomalies: Anomaly[] = [];
  const checks: NemesisReport['checks'] = {};
  const haveLeader = r.final.leader !== null;

  const lin = checkLinearizability(registerModel, r.register, budget);
  const registers = new Set(r.register.map((h) => h.key)).size;
  checks.linearizable = {
    ok: lin.ok,
    detail:
      lin.ok === true
        ? `${r.register.length} register operations over ${registers} keys`
        : lin.ok === false
          ? `key ${lin.key}: no linearization of its ${lin.operations} operations`
          : `key ${lin.key}: ${lin.reason}`,
  };
  if (lin.ok === false)
    anomalies.push({
      checker: 'linearizable',
      what: `register ${lin.key} has no linearization`,
      evidence: prefixEvidence(
        registerModel,
        r.register.filter((h) => h.key === lin.key),
        budget,
      ),
    });

  const set = checkSet(new Map(r.set), r.final.setPresent);
  checks.set = {
    ok: haveLeader ? set.ok : 'unknown',
    detail: haveLeader
      ? `${set.acknowledged} acknowledged adds, ${set.unknown} of unknown outcome, ${set.present} present; ` +
        `${set.lost.length} lost, ${set.unexpected.length} unexpected`
      : 'no leader after healing: the set could not be read',
  };
  if (haveLeader && set.lost.length > 0)
    anomalies.push({ checker: 'set', what: 'acknowledged adds lost', evidence: set.lost });
  if (haveLeader && set.unexpected.length > 0)
    anomalies.push({ checker: 'set', what: 'keys present that no add could have written', evidence: set.unexpected });

  const views = r.final.views;
  const converged = views.every((v) => v.keys !== null && v.keys === views[0]?.keys);
  checks.converged = {
    ok: converged,
    detail: converged ? 'every server holds the same keys' : 'servers disagree on the keys under nemesis/',
  };
  if (!converged)
    anomalies.push({
      checker: 'converged',
      what: 'servers hold different keys after healing',
      evidence: views.map((v) => ({
        server: v.server,
        keys: v.keys === null ? 'no answer' : v.keys.split('\n').length,
      })),
    });

  const lockOps = boundBySessionEnd(r.lock);
  const lockLin = checkLinearizability(lockModel, lockOps, budget);
  const delays = lockDelayViolations(r.lock);
  const acquired = r.lock.filter((x) => x.input.op === 'acquire' && x.output === true).length;
  checks.lock = {
    ok: delays.length > 0 || lockLin.ok === false ? false : lockLin.ok,
    detail:
      `${r.lock.length} lock operations, ${acquired} acquisitions; ` +
      (lockLin.ok === true ? 'one holder at a time' : lockLin.ok === false ? 'two holders at once' : lockLin.reason) +
      `; ${delays.length} lock-delay violations`,
  };
  if (lockLin.ok === false)
    anomalies.push({
      checker: 'lock',
      what: `${LOCK_KEY} had two holders at once`,
      evidence: prefixEvidence(lockModel, lockOps, budget),
    });
  if (delays.length > 0)
    anomalies.push({ checker: 'lock', what: 'acquired inside the lock delay of a destroyed holder', evidence: delays });

  const watch: WatchHistory = {
    writes: new Map(r.watch.writes),
    watchers: r.watch.watchers.map((x) => ({ ...x, snapshotKeys: new Set(x.snapshotKeys) })),
    blocking: r.watch.blocking,
  };
  const w = checkWatch(watch);
  checks.watch = { ok: w.ok, detail: w.detail };
  for (const a of w.anomalies) anomalies.push({ checker: 'watch', what: a.what, evidence: a.evidence });

  const edge: EdgeHistory = { writes: new Map(r.edge) };
  const e = checkEdge(edge, r.final.edgeStored, r.final.edgePending);
  checks.edge = { ok: haveLeader ? e.ok : 'unknown', detail: e.detail };
  if (haveLeader) for (const a of e.anomalies) anomalies.push({ checker: 'edge', what: a.what, evidence: a.evidence });

  // A server may stop by itself only while its disk is full (it cannot persist anything more).
  const explained = (x: Crash) =>
    x.server === r.diskServer && r.faults.some((f) => f.kind === 'disk' && x.at >= f.start && x.at <= f.end + 1000);
  const unexplained = r.crashes.filter((x) => !explained(x));
  checks.crashes = {
    ok: unexplained.length === 0,
    detail:
      `${r.crashes.length} servers exited by themselves` +
      (r.crashes.length > unexplained.length ? ` (${r.crashes.length - unexplained.length} on a full disk)` : ''),
  };
  if (unexplained.length > 0)
    anomalies.push({ checker: 'crashes', what: 'servers exited by themselves', evidence: unexplained });

  if (r.serverErrors) {
    const { counts, bugs } = r.serverErrors;
    const bugCount = Object.entries(counts)
      .filter(([k]) => BUG_ERRORS.includes(k.split(' ')[1] ?? ''))
      .reduce((n, [, c]) => n + c, 0);
    const top = Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([k, c]) => `${c} × ${k}`)
      .join(', ');
    checks.serverErrors = {
      ok: bugCount === 0,
      detail:
        `${bugCount} failed requests showing a server bug (${BUG_ERRORS.join(', ')}); ` +
        `all failures: ${top || 'none'}`,
    };
    if (bugCount > 0)
      anomalies.push({ checker: 'serverErrors', what: `${bugCount} requests failed on a server bug`, evidence: bugs });
  }
  return { checks, anomalies };
}
