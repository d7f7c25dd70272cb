import { capOutput } from '../catalog/input.js';
import { nodeChecks, nodeServices, serviceHealth } from '../catalog/queries.js';
import type {
  CatalogDeregisterCommand,
  CatalogRegisterCommand,
  CheckInput,
  ServiceInput,
} from '../catalog/state-machine.js';
import { worstStatus } from '../catalog/state-machine.js';
import type { CatalogCheck, HealthStatus } from '../catalog/types.js';
import { BadRequestError, NotFoundError, OverloadedError } from '../errors.js';
import type { WritePipeline } from '../pipeline/write-pipeline.js';
import type { Clock, TimerHandle } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Probes, ProbeResult } from './probes.js';
import type { Rng } from '../ports/rng.js';
import type { StateStore } from '../ports/state-store.js';
import type { AgentServiceDefinition, CheckDefinition } from './definitions.js';

/** The node-level liveness check every agent keeps on its node. */
export const NODE_CHECK_ID = 'serfHealth';
const MAINTENANCE_PREFIX = '_service_maintenance:';

/** What the agent persists (definitions, not results), so registrations survive a restart. */
export interface AgentSnapshot {
  readonly services: readonly ServiceInput[];
  readonly checks: readonly CheckDefinition[];
  readonly maintenance: Readonly<Record<string, string>>;
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
  readonly writer: WritePipeline;
  /** Saves the definitions durably (called after every change). */
  readonly persist: (s: AgentSnapshot) => Promise<void>;
  readonly enableScriptChecks: boolean;
  /** Full anti-entropy sync period. */
  readonly syncIntervalMs: number;
  /** Output-only changes are written at most this often per check (status changes at once). */
  readonly checkUpdateIntervalMs: number;
  readonly maxServices: number;
  readonly maxChecks: number;
}

interface CheckRuntime {
  def: CheckDefinition;
  status: HealthStatus;
  output: string;
  successes: number;
  failures: number;
  criticalSince: number | undefined;
  timer: TimerHandle | undefined;
  /** Last output written to the catalog, and when. */
  syncedOutputAt: number;
  running: boolean;
}

/**
 * The local agent: services and checks registered on this node, the checks it runs (probes, TTLs,
 * aliases) and anti-entropy that keeps the catalog equal to them. Changes are pushed promptly
 * through the write pipeline; a periodic full sync repairs drift; only real changes are written.
 */
export class LocalAgent {
  private readonly services = new Map<string, ServiceInput>();
  private readonly checks = new Map<string, CheckRuntime>();
  private readonly maintenance = new Map<string, string>();
  private syncTimer: TimerHandle | undefined;
  private syncSoon: TimerHandle | undefined;
  private syncing: Promise<void> | undefined;
  private resync = false;
  private stopped = false;

  constructor(private readonly o: AgentOptions) {}

  /** Restores persisted definitions, starts checks and anti-entropy. */
  start(snapshot: AgentSnapshot | undefined): void {
    for (const s of snapshot?.services ?? []) this.services.set(s.ID, s);
    for (const [id, reason] of Object.entries(snapshot?.maintenance ?? {})) this.maintenance.set(id, reason);
    this.addCheck(this.nodeCheckDefinition(), false);
    for (const c of snapshot?.checks ?? []) this.addCheck(c, false);
    const loop = () => {
      this.syncTimer = this.o.clock.setTimer(() => {
        void this.sync().finally(() => !this.stopped && loop());
      }, this.o.syncIntervalMs);
    };
    loop();
    this.requestSync();
  }

  stop(): void {
    this.stopped = true;
    if (this.syncTimer !== undefined) this.o.clock.clearTimer(this.syncTimer);
    if (this.syncSoon !== undefined) this.o.clock.clearTimer(this.syncSoon);
    for (const c of this.checks.values()) this.stopCheck(c);
  }

  // ---- services ---------------------------------------------------------------------------------

  /** Registers (or replaces) a service and its checks. */
  async registerService(def: AgentServiceDefinition): Promise<void> {
    if (!this.services.has(def.service.ID) && this.services.size >= this.o.maxServices) {
      throw new OverloadedError(`too many services on this agent (limit ${this.o.maxServices})`);
    }
    for (const c of def.checks) this.assertRunnable(c);
    for (const [id, c] of this.checks)
      if (c.def.ServiceID === def.service.ID && !def.checks.some((d) => d.CheckID === id)) this.removeCheck(id);
    this.services.set(def.service.ID, def.service);
    for (const c of def.checks) this.addCheck(c, true);
    await this.changed();
  }

  async deregisterService(id: string): Promise<void> {
    if (!this.services.delete(id)) throw new NotFoundError(`Unknown service ID ${JSON.stringify(id)}`);
    this.maintenance.delete(id);
    for (const [cid, c] of this.checks) if (c.def.ServiceID === id) this.removeCheck(cid);
    await this.changed();
  }

  /** Puts a service in (or out of) maintenance: a critical check makes it unhealthy. */
  async setMaintenance(id: string, enable: boolean, reason: string): Promise<void> {
    if (!this.services.has(id)) throw new NotFoundError(`Unknown service ID ${JSON.stringify(id)}`);
    if (enable) this.maintenance.set(id, reason);
    else this.maintenance.delete(id);
    await this.changed();
  }

  /** Local services by id. */
  listServices(): ServiceInput[] {
    return [...this.services.values()];
  }

  getService(id: string): ServiceInput | undefined {
    return this.services.get(id);
  }

  // ---- checks -----------------------------------------------------------------------------------

  async registerCheck(def: CheckDefinition): Promise<void> {
    if (def.ServiceID && !this.services.has(def.ServiceID))
      throw new BadRequestError(`ServiceID ${JSON.stringify(def.ServiceID)} does not exist`);
    if (!this.checks.has(def.CheckID) && this.checks.size >= this.o.maxChecks)
      throw new OverloadedError(`too many checks on this agent (limit ${this.o.maxChecks})`);
    this.assertRunnable(def);
    this.addCheck(def, true);
    await this.changed();
  }

  async deregisterCheck(id: string): Promise<void> {
    if (!this.checks.has(id) || id === NODE_CHECK_ID) throw new NotFoundError(`Unknown check ID ${JSON.stringify(id)}`);
    this.removeCheck(id);
    await this.changed();
  }

  /** pass/warn/fail/update of a TTL check; resets its TTL. */
  async updateTtl(id: string, status: HealthStatus, output: string): Promise<void> {
    const c = this.checks.get(id);
    if (!c) throw new NotFoundError(`Unknown check ID ${JSON.stringify(id)}`);
    if (c.def.kind !== 'ttl')
      throw new BadRequestError(`Check ${JSON.stringify(id)} has no TTL; only TTL checks are updated this way`);
    this.armTtl(c);
    this.record(c, { status, output });
    await this.persistNow();
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

  // ---- internals --------------------------------------------------------------------------------

  private nodeCheckDefinition(): CheckDefinition {
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

  private assertRunnable(def: CheckDefinition): void {
    if (def.kind === 'script' && !this.o.enableScriptChecks) {
      throw new BadRequestError('Scripts are disabled on this agent; to enable, configure --enable-script-checks');
    }
  }

  private addCheck(def: CheckDefinition, replace: boolean): void {
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

  private removeCheck(id: string): void {
    const c = this.checks.get(id);
    if (!c) return;
    this.stopCheck(c);
    this.checks.delete(id);
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
      void this.probe(c.def)
        .then((r) => this.record(c, r))
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
      const node = d.AliasNode || this.o.node.name;
      let statuses: HealthStatus[];
      if (d.AliasService) {
        if (!d.AliasNode) {
          const local = this.serviceHealth(d.AliasService);
          if (local) return { status: local.status, output: `alias of local service ${d.AliasService}` };
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
      this.services.has(c.def.ServiceID)
    ) {
      this.o.logger.warn('deregistering service: check critical for too long', {
        service: c.def.ServiceID,
        check: c.def.CheckID,
      });
      void this.deregisterService(c.def.ServiceID).catch(() => undefined);
      return;
    }
    if (statusChanged || now - c.syncedOutputAt >= this.o.checkUpdateIntervalMs) this.requestSync();
  }

  private desiredChecks(): Array<{
    def: Pick<CheckDefinition, 'CheckID' | 'Name' | 'ServiceID' | 'Notes' | 'kind'>;
    status: HealthStatus;
    output: string;
  }> {
    const list: Array<{
      def: Pick<CheckDefinition, 'CheckID' | 'Name' | 'ServiceID' | 'Notes' | 'kind'>;
      status: HealthStatus;
      output: string;
    }> = [...this.checks.values()];
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

  private asCatalogCheck(c: {
    def: Pick<CheckDefinition, 'CheckID' | 'Name' | 'ServiceID' | 'Notes' | 'kind'>;
    status: HealthStatus;
    output: string;
  }): CatalogCheck {
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

  private async changed(): Promise<void> {
    await this.persistNow();
    this.requestSync();
  }

  private persistNow(): Promise<void> {
    return this.o.persist({
      services: [...this.services.values()],
      checks: [...this.checks.values()].filter((c) => c.def.CheckID !== NODE_CHECK_ID).map((c) => c.def),
      maintenance: Object.fromEntries(this.maintenance),
    });
  }

  /** Schedules a sync very soon (coalescing bursts of changes). */
  requestSync(): void {
    if (this.stopped || this.syncSoon !== undefined) return;
    this.syncSoon = this.o.clock.setTimer(() => {
      this.syncSoon = undefined;
      void this.sync();
    }, 20);
  }

  /**
   * Anti-entropy: makes this node's catalog entries equal to the local state, writing only what
   * differs. Runs one at a time; a request during a run triggers one more run.
   */
  async sync(): Promise<void> {
    if (this.syncing) {
      this.resync = true;
      return this.syncing;
    }
    this.syncing = this.syncOnce()
      .catch((err: unknown) =>
        this.o.logger.debug('anti-entropy sync failed; will retry', { error: (err as Error).message }),
      )
      .finally(() => {
        this.syncing = undefined;
        if (this.resync && !this.stopped) {
          this.resync = false;
          this.requestSync();
        }
      });
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const { node } = this.o;
    const now = this.o.clock.now();
    const catalog = this.o.store.read((tx) => ({
      ns: nodeServices(tx, node.name).value,
      checks: nodeChecks(tx, node.name),
    }));
    const nodeInput = { ID: node.id, Node: node.name, Address: node.address, TaggedAddresses: {}, Meta: {} };
    const register = (extra: Partial<CatalogRegisterCommand>): Promise<unknown> =>
      this.o.writer.submit<boolean, CatalogRegisterCommand>({
        type: 'catalog.register',
        datacenter: node.datacenter,
        node: nodeInput,
        skipNodeUpdate: true,
        checks: [],
        now: this.o.clock.now(),
        ...extra,
      });
    if (!catalog.ns.node || catalog.ns.node.Address !== node.address || catalog.ns.node.ID !== node.id)
      await register({ skipNodeUpdate: false });
    const catalogServices = new Map(catalog.ns.services.map((s) => [s.ID, s]));
    const catalogChecks = new Map(catalog.checks.map((c) => [c.CheckID, c]));
    const desired = this.desiredChecks();
    const toCheckInput = (c: (typeof desired)[number]): CheckInput => ({
      CheckID: c.def.CheckID,
      Name: c.def.Name,
      Status: c.status,
      Notes: c.def.Notes,
      Output: c.output,
      ServiceID: c.def.ServiceID,
      Type: c.def.CheckID === NODE_CHECK_ID ? '' : c.def.kind,
    });
    const differs = (c: (typeof desired)[number]): boolean => {
      const have = catalogChecks.get(c.def.CheckID);
      if (!have) return true;
      if (
        have.Status !== c.status ||
        have.Name !== c.def.Name ||
        have.Notes !== c.def.Notes ||
        have.ServiceID !== c.def.ServiceID
      )
        return true;
      // Output alone is refreshed at most every checkUpdateInterval.
      const rt = this.checks.get(c.def.CheckID);
      return have.Output !== c.output && (!rt || now - rt.syncedOutputAt >= this.o.checkUpdateIntervalMs);
    };
    const markSynced = (ids: string[]) => {
      for (const id of ids) {
        const rt = this.checks.get(id);
        if (rt) rt.syncedOutputAt = now;
      }
    };
    for (const s of this.services.values()) {
      const own = desired.filter((c) => c.def.ServiceID === s.ID);
      const have = catalogServices.get(s.ID);
      const sameService =
        have &&
        JSON.stringify({ ...have, CreateIndex: 0, ModifyIndex: 0 }) ===
          JSON.stringify({ ...s, CreateIndex: 0, ModifyIndex: 0 });
      const stale = own.filter(differs);
      if (sameService && stale.length === 0) continue;
      await register({ service: s, checks: own.map(toCheckInput) });
      markSynced(own.map((c) => c.def.CheckID));
    }
    const nodeLevel = desired.filter((c) => !c.def.ServiceID && differs(c));
    if (nodeLevel.length > 0) {
      await register({ checks: nodeLevel.map(toCheckInput) });
      markSynced(nodeLevel.map((c) => c.def.CheckID));
    }
    const desiredIds = new Set(desired.map((c) => c.def.CheckID));
    for (const id of catalogServices.keys()) {
      if (!this.services.has(id))
        await this.o.writer.submit<boolean, CatalogDeregisterCommand>({
          type: 'catalog.deregister',
          node: node.name,
          serviceID: id,
          now: this.o.clock.now(),
        });
    }
    for (const c of catalog.checks) {
      if (!desiredIds.has(c.CheckID) && (c.ServiceID === '' || this.services.has(c.ServiceID))) {
        await this.o.writer.submit<boolean, CatalogDeregisterCommand>({
          type: 'catalog.deregister',
          node: node.name,
          checkID: c.CheckID,
          now: this.o.clock.now(),
        });
      }
    }
  }
}
