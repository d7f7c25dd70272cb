import { nodeChecks, nodeServices } from '../catalog/queries.js';
import type {
  CatalogDeregisterCommand,
  CatalogRegisterCommand,
  CheckInput,
  ServiceInput,
} from '../catalog/state-machine.js';
import { CONSUL_SERVICE } from '../catalog/types.js';
import type { Writer } from '../pipeline/writer.js';
import type { Clock, TimerHandle } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { StateStore } from '../ports/state-store.js';
import { type CheckState, NODE_CHECK_ID } from './checks.js';

/** The local state anti-entropy makes the catalog equal to. */
export interface LocalCatalogState {
  /** The services registered on this agent. */
  services(): Iterable<ServiceInput>;
  hasService(id: string): boolean;
  /** Every check the catalog should have for this node (maintenance checks included). */
  desiredChecks(): CheckState[];
  /** When a check's output was last written (undefined: not a running check, always written). */
  outputSyncedAt(checkId: string): number | undefined;
  /** Records that a check's output was written at `now`. */
  markOutputSynced(checkId: string, now: number): void;
}

/** Options of anti-entropy; intervals in ms. */
export interface AntiEntropyOptions {
  readonly node: { readonly name: string; readonly id: string; readonly address: string; readonly datacenter: string };
  readonly clock: Clock;
  readonly logger: Logger;
  readonly store: StateStore;
  readonly writer: Writer;
  /** Full sync period. */
  readonly syncIntervalMs: number;
  /** Output-only changes are written at most this often per check (status changes at once). */
  readonly checkUpdateIntervalMs: number;
  readonly local: LocalCatalogState;
}

/**
 * Anti-entropy: keeps this node's catalog entries (node, services, checks) equal to the local
 * state, writing only what differs. Changes are pushed soon after `requestSync` (bursts coalesce);
 * a periodic full sync repairs drift. After `stop` nothing more is scheduled.
 */
export class AntiEntropy {
  private syncTimer: TimerHandle | undefined;
  private syncSoon: TimerHandle | undefined;
  private syncing: Promise<void> | undefined;
  /** The run that starts after the one under way, shared by everyone who asked meanwhile. */
  private next: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: AntiEntropyOptions) {}

  /** Starts the periodic full sync and asks for a first sync now. */
  start(): void {
    const loop = () => {
      this.syncTimer = this.o.clock.setTimer(() => {
        void this.sync().finally(() => !this.stopped && loop());
      }, this.o.syncIntervalMs);
    };
    loop();
    this.requestSync();
  }

  /** Cancels the scheduled syncs (a sync under way finishes). */
  stop(): void {
    this.stopped = true;
    if (this.syncTimer !== undefined) this.o.clock.clearTimer(this.syncTimer);
    if (this.syncSoon !== undefined) this.o.clock.clearTimer(this.syncSoon);
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
   * Makes this node's catalog entries equal to the local state, writing only what differs, in a
   * run that starts after this call: the returned promise settles once everything changed locally
   * before the call has been written (or the run failed). Runs one at a time; callers arriving
   * while one is under way share the next run. Never rejects: a failure is logged and the next
   * sync retries.
   */
  sync(): Promise<void> {
    if (this.next) return this.next;
    if (!this.syncing) return this.run();
    // The run under way may have read the catalog before the caller's change: wait for the next.
    this.next = this.syncing.then(() => {
      this.next = undefined;
      return this.run();
    });
    return this.next;
  }

  private run(): Promise<void> {
    this.syncing = this.syncOnce()
      .catch((err: unknown) =>
        this.o.logger.debug('anti-entropy sync failed; will retry', { error: (err as Error).message }),
      )
      .finally(() => {
        this.syncing = undefined;
      });
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const { node, local } = this.o;
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
    const desired = local.desiredChecks();
    const toCheckInput = (c: CheckState): CheckInput => ({
      CheckID: c.def.CheckID,
      Name: c.def.Name,
      Status: c.status,
      Notes: c.def.Notes,
      Output: c.output,
      ServiceID: c.def.ServiceID,
      Type: c.def.CheckID === NODE_CHECK_ID ? '' : c.def.kind,
    });
    const differs = (c: CheckState): boolean => {
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
      const syncedAt = local.outputSyncedAt(c.def.CheckID);
      return have.Output !== c.output && (syncedAt === undefined || now - syncedAt >= this.o.checkUpdateIntervalMs);
    };
    const markSynced = (ids: string[]) => {
      for (const id of ids) local.markOutputSynced(id, now);
    };
    for (const s of local.services()) {
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
      if (!local.hasService(id) && id !== CONSUL_SERVICE)
        await this.o.writer.submit<boolean, CatalogDeregisterCommand>({
          type: 'catalog.deregister',
          node: node.name,
          serviceID: id,
          now: this.o.clock.now(),
        });
    }
    for (const c of catalog.checks) {
      if (!desiredIds.has(c.CheckID) && (c.ServiceID === '' || local.hasService(c.ServiceID))) {
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
