import { CorruptError, KonsulError } from '../errors.js';
import type { WriteTxn } from '../ports/state-store.js';
import type { Change } from '../watch/change.js';
import { type Command, decodeCommand } from './command.js';
import type { ConfState } from '../raft/types.js';
import { META_TABLE, readAppliedIndex, writeAppliedIndex, writeConfState } from './meta.js';
import {
  type CounterMetric,
  type HistogramMetric,
  LATENCY_BUCKETS,
  MetricChildren,
  type Metrics,
  NO_METRICS,
} from '../ports/metrics.js';

/** What one command application may touch. Valid only during that application. */
export interface ApplyContext {
  readonly tx: WriteTxn;
  /** The log index of the command being applied; becomes Create/ModifyIndex of what it writes. */
  readonly index: number;
  /** Records what changed, for watchers. */
  changed(change: Change): void;
}

/**
 * Applies one command type. `apply` must be deterministic (no clock, no randomness, no config)
 * and must check every precondition before its first write: if it throws, it has written nothing.
 * A thrown KonsulError becomes the command's failed result; anything else is a bug and aborts the batch.
 */
export interface CommandHandler {
  apply(ctx: ApplyContext, command: Command): unknown;
}

/** A state machine module: the tables it owns and its command handlers by type. */
export interface StateModule {
  readonly tables: readonly string[];
  readonly handlers: Readonly<Record<string, CommandHandler>>;
}

/** The outcome of applying one committed command. */
export type ApplyResult =
  | { readonly ok: true; readonly index: number; readonly value: unknown }
  | { readonly ok: false; readonly index: number; readonly error: KonsulError };

/**
 * A committed log entry: an encoded command, or (empty data) a no-op such as a new leader's
 * first entry, or a membership change, given as the membership that results (`conf`).
 */
export interface CommittedEntry {
  readonly index: number;
  readonly data: Uint8Array;
  readonly conf?: ConfState;
}

/**
 * The replicated state machine: decodes committed commands and dispatches them to module
 * handlers, recording the applied index in the same transaction as the state it produces.
 * Pure and deterministic: the same entries give the same state on every node.
 */
export class StateMachine {
  readonly tables: readonly string[];
  private readonly handlers = new Map<string, CommandHandler>();
  /** konsul_fsm_apply_seconds per command type (registered types only). */
  private readonly applyTime: MetricChildren<HistogramMetric>;
  private readonly refused: CounterMetric;

  /**
   * Builds a state machine from modules; command types and table names must be unique. Apply
   * times and refused commands go to `metrics` by command type (konsul_fsm_*).
   */
  constructor(modules: readonly StateModule[], metrics: Metrics = NO_METRICS) {
    const applyTime = metrics.histogram(
      'konsul_fsm_apply_seconds',
      'Applying one committed command to the state, by command type',
      LATENCY_BUCKETS,
      ['type'],
    );
    this.applyTime = new MetricChildren((labels) => applyTime.labels(labels));
    this.refused = metrics.counter(
      'konsul_fsm_refused_total',
      'Committed commands that changed nothing because they failed (a failed check-and-set, a bad argument), by type',
      ['type'],
    );
    const tables = new Set<string>([META_TABLE]);
    for (const m of modules) {
      for (const t of m.tables) {
        if (tables.has(t)) throw new Error(`table ${t} registered twice`);
        tables.add(t);
      }
      for (const [type, h] of Object.entries(m.handlers)) {
        if (this.handlers.has(type)) throw new Error(`command type ${type} registered twice`);
        this.handlers.set(type, h);
      }
    }
    this.tables = [...tables];
  }

  /**
   * Applies `entry` inside `tx`. Invariant: entry.index === applied index + 1.
   * Returns the command's result; a malformed or failing command yields `ok: false` and leaves
   * the state unchanged apart from the applied index.
   */
  apply(tx: WriteTxn, entry: CommittedEntry, changed: (c: Change) => void): ApplyResult {
    const applied = readAppliedIndex(tx);
    if (entry.index !== applied + 1) {
      throw new CorruptError(`entry ${entry.index} applied after ${applied}: indexes must be contiguous`);
    }
    writeAppliedIndex(tx, entry.index);
    if (entry.conf) {
      writeConfState(tx, entry.conf);
      return { ok: true, index: entry.index, value: undefined };
    }
    if (entry.data.byteLength === 0) return { ok: true, index: entry.index, value: undefined };
    let type: string | undefined;
    let done: (() => number) | undefined;
    try {
      const command = decodeCommand(entry.data);
      const handler = this.handlers.get(command.type);
      if (!handler) throw new CorruptError(`unknown command type ${JSON.stringify(command.type)}`);
      // Only registered types label a series: a corrupt entry's type could be anything.
      const known = command.type;
      type = known;
      done = this.applyTime.get(known, () => ({ type: known })).startTimer();
      const value = handler.apply({ tx, index: entry.index, changed }, command);
      done();
      return { ok: true, index: entry.index, value };
    } catch (err) {
      if (err instanceof KonsulError) {
        if (type !== undefined) {
          done?.();
          this.refused.inc({ type });
        }
        return { ok: false, index: entry.index, error: err };
      }
      throw err;
    }
  }
}
