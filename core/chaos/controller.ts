import { BadRequestError, LimitReachedError, NotFoundError, ShuttingDownError } from '../errors.js';
import type { Clock, TimerHandle } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import { type Metrics, NO_METRICS } from '../ports/metrics.js';
import type { Rng } from '../ports/rng.js';
import { randomUuid } from '../util/uuid.js';
import type { LinkEffect, LinkFaults } from './link-faults.js';
import {
  CHAOS_KINDS,
  CHAOS_LIMITS,
  type ChaosActor,
  type ChaosEndReason,
  type ChaosEvent,
  type ChaosExperimentView,
  type ChaosLimits,
  type ChaosSpec,
  LINK_KINDS,
} from './types.js';

/** What experiments act on: the server's Raft links, its apply loop and its leadership. */
export interface ChaosEffects {
  /** The other servers of the Raft configuration (voters and learners), by node name. */
  peers(): readonly string[];
  /** The fault layer of the Raft transport's links (latency, loss, partition). */
  readonly links: LinkFaults;
  /** Stops (true) or resumes (false) applying committed entries on this server. */
  pauseApply(paused: boolean): void;
  /**
   * Hands this server's leadership to another voter and resolves with the new leader's name.
   * Rejects with ConflictError (409) when this server does not lead, or the error of the transfer.
   */
  stepDown(): Promise<string>;
}

/** Options of the controller. */
export interface ChaosControllerOptions {
  /** This server's node name. */
  readonly self: string;
  readonly clock: Clock;
  /** Experiment IDs. */
  readonly rng: Rng;
  readonly logger: Logger;
  readonly effects: ChaosEffects;
  readonly limits?: ChaosLimits;
  /** konsul_chaos_experiments_active{kind}; none when absent. */
  readonly metrics?: Metrics;
  /** Told of every start and end (the audit log); must not throw or block. */
  readonly onEvent?: (event: ChaosEvent) => void;
}

/** A running experiment: what the API shows, and how it is undone. */
interface Running {
  readonly view: ChaosExperimentView;
  readonly endsAt: number;
  readonly timer: TimerHandle;
  readonly undo: () => void;
}

/**
 * Runs chaos experiments on this server: starts them (PUT /v1/operator/chaos), lists them, ends
 * them early on request, and rolls each back by itself when its duration is over; stop() rolls
 * back every one (when the server stops). Link experiments (latency, loss, partition) add a rule
 * to the transport's LinkFaults; pause-apply pauses the apply loop while any such experiment
 * runs; step-down transfers the leadership at once and is over when it answers (it is never
 * listed). Every start and end is logged at info with the experiment's fields and reported to
 * `onEvent`. Bounds: at most limits.maxActive experiments run at once (LimitReachedError, 429,
 * beyond). Single-threaded: each method runs to completion.
 */
export class ChaosController {
  private readonly running = new Map<string, Running>();
  private readonly limits: ChaosLimits;
  private pausing = 0;
  private stopped = false;

  constructor(private readonly o: ChaosControllerOptions) {
    this.limits = o.limits ?? CHAOS_LIMITS;
    (o.metrics ?? NO_METRICS).gauge(
      'konsul_chaos_experiments_active',
      'Chaos experiments running on this server, by kind (with --enable-chaos)',
      ['kind'],
      () => CHAOS_KINDS.filter((k) => k !== 'step-down').map((k) => [{ kind: k }, this.count(k)] as const),
    );
  }

  /**
   * Starts the experiment `spec` describes on this server (spec.server, if set, must be this
   * server) and returns it as the API shows it. Throws BadRequestError when a peer is not another
   * server of the configuration or there is no peer at all, LimitReachedError when
   * limits.maxActive run already (Retry-After: until the first one ends), ShuttingDownError once
   * stopped, and for step-down what ChaosEffects.stepDown throws (ConflictError when not leader).
   */
  async start(spec: ChaosSpec, by: ChaosActor): Promise<ChaosExperimentView> {
    if (this.stopped) throw new ShuttingDownError('chaos');
    const { self, clock } = this.o;
    if (spec.server !== undefined && spec.server !== self)
      throw new BadRequestError(`Server ${spec.server} is not this server (${self})`);
    const id = randomUuid(this.o.rng);
    const startedAt = clock.now();
    if (spec.kind === 'step-down') {
      const leader = await this.o.effects.stepDown();
      const at = new Date(clock.now()).toISOString();
      const view: ChaosExperimentView = {
        ID: id,
        Kind: 'step-down',
        Server: self,
        Peers: [],
        Started: new Date(startedAt).toISOString(),
        Ends: at,
        Leader: leader,
      };
      this.report({ action: 'start', experiment: view, time: startedAt, by });
      this.report({ action: 'end', reason: 'completed', experiment: view, time: clock.now() });
      return view;
    }
    if (this.running.size >= this.limits.maxActive) {
      const soonest = Math.min(...[...this.running.values()].map((r) => r.endsAt));
      throw new LimitReachedError(
        `Too many chaos experiments: ${this.limits.maxActive} run on ${self} already; stop one or wait until one ends`,
        Math.max(1, Math.ceil((soonest - startedAt) / 1000)),
      );
    }
    const peers = LINK_KINDS.has(spec.kind) ? this.peersOf(spec) : [];
    const durationMs = spec.durationMs ?? 0;
    const view: ChaosExperimentView = {
      ID: id,
      Kind: spec.kind,
      Server: self,
      Peers: peers,
      ...(spec.delayMs !== undefined ? { DelayMs: spec.delayMs, JitterMs: spec.jitterMs ?? 0 } : {}),
      ...(spec.lossPercent !== undefined ? { LossPercent: spec.lossPercent } : {}),
      Started: new Date(startedAt).toISOString(),
      Ends: new Date(startedAt + durationMs).toISOString(),
    };
    const undo = this.apply(id, spec, peers);
    const timer = clock.setTimer(() => this.end(id, 'expired'), durationMs);
    this.running.set(id, { view, endsAt: startedAt + durationMs, timer, undo });
    this.report({ action: 'start', experiment: view, time: startedAt, by });
    return view;
  }

  /** The experiments running on this server, oldest first. */
  list(): ChaosExperimentView[] {
    return [...this.running.values()].map((r) => r.view);
  }

  /** Ends experiment `id` now and returns it. Throws NotFoundError when no such experiment runs. */
  stopOne(id: string, by: ChaosActor): ChaosExperimentView {
    const view = this.end(id, 'stopped', by);
    if (!view) throw new NotFoundError(`No chaos experiment ${JSON.stringify(id)} runs on ${this.o.self}`);
    return view;
  }

  /** Rolls back every experiment (reason 'shutdown') and refuses new ones. Idempotent. */
  stop(): void {
    this.stopped = true;
    for (const id of [...this.running.keys()]) this.end(id, 'shutdown');
  }

  /** Running experiments of `kind`. */
  private count(kind: string): number {
    let n = 0;
    for (const r of this.running.values()) if (r.view.Kind === kind) n++;
    return n;
  }

  /** The peers a link experiment names, checked against the configuration (default: all of them). */
  private peersOf(spec: ChaosSpec): string[] {
    const others = this.o.effects.peers().filter((p) => p !== this.o.self);
    if (spec.peers === undefined) {
      if (others.length === 0)
        throw new BadRequestError(`${this.o.self} has no peers for a ${spec.kind} experiment (it runs alone)`);
      return [...others].sort();
    }
    for (const p of spec.peers) {
      if (p === this.o.self) throw new BadRequestError(`Peers: ${p} is this server; name the other servers`);
      if (!others.includes(p)) {
        const known = others.join(', ') || 'none';
        throw new BadRequestError(
          `Peers: ${p} is not a server of the Raft configuration (peers of ${this.o.self}: ${known})`,
        );
      }
    }
    return [...spec.peers];
  }

  /** Puts the experiment in force and returns what undoes it. */
  private apply(id: string, spec: ChaosSpec, peers: readonly string[]): () => void {
    const { effects } = this.o;
    if (spec.kind === 'pause-apply') {
      if (this.pausing++ === 0) effects.pauseApply(true);
      return () => {
        if (--this.pausing === 0) effects.pauseApply(false);
      };
    }
    const effect: LinkEffect =
      spec.kind === 'latency'
        ? { kind: 'latency', delayMs: spec.delayMs ?? 0, jitterMs: spec.jitterMs ?? 0 }
        : spec.kind === 'loss'
          ? { kind: 'loss', percent: spec.lossPercent ?? 0 }
          : { kind: 'partition' };
    effects.links.add(id, { peers: new Set(peers), effect });
    return () => effects.links.remove(id);
  }

  /** Ends `id` (undoes it, cancels its timer, reports it); undefined when it does not run. */
  private end(id: string, reason: ChaosEndReason, by?: ChaosActor): ChaosExperimentView | undefined {
    const r = this.running.get(id);
    if (!r) return undefined;
    this.running.delete(id);
    this.o.clock.clearTimer(r.timer);
    r.undo();
    this.report({ action: 'end', reason, experiment: r.view, time: this.o.clock.now(), ...(by ? { by } : {}) });
    return r.view;
  }

  /** Logs an event at info (the experiment's fields, the caller's accessor) and hands it to onEvent. */
  private report(e: ChaosEvent): void {
    const x = e.experiment;
    this.o.logger.info(e.action === 'start' ? 'chaos experiment started' : 'chaos experiment ended', {
      id: x.ID,
      kind: x.Kind,
      server: x.Server,
      peers: x.Peers.join(','),
      ...(x.DelayMs !== undefined ? { delay_ms: x.DelayMs, jitter_ms: x.JitterMs } : {}),
      ...(x.LossPercent !== undefined ? { loss_percent: x.LossPercent } : {}),
      ...(x.Leader !== undefined ? { leader: x.Leader } : {}),
      ...(e.action === 'start' ? { ends: x.Ends } : { reason: e.reason }),
      ...(e.by?.accessor ? { accessor: e.by.accessor } : {}),
      ...(e.by?.source ? { source: e.by.source } : {}),
    });
    try {
      this.o.onEvent?.(e);
    } catch (err) {
      this.o.logger.error('recording a chaos event failed', { error: (err as Error).message });
    }
  }
}
