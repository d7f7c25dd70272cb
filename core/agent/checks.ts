import { capOutput } from '../catalog/input.js';
import { nodeChecks, serviceHealth } from '../catalog/queries.js';
import { worstStatus } from '../catalog/state-machine.js';
import type { HealthStatus } from '../catalog/types.js';
import { BadRequestError } from '../errors.js';
import { notTtlCheck, unknownCheck } from './errors.js';
import type { Clock, TimerHandle } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { ProbeResult, Probes } from './probes.js';
import type { Rng } from '../ports/rng.js';
import type { StateStore } from '../ports/state-store.js';
import type { CheckDefinition } from './definitions.js';
import {
  type CounterMetric,
  type HistogramMetric,
  LATENCY_BUCKETS,
  type Metrics,
  NO_METRICS,
} from '../ports/metrics.js';

/** The node-level liveness check every agent keeps on its node. */
export const NODE_CHECK_ID = 'serfHealth';

/** A local check as the catalog and the agent API show it: what it is, its status and last output. */
export interface CheckState {
  readonly def: Pick<CheckDefinition, 'CheckID' | 'Name' | 'ServiceID' | 'Notes' | 'kind'>;
  readonly status: HealthStatus;
  readonly output: string;
}

/** What the check runner needs; intervals in ms. */
export interface CheckRunnerOptions {
  /** This node's name: alias checks without AliasNode mirror it. */
  readonly nodeName: string;
  readonly clock: Clock;
  /** Spreads the first run of each check over its first second. */
  readonly rng: Rng;
  readonly logger: Logger;
  readonly probes: Probes;
  readonly store: StateStore;
  readonly enableScriptChecks: boolean;
  /** Output-only changes ask for a sync at most this often per check (status changes at once). */
  readonly checkUpdateIntervalMs: number;
  /** Whether a service is registered on this agent. */
  hasService(id: string): boolean;
  /** Aggregated health of a local service, for alias checks of local services. */
  localServiceStatus(id: string): HealthStatus | undefined;
  /** A result is due for the catalog (its status changed, or its output is old enough). */
  requestSync(): void;
  /** The service's check stayed critical for DeregisterCriticalServiceAfter; may reject. */
  deregisterService(id: string): Promise<void>;
  /** Where probe runs are counted and timed (konsul_check_*); none when absent. */
  readonly metrics?: Metrics;
  /** Told how long each probe of a check took (seconds; not aliases or TTLs), e.g. for insights. */
  readonly probed?: (checkId: string, seconds: number, intervalMs: number) => void;
}

interface CheckRuntime {
  def: CheckDefinition;
  status: HealthStatus;
  output: string;
  successes: number;
  failures: number;
  criticalSince: number | undefined;
  timer: TimerHandle | undefined;
  /** When the output was last written to the catalog. */
  syncedOutputAt: number;
  running: boolean;
}

/** The definition of the node-level check (an alias kind that is never probed: it always passes). */
export function nodeCheckDefinition(): CheckDefinition {
  return {
    CheckID: NODE_CHECK_ID,
    Name: 'Serf Health Status',
    ServiceID: '',
    Notes: '',
    Status: 'passing',
    kind: 'alias',
    intervalMs: 0,
    timeoutMs: 0,
    ttlMs: 0,
    Method: 'GET',
    Header: {},
    Body: '',
    TLSSkipVerify: false,
    GRPCUseTLS: false,
    Args: [],
    SuccessBeforePassing: 0,
    FailuresBeforeCritical: 0,
    deregisterCriticalAfterMs: 0,
  };
}

/**
 * Runs the agent's checks: probes on their intervals (the first run spread over a second), TTL
 * deadlines, alias checks once a second; applies SuccessBeforePassing / FailuresBeforeCritical and
 * DeregisterCriticalServiceAfter to results. Owns each check's timer; after `stop` nothing runs.
 */
export class CheckRunner {
  private readonly checks = new Map<string, CheckRuntime>();
  private stopped = false;
  private readonly runs: CounterMetric;
  private readonly probeTime: HistogramMetric;
  private readonly changes: CounterMetric;

  constructor(private readonly o: CheckRunnerOptions) {
    const metrics = o.metrics ?? NO_METRICS;
    this.runs = metrics.counter(
      'konsul_check_runs_total',
      'Health-check probes run by this agent, by check type and the status the probe gave',
      ['type', 'status'],
    );
    this.changes = metrics.counter(
      'konsul_check_status_changes_total',
      "Times a check of this agent changed status (a probe's result, a TTL update or expiry), by type",
      ['type'],
    );
    this.probeTime = metrics.histogram(
      'konsul_check_probe_seconds',
      'Time a health-check probe took, by check type',
      LATENCY_BUCKETS,
      ['type'],
    );
  }

  /** Number of checks, the node check included. */
  get size(): number {
    return this.checks.size;
  }

  /** Whether a check with this ID exists. */
  has(id: string): boolean {
    return this.checks.has(id);
  }

  /** IDs of the checks of a service. */
  idsOfService(serviceId: string): string[] {
    return [...this.checks.values()].filter((c) => c.def.ServiceID === serviceId).map((c) => c.def.CheckID);
  }

  /** Every check with its current status, in insertion order. */
  states(): CheckState[] {
    return [...this.checks.values()];
  }

  /** The definitions to persist (the node check is implicit). */
  definitions(): CheckDefinition[] {
    return [...this.checks.values()].filter((c) => c.def.CheckID !== NODE_CHECK_ID).map((c) => c.def);
  }

  /** When the check's output was last written to the catalog; undefined for no such check. */
  outputSyncedAt(id: string): number | undefined {
    return this.checks.get(id)?.syncedOutputAt;
  }

  /** Records that the check's output was written to the catalog at `now` (no-op for no such check). */
  markOutputSynced(id: string, now: number): void {
    const c = this.checks.get(id);
    if (c) c.syncedOutputAt = now;
  }

  /** Throws BadRequestError for a script check while script checks are disabled. */
  assertRunnable(def: CheckDefinition): void {
    if (def.kind === 'script' && !this.o.enableScriptChecks) {
      throw new BadRequestError('Scripts are disabled on this agent; to enable, configure --enable-script-checks');
    }
  }

  /**
   * Adds a check and starts it: a TTL check starts critical with its deadline armed, a probe is
   * scheduled. An existing check with the ID is kept unless `replace`, when it is stopped first.
   */
  add(def: CheckDefinition, replace: boolean): void {
    const old = this.checks.get(def.CheckID);
    if (old && !replace) return;
    if (old) this.stopCheck(old);
    const c: CheckRuntime = {
      def,
      status: def.kind === 'ttl' ? 'critical' : def.Status,
      output: def.kind === 'ttl' ? 'TTL check has not been updated yet' : '',
      successes: 0,
      failures: 0,
      criticalSince: undefined,
      timer: undefined,
      syncedOutputAt: 0,
      running: false,
    };
    if (def.CheckID === NODE_CHECK_ID) c.output = 'Agent alive and reachable';
    this.checks.set(def.CheckID, c);
    if (def.kind === 'ttl') this.armTtl(c);
    else if (def.kind === 'alias' && def.CheckID !== NODE_CHECK_ID) this.schedule(c, 0);
    else if (def.kind !== 'alias') this.schedule(c, Math.floor(this.o.rng.next() * Math.min(def.intervalMs, 1000)));
  }

  /** Stops and removes a check (no-op for no such check). */
  remove(id: string): void {
    const c = this.checks.get(id);
    if (!c) return;
    this.stopCheck(c);
    this.checks.delete(id);
  }

  /**
   * pass/warn/fail/update of a TTL check: re-arms its TTL and records the result. Throws
   * NotFoundError (404) for no such check, RefusedError (500, as Consul) for a check that has no TTL.
   */
  updateTtl(id: string, status: HealthStatus, output: string): void {
    const c = this.checks.get(id);
    if (!c) throw unknownCheck(id);
    if (c.def.kind !== 'ttl') throw notTtlCheck(id);
    this.armTtl(c);
    this.record(c, { status, output });
  }

  /** Stops every check's timer; no check runs afterwards. */
  stop(): void {
    this.stopped = true;
    for (const c of this.checks.values()) this.stopCheck(c);
  }

  private stopCheck(c: CheckRuntime): void {
    if (c.timer !== undefined) this.o.clock.clearTimer(c.timer);
    c.timer = undefined;
  }

  private armTtl(c: CheckRuntime): void {
    this.stopCheck(c);
    c.timer = this.o.clock.setTimer(() => {
      c.timer = undefined;
      this.record(c, { status: 'critical', output: `TTL expired (${c.def.ttlMs / 1000}s without an update)` });
    }, c.def.ttlMs);
  }

  private schedule(c: CheckRuntime, delayMs: number): void {
    c.timer = this.o.clock.setTimer(() => {
      c.timer = undefined;
      if (this.checks.get(c.def.CheckID) !== c || this.stopped) return;
      c.running = true;
      const done = this.probeTime.startTimer({ type: c.def.kind });
      const started = this.o.clock.now();
      void this.probe(c.def)
        .then((r) => {
          done();
          if (c.def.kind !== 'alias')
            this.o.probed?.(c.def.CheckID, (this.o.clock.now() - started) / 1000, c.def.intervalMs);
          this.runs.inc({ type: c.def.kind, status: r.status });
          this.record(c, r);
        })
        .finally(() => {
          c.running = false;
          if (this.checks.get(c.def.CheckID) === c && !this.stopped)
            this.schedule(c, c.def.kind === 'alias' ? 1000 : c.def.intervalMs);
        });
    }, delayMs);
  }

  private probe(d: CheckDefinition): Promise<ProbeResult> {
    const p = this.o.probes;
    switch (d.kind) {
      case 'http':
        return p.http({
          url: d.HTTP as string,
          method: d.Method,
          headers: d.Header,
          body: d.Body,
          tlsSkipVerify: d.TLSSkipVerify,
          timeoutMs: d.timeoutMs,
        });
      case 'tcp':
        return p.tcp(d.TCP as string, d.timeoutMs);
      case 'udp':
        return p.udp(d.UDP as string, d.timeoutMs);
      case 'grpc':
        return p.grpc(d.GRPC as string, d.GRPCUseTLS, d.timeoutMs);
      case 'script':
        return p.script(d.Args, d.timeoutMs);
      case 'alias':
        return Promise.resolve(this.alias(d));
      case 'ttl':
        return Promise.resolve({ status: 'critical', output: 'TTL checks are not probed' });
    }
  }

  /** An alias check mirrors the health of another service (and its node) or of a node. */
  private alias(d: CheckDefinition): ProbeResult {
    return this.o.store.read((tx) => {
      const node = d.AliasNode || this.o.nodeName;
      let statuses: HealthStatus[];
      if (d.AliasService) {
        if (!d.AliasNode) {
          const local = this.o.localServiceStatus(d.AliasService);
          if (local) return { status: local, output: `alias of local service ${d.AliasService}` };
        }
        const entries = serviceHealth(tx, d.AliasService).value.filter(
          (e) => e.node.Node === node && e.service.ID === d.AliasService,
        );
        if (entries.length === 0)
          return { status: 'critical', output: `Service ${d.AliasService} could not be found on node ${node}` };
        statuses = entries.flatMap((e) => e.checks.map((c) => c.Status));
      } else {
        statuses = nodeChecks(tx, node).map((c) => c.Status);
      }
      const status = worstStatus(statuses);
      return { status, output: status === 'passing' ? 'All checks passing.' : `Aliased checks are ${status}` };
    });
  }

  /**
   * Applies a result with SuccessBeforePassing / FailuresBeforeCritical, caps the output, tracks
   * how long the check has been critical (DeregisterCriticalServiceAfter), and syncs a status change at once.
   */
  private record(c: CheckRuntime, r: ProbeResult): void {
    if (this.checks.get(c.def.CheckID) !== c) return;
    const output = capOutput(r.output);
    let next = c.status;
    if (r.status === 'passing') {
      c.successes++;
      c.failures = 0;
      if (c.successes >= c.def.SuccessBeforePassing) next = 'passing';
    } else {
      c.failures++;
      c.successes = 0;
      if (c.failures >= c.def.FailuresBeforeCritical) next = r.status;
    }
    const statusChanged = next !== c.status;
    if (statusChanged) this.changes.inc({ type: c.def.kind });
    c.status = next;
    c.output = output;
    const now = this.o.clock.now();
    if (next === 'critical') c.criticalSince ??= now;
    else c.criticalSince = undefined;
    const limit = c.def.deregisterCriticalAfterMs;
    if (
      limit > 0 &&
      c.criticalSince !== undefined &&
      now - c.criticalSince >= limit &&
      c.def.ServiceID &&
      this.o.hasService(c.def.ServiceID)
    ) {
      this.o.logger.warn('deregistering service: check critical for too long', {
        service: c.def.ServiceID,
        check: c.def.CheckID,
      });
      void this.o.deregisterService(c.def.ServiceID).catch(() => undefined);
      return;
    }
    if (statusChanged || now - c.syncedOutputAt >= this.o.checkUpdateIntervalMs) this.o.requestSync();
  }
}
