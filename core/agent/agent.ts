import type { ServiceInput } from '../catalog/state-machine.js';
import { worstStatus } from '../catalog/state-machine.js';
import type { CatalogCheck, HealthStatus } from '../catalog/types.js';
import { NotFoundError, OverloadedError } from '../errors.js';
import { unknownCheck, unknownService } from './errors.js';
import type { Writer } from '../pipeline/writer.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Probes } from './probes.js';
import type { Rng } from '../ports/rng.js';
import type { StateStore } from '../ports/state-store.js';
import { AntiEntropy } from './anti-entropy.js';
import { CheckRunner, type CheckState, NODE_CHECK_ID, nodeCheckDefinition } from './checks.js';
import type { AgentServiceDefinition, CheckDefinition } from './definitions.js';
import type { Metrics } from '../ports/metrics.js';

/** The node-level liveness check every agent keeps on its node (server/cluster.ts reads it from here). */
export { NODE_CHECK_ID } from './checks.js';

const MAINTENANCE_PREFIX = '_service_maintenance:';
/** The check that marks the node in maintenance (Consul's ID and name). */
const NODE_MAINTENANCE_CHECK = '_node_maintenance';

/** What the agent persists (definitions, not results), so registrations survive a restart. */
export interface AgentSnapshot {
  readonly services: readonly ServiceInput[];
  readonly checks: readonly CheckDefinition[];
  readonly maintenance: Readonly<Record<string, string>>;
  /** The reason the node is in maintenance, when it is. */
  readonly nodeMaintenance?: string;
}

/** Options of the local agent; intervals in ms, bounds positive integers. */
export interface AgentOptions {
  readonly node: { readonly name: string; readonly id: string; readonly address: string; readonly datacenter: string };
  readonly clock: Clock;
  /** Spreads the first run of each check over its first second. */
  readonly rng: Rng;
  readonly logger: Logger;
  readonly probes: Probes;
  readonly store: StateStore;
  readonly writer: Writer;
  /** Saves the definitions durably (called after every change). */
  readonly persist: (s: AgentSnapshot) => Promise<void>;
  readonly enableScriptChecks: boolean;
  /** Full anti-entropy sync period. */
  readonly syncIntervalMs: number;
  /** Output-only changes are written at most this often per check (status changes at once). */
  readonly checkUpdateIntervalMs: number;
  readonly maxServices: number;
  readonly maxChecks: number;
  /**
   * Called synchronously after every change of the local state (services, checks, maintenance,
   * check status): hash-blocking queries wake on it. Must not throw.
   */
  readonly onLocalChange?: () => void;
  /** Where the agent's check runs are counted and timed; none when absent. */
  readonly metrics?: Metrics;
  /** Told how long each probe took (CheckRunnerOptions.probed). */
  readonly probed?: (checkId: string, seconds: number, intervalMs: number) => void;
}

/**
 * The local agent: services and checks registered on this node, the checks it runs (probes, TTLs,
 * aliases: CheckRunner) and anti-entropy that keeps the catalog equal to them (AntiEntropy).
 * Changes are pushed promptly through the write pipeline; a periodic full sync repairs drift; only
 * real changes are written.
 */
export class LocalAgent {
  private readonly services = new Map<string, ServiceInput>();
  private readonly maintenance = new Map<string, string>();
  private nodeMaintenance: string | undefined;
  private readonly checks: CheckRunner;
  private readonly antiEntropy: AntiEntropy;

  constructor(private readonly o: AgentOptions) {
    this.checks = new CheckRunner({
      nodeName: o.node.name,
      clock: o.clock,
      rng: o.rng,
      logger: o.logger,
      probes: o.probes,
      store: o.store,
      enableScriptChecks: o.enableScriptChecks,
      checkUpdateIntervalMs: o.checkUpdateIntervalMs,
      hasService: (id) => this.services.has(id),
      localServiceStatus: (id) => this.serviceHealth(id)?.status,
      requestSync: () => {
        this.o.onLocalChange?.();
        this.requestSync();
      },
      deregisterService: (id) => this.deregisterService(id),
      ...(o.metrics ? { metrics: o.metrics } : {}),
      ...(o.probed ? { probed: o.probed } : {}),
    });
    this.antiEntropy = new AntiEntropy({
      node: o.node,
      clock: o.clock,
      logger: o.logger,
      store: o.store,
      writer: o.writer,
      syncIntervalMs: o.syncIntervalMs,
      checkUpdateIntervalMs: o.checkUpdateIntervalMs,
      local: {
        services: () => this.services.values(),
        hasService: (id) => this.services.has(id),
        desiredChecks: () => this.desiredChecks(),
        outputSyncedAt: (id) => this.checks.outputSyncedAt(id),
        markOutputSynced: (id, now) => this.checks.markOutputSynced(id, now),
      },
    });
  }

  /** Restores persisted definitions, starts checks and anti-entropy. */
  start(snapshot: AgentSnapshot | undefined): void {
    for (const s of snapshot?.services ?? []) this.services.set(s.ID, s);
    for (const [id, reason] of Object.entries(snapshot?.maintenance ?? {})) this.maintenance.set(id, reason);
    this.nodeMaintenance = snapshot?.nodeMaintenance;
    this.checks.add(nodeCheckDefinition(), false);
    for (const c of snapshot?.checks ?? []) this.checks.add(c, false);
    this.antiEntropy.start();
  }

  /** Stops the checks and the scheduled syncs. */
  stop(): void {
    this.antiEntropy.stop();
    this.checks.stop();
  }

  // ---- services ---------------------------------------------------------------------------------

  /**
   * Registers (or replaces) a service and its checks; checks of the service not in `def` go.
   * Throws OverloadedError beyond maxServices, BadRequestError for a script check while disabled.
   */
  async registerService(def: AgentServiceDefinition): Promise<void> {
    if (!this.services.has(def.service.ID) && this.services.size >= this.o.maxServices) {
      throw new OverloadedError(`too many services on this agent (limit ${this.o.maxServices})`);
    }
    for (const c of def.checks) this.checks.assertRunnable(c);
    for (const id of this.checks.idsOfService(def.service.ID))
      if (!def.checks.some((d) => d.CheckID === id)) this.checks.remove(id);
    this.services.set(def.service.ID, def.service);
    for (const c of def.checks) this.checks.add(c, true);
    await this.changed();
  }

  /** Removes a service, its maintenance mark and its checks. NotFoundError for an unknown ID. */
  async deregisterService(id: string): Promise<void> {
    if (!this.services.delete(id)) throw unknownService(id);
    this.maintenance.delete(id);
    for (const cid of this.checks.idsOfService(id)) this.checks.remove(cid);
    await this.changed();
  }

  /** Puts a service in (or out of) maintenance: a critical check makes it unhealthy. */
  async setMaintenance(id: string, enable: boolean, reason: string): Promise<void> {
    if (!this.services.has(id)) throw unknownService(id);
    if (enable) this.maintenance.set(id, reason);
    else this.maintenance.delete(id);
    await this.changed();
  }

  /**
   * Puts the whole node in (or out of) maintenance, as Consul does: a critical `_node_maintenance`
   * check (with the reason as its notes) makes every service on it unhealthy.
   */
  async setNodeMaintenance(enable: boolean, reason: string): Promise<void> {
    this.nodeMaintenance = enable ? reason : undefined;
    await this.changed();
  }

  /** Local services by id. */
  listServices(): ServiceInput[] {
    return [...this.services.values()];
  }

  /** A local service by ID. */
  getService(id: string): ServiceInput | undefined {
    return this.services.get(id);
  }

  // ---- checks -----------------------------------------------------------------------------------

  /**
   * Registers (or replaces) a check. Throws NotFoundError (404, as Consul) for an unknown
   * ServiceID, BadRequestError for a script check while disabled, OverloadedError beyond maxChecks.
   */
  async registerCheck(def: CheckDefinition): Promise<void> {
    if (def.ServiceID && !this.services.has(def.ServiceID))
      throw new NotFoundError(`ServiceID ${JSON.stringify(def.ServiceID)} does not exist`);
    if (!this.checks.has(def.CheckID) && this.checks.size >= this.o.maxChecks)
      throw new OverloadedError(`too many checks on this agent (limit ${this.o.maxChecks})`);
    this.checks.assertRunnable(def);
    this.checks.add(def, true);
    await this.changed();
  }

  /** Removes a check (never the node check). NotFoundError for an unknown ID. */
  async deregisterCheck(id: string): Promise<void> {
    if (!this.checks.has(id) || id === NODE_CHECK_ID) throw unknownCheck(id);
    this.checks.remove(id);
    await this.changed();
  }

  /** pass/warn/fail/update of a TTL check; resets its TTL. NotFoundError / RefusedError as CheckRunner.updateTtl. */
  async updateTtl(id: string, status: HealthStatus, output: string): Promise<void> {
    this.checks.updateTtl(id, status, output);
    this.o.onLocalChange?.();
    await this.persistNow();
    await this.antiEntropy.sync();
  }

  /** Every local check with its current status, in Consul's HealthCheck shape. */
  listChecks(): CatalogCheck[] {
    return this.desiredChecks().map((c) => this.asCatalogCheck(c));
  }

  /** Aggregated health of one local service: the worst of its checks and the node's. */
  serviceHealth(id: string): { status: HealthStatus; service: ServiceInput; checks: CatalogCheck[] } | undefined {
    const service = this.services.get(id);
    if (!service) return undefined;
    const checks = this.listChecks().filter((c) => c.ServiceID === id || c.ServiceID === '');
    return { status: worstStatus(checks.map((c) => c.Status)), service, checks };
  }

  // ---- anti-entropy -----------------------------------------------------------------------------

  /** Schedules a sync very soon (coalescing bursts of changes). */
  requestSync(): void {
    this.antiEntropy.requestSync();
  }

  /**
   * Anti-entropy: makes this node's catalog entries equal to the local state, writing only what
   * differs, in a run that starts after this call (see AntiEntropy.sync). Never rejects.
   */
  sync(): Promise<void> {
    return this.antiEntropy.sync();
  }

  // ---- internals --------------------------------------------------------------------------------

  /** The running checks and, for each service in maintenance, its critical maintenance check. */
  private desiredChecks(): CheckState[] {
    const list = this.checks.states();
    if (this.nodeMaintenance !== undefined)
      list.push({
        def: {
          CheckID: NODE_MAINTENANCE_CHECK,
          Name: 'Node Maintenance Mode',
          ServiceID: '',
          Notes: this.nodeMaintenance,
          kind: 'ttl',
        },
        status: 'critical',
        output: '',
      });
    for (const [id, reason] of this.maintenance) {
      list.push({
        def: {
          CheckID: `${MAINTENANCE_PREFIX}${id}`,
          Name: 'Service Maintenance Mode',
          ServiceID: id,
          Notes: reason,
          kind: 'ttl',
        },
        status: 'critical',
        output: '',
      });
    }
    return list;
  }

  private asCatalogCheck(c: CheckState): CatalogCheck {
    const svc = c.def.ServiceID ? this.services.get(c.def.ServiceID) : undefined;
    return {
      Node: this.o.node.name,
      CheckID: c.def.CheckID,
      Name: c.def.Name,
      Status: c.status,
      Notes: c.def.Notes,
      Output: c.output,
      ServiceID: c.def.ServiceID,
      ServiceName: svc?.Service ?? '',
      ServiceTags: svc?.Tags ?? [],
      Type: c.def.CheckID === NODE_CHECK_ID ? '' : c.def.kind,
      CreateIndex: 0,
      ModifyIndex: 0,
    };
  }

  /**
   * Persists the local state, then writes what changed to the catalog before the caller answers,
   * as Consul's agent endpoints do: a service registered here is in the catalog when its register
   * call returns. A failed write (no leader) is logged; anti-entropy keeps retrying.
   */
  private async changed(): Promise<void> {
    this.o.onLocalChange?.();
    await this.persistNow();
    await this.antiEntropy.sync();
  }

  private persistNow(): Promise<void> {
    return this.o.persist({
      services: [...this.services.values()],
      checks: this.checks.definitions(),
      maintenance: Object.fromEntries(this.maintenance),
      ...(this.nodeMaintenance !== undefined ? { nodeMaintenance: this.nodeMaintenance } : {}),
    });
  }
}
