import { RefusedError } from '../errors.js';
import { bumpTableIndex } from '../fsm/meta.js';
import type { ApplyContext, CommandHandler, StateModule } from '../fsm/state-machine.js';
import type { WriteTxn } from '../ports/state-store.js';
import {
  type CatalogCheck,
  type CatalogNode,
  type CatalogService,
  CHECKS_TABLE,
  childKey,
  type HealthStatus,
  INDEX,
  NODES_TABLE,
  SERVICE_NAME_INDEX,
  SERVICES_TABLE,
  type Weights,
} from './types.js';

/** Pseudo-table of change notifications for catalog blocking queries; keys are INDEX names. */
export const CATALOG_WATCH_TABLE = 'catalog';
/**
 * Pseudo-table of per-instance health changes (for watch streams): key healthKey(...), entry the
 * instance's HealthEntry after the change, or null when the instance is gone.
 */
export const HEALTH_WATCH_TABLE = 'health';

/**
 * Pseudo-table of check status changes, node checks included (for listeners such as insights):
 * key "node/checkID", entry `{ Status }` when a check is added or its status changes, null when
 * it is removed.
 */
export const CHECK_STATUS_WATCH_TABLE = 'check_status';

/** The HEALTH_WATCH_TABLE key of instance `id` of service `name` on `node`. */
export const healthKey = (name: string, node: string, id: string): string => `${name}\u0000${node}/${id}`;

/**
 * What is bound to the catalog's checks and nodes and ends with them: the sessions (core/session
 * implements it; the catalog cannot import the modules built on it). Called inside the catalog
 * command's application, where the check or node goes, so what it writes commits with the command.
 */
export interface CatalogBindings {
  /** Check `checkId` of `node` went critical or was removed; `now` (ms since epoch) starts lock delays. */
  checkDown(ctx: ApplyContext, node: string, checkId: string, now: number): void;
  /** `node` was deregistered; `now` (ms since epoch) starts lock delays. */
  nodeRemoved(ctx: ApplyContext, node: string, now: number): void;
}

/** A node as registered (indexes are assigned when applied). */
export type NodeInput = Omit<CatalogNode, 'CreateIndex' | 'ModifyIndex' | 'Datacenter'>;
/** A service instance as registered. */
export type ServiceInput = Omit<CatalogService, 'CreateIndex' | 'ModifyIndex'>;
/** A check as registered (ServiceName and ServiceTags are filled from the service). */
export type CheckInput = Omit<CatalogCheck, 'CreateIndex' | 'ModifyIndex' | 'Node' | 'ServiceName' | 'ServiceTags'>;

/** Registers a node and, optionally, one service and checks on it (Consul's RegisterRequest). Result: true. */
export interface CatalogRegisterCommand {
  readonly type: 'catalog.register';
  readonly datacenter: string;
  readonly node: NodeInput;
  /** Keep an existing node record as it is (agents syncing a service do not rewrite the node). */
  readonly skipNodeUpdate: boolean;
  readonly service?: ServiceInput;
  readonly checks: readonly CheckInput[];
  /** Proposer's clock (ms since epoch): starts the lock delays of sessions a critical check invalidates. */
  readonly now?: number;
}

/** Removes a check, a service (with its checks) or a whole node. Result: true. */
export interface CatalogDeregisterCommand {
  readonly type: 'catalog.deregister';
  readonly node: string;
  readonly serviceID?: string;
  readonly checkID?: string;
  /** Proposer's clock (ms since epoch): starts the lock delays of sessions this invalidates. */
  readonly now?: number;
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

// The stored records are built field by field, never with object spread: on Node 20 (V8 11.3) a
// spread gives every result its own hidden class (about 0.5 µs and a few hundred bytes each), and
// these records stay in memory by the hundred thousand (docs/PERFORMANCE.md). Fields keep the
// order the spreads gave them, so records stored before compare equal.

/** The stored record of node `n` in `datacenter` with the given indexes. */
function nodeRecord(n: NodeInput, datacenter: string, createIndex: number, modifyIndex: number): CatalogNode {
  return {
    ID: n.ID,
    Node: n.Node,
    Address: n.Address,
    TaggedAddresses: n.TaggedAddresses,
    Meta: n.Meta,
    Datacenter: datacenter,
    CreateIndex: createIndex,
    ModifyIndex: modifyIndex,
  };
}

/** The stored record of service instance `s` with the given indexes. */
function serviceRecord(s: ServiceInput, createIndex: number, modifyIndex: number): CatalogService {
  return {
    ID: s.ID,
    Service: s.Service,
    Tags: s.Tags,
    Address: s.Address,
    TaggedAddresses: s.TaggedAddresses,
    Meta: s.Meta,
    Port: s.Port,
    Weights: s.Weights,
    EnableTagOverride: s.EnableTagOverride,
    CreateIndex: createIndex,
    ModifyIndex: modifyIndex,
  };
}

/** The stored record of check `c` on `node` (of service `svc`, if any) with the given indexes. */
function checkRecord(
  c: CheckInput,
  node: string,
  svc: CatalogService | undefined,
  createIndex: number,
  modifyIndex: number,
): CatalogCheck {
  return {
    CheckID: c.CheckID,
    Name: c.Name,
    Status: c.Status,
    Notes: c.Notes,
    Output: c.Output,
    ServiceID: c.ServiceID,
    Type: c.Type,
    Node: node,
    ServiceName: svc?.Service ?? '',
    ServiceTags: svc?.Tags ?? [],
    CreateIndex: createIndex,
    ModifyIndex: modifyIndex,
  };
}

function bump(ctx: ApplyContext, name: string): void {
  bumpTableIndex(ctx.tx, name, ctx.index);
  ctx.changed({ table: CATALOG_WATCH_TABLE, key: name });
}

/** Instances whose health a command changed: healthKey → [node, service id]. */
type Touched = Map<string, readonly [string, string]>;

function touch(touched: Touched, name: string, node: string, id: string): void {
  touched.set(healthKey(name, node, id), [node, id]);
}

function touchNode(ctx: ApplyContext, touched: Touched, node: string): void {
  for (const [, s] of ctx.tx.range<CatalogService>(SERVICES_TABLE, { prefix: `${node}/` }))
    touch(touched, s.Service, node, s.ID);
}

/** Reports the health of every touched instance as it stands after the command. */
function emitHealth(ctx: ApplyContext, touched: Touched): void {
  for (const [key, [node, id]] of touched) {
    const name = key.slice(0, key.indexOf('\u0000'));
    const service = ctx.tx.get<CatalogService>(SERVICES_TABLE, childKey(node, id));
    const nodeRec = ctx.tx.get<CatalogNode>(NODES_TABLE, node);
    if (!service || !nodeRec || service.Service !== name) {
      ctx.changed({ table: HEALTH_WATCH_TABLE, key, entry: null });
      continue;
    }
    const checks: CatalogCheck[] = [];
    for (const [, c] of ctx.tx.range<CatalogCheck>(CHECKS_TABLE, { prefix: `${node}/` }))
      if (c.ServiceID === '' || c.ServiceID === id) checks.push(c);
    ctx.changed({ table: HEALTH_WATCH_TABLE, key, entry: { node: nodeRec, service, checks } });
  }
}

/** Service names with an instance on `node`. */
function serviceNamesOn(tx: WriteTxn, node: string): Set<string> {
  const names = new Set<string>();
  for (const [, s] of tx.range<CatalogService>(SERVICES_TABLE, { prefix: `${node}/` })) names.add(s.Service);
  return names;
}

function putService(ctx: ApplyContext, touched: Touched, node: string, input: ServiceInput): void {
  const key = childKey(node, input.ID);
  const existing = ctx.tx.get<CatalogService>(SERVICES_TABLE, key);
  // Unchanged when the record it would write, with the old indexes, is the stored one.
  if (existing && sameJson(existing, serviceRecord(input, existing.CreateIndex, existing.ModifyIndex))) return;
  const next = serviceRecord(input, existing?.CreateIndex ?? ctx.index, ctx.index);
  if (existing && existing.Service !== input.Service) {
    ctx.tx.delete(SERVICE_NAME_INDEX, `${existing.Service}\u0000${key}`);
    bump(ctx, INDEX.service(existing.Service));
    touch(touched, existing.Service, node, input.ID);
  }
  touch(touched, input.Service, node, input.ID);
  ctx.tx.put(SERVICES_TABLE, key, next);
  ctx.tx.put(SERVICE_NAME_INDEX, `${input.Service}\u0000${key}`, '');
  bump(ctx, INDEX.services);
  bump(ctx, INDEX.service(input.Service));
  bump(ctx, INDEX.node(node));
}

function deleteService(
  ctx: ApplyContext,
  touched: Touched,
  node: string,
  id: string,
  now: number,
  bound: CatalogBindings,
): void {
  const key = childKey(node, id);
  const existing = ctx.tx.get<CatalogService>(SERVICES_TABLE, key);
  if (!existing) return;
  ctx.tx.delete(SERVICES_TABLE, key);
  ctx.tx.delete(SERVICE_NAME_INDEX, `${existing.Service}\u0000${key}`);
  touch(touched, existing.Service, node, id);
  const checks: Array<[string, string]> = [];
  for (const [k, c] of ctx.tx.range<CatalogCheck>(CHECKS_TABLE, { prefix: `${node}/` }))
    if (c.ServiceID === id) checks.push([k, c.CheckID]);
  for (const [k, checkId] of checks) {
    ctx.tx.delete(CHECKS_TABLE, k);
    ctx.changed({ table: CHECK_STATUS_WATCH_TABLE, key: k, entry: null });
    bound.checkDown(ctx, node, checkId, now);
  }
  if (checks.length > 0) bump(ctx, INDEX.checks);
  bump(ctx, INDEX.services);
  bump(ctx, INDEX.service(existing.Service));
  bump(ctx, INDEX.node(node));
}

/** Bumps what a change of `check` on `node` affects: the checks, the node, and its service(s). */
function bumpForCheck(
  ctx: ApplyContext,
  touched: Touched,
  node: string,
  check: Pick<CatalogCheck, 'ServiceID' | 'ServiceName'>,
): void {
  bump(ctx, INDEX.checks);
  bump(ctx, INDEX.node(node));
  if (check.ServiceID) {
    bump(ctx, INDEX.service(check.ServiceName));
    touch(touched, check.ServiceName, node, check.ServiceID);
  } else {
    for (const name of serviceNamesOn(ctx.tx, node)) bump(ctx, INDEX.service(name));
    touchNode(ctx, touched, node);
  }
}

/**
 * Applies a registration (Consul's ensureRegistrationTxn): the node, then the service, then the
 * checks. Preconditions (every check's service exists or is being registered) are checked before
 * any write; throws RefusedError (Consul's state store: 500 "Missing service registration")
 * otherwise. A check that is critical ends what is `bound` to it (its sessions), with lock delays
 * from `cmd.now`.
 */
export function catalogRegister(
  ctx: ApplyContext,
  cmd: Omit<CatalogRegisterCommand, 'type'>,
  bound: CatalogBindings,
): void {
  const node = cmd.node.Node;
  const now = cmd.now ?? 0;
  for (const c of cmd.checks) {
    if (!c.ServiceID) continue;
    const known =
      cmd.service?.ID === c.ServiceID || ctx.tx.get(SERVICES_TABLE, childKey(node, c.ServiceID)) !== undefined;
    if (!known) {
      const which = `check ${JSON.stringify(c.CheckID)} names ServiceID ${JSON.stringify(c.ServiceID)}`;
      throw new RefusedError(`Missing service registration: ${which}`);
    }
  }
  const touched: Touched = new Map();
  const existingNode = ctx.tx.get<CatalogNode>(NODES_TABLE, node);
  if (!existingNode || !cmd.skipNodeUpdate) {
    if (
      !existingNode ||
      !sameJson(existingNode, nodeRecord(cmd.node, cmd.datacenter, existingNode.CreateIndex, existingNode.ModifyIndex))
    ) {
      const next = nodeRecord(cmd.node, cmd.datacenter, existingNode?.CreateIndex ?? ctx.index, ctx.index);
      ctx.tx.put(NODES_TABLE, node, next);
      bump(ctx, INDEX.nodes);
      bump(ctx, INDEX.node(node));
      for (const name of serviceNamesOn(ctx.tx, node)) bump(ctx, INDEX.service(name));
      touchNode(ctx, touched, node);
    }
  }
  if (cmd.service) putService(ctx, touched, node, cmd.service);
  for (const c of cmd.checks) {
    const key = childKey(node, c.CheckID);
    const svc = c.ServiceID ? ctx.tx.get<CatalogService>(SERVICES_TABLE, childKey(node, c.ServiceID)) : undefined;
    const existing = ctx.tx.get<CatalogCheck>(CHECKS_TABLE, key);
    if (existing && sameJson(existing, checkRecord(c, node, svc, existing.CreateIndex, existing.ModifyIndex))) continue;
    const next = checkRecord(c, node, svc, existing?.CreateIndex ?? ctx.index, ctx.index);
    ctx.tx.put(CHECKS_TABLE, key, next);
    if (existing?.Status !== next.Status)
      ctx.changed({ table: CHECK_STATUS_WATCH_TABLE, key, entry: { Status: next.Status } });
    bumpForCheck(ctx, touched, node, next);
    if (existing && existing.ServiceID && existing.ServiceID !== next.ServiceID) {
      bump(ctx, INDEX.service(existing.ServiceName));
      touch(touched, existing.ServiceName, node, existing.ServiceID);
    }
    if (next.Status === 'critical') bound.checkDown(ctx, node, next.CheckID, now);
  }
  emitHealth(ctx, touched);
}

/**
 * Applies a deregistration: a check, a service (with its checks) or, with neither given, the
 * whole node. Removing a check, or a node, ends what is `bound` to it (its sessions).
 */
export function catalogDeregister(
  ctx: ApplyContext,
  cmd: Omit<CatalogDeregisterCommand, 'type'>,
  bound: CatalogBindings,
): void {
  const node = cmd.node;
  const now = cmd.now ?? 0;
  const touched: Touched = new Map();
  if (cmd.checkID !== undefined) {
    const key = childKey(node, cmd.checkID);
    const existing = ctx.tx.get<CatalogCheck>(CHECKS_TABLE, key);
    if (existing) {
      ctx.tx.delete(CHECKS_TABLE, key);
      ctx.changed({ table: CHECK_STATUS_WATCH_TABLE, key, entry: null });
      bumpForCheck(ctx, touched, node, existing);
      bound.checkDown(ctx, node, existing.CheckID, now);
    }
  }
  if (cmd.serviceID !== undefined) deleteService(ctx, touched, node, cmd.serviceID, now, bound);
  if (cmd.checkID === undefined && cmd.serviceID === undefined && ctx.tx.get(NODES_TABLE, node)) {
    const ids: string[] = [];
    for (const [, s] of ctx.tx.range<CatalogService>(SERVICES_TABLE, { prefix: `${node}/` })) ids.push(s.ID);
    for (const id of ids) deleteService(ctx, touched, node, id, now, bound);
    const checks: string[] = [];
    for (const [k] of ctx.tx.range(CHECKS_TABLE, { prefix: `${node}/` })) checks.push(k);
    for (const k of checks) {
      ctx.tx.delete(CHECKS_TABLE, k);
      ctx.changed({ table: CHECK_STATUS_WATCH_TABLE, key: k, entry: null });
    }
    if (checks.length > 0) bump(ctx, INDEX.checks);
    ctx.tx.delete(NODES_TABLE, node);
    bump(ctx, INDEX.nodes);
    bump(ctx, INDEX.node(node));
    bound.nodeRemoved(ctx, node, now);
  }
  emitHealth(ctx, touched);
}

/** The tables of the catalog module. */
export const CATALOG_TABLES: readonly string[] = [NODES_TABLE, SERVICES_TABLE, CHECKS_TABLE, SERVICE_NAME_INDEX];

/**
 * The catalog module: nodes, service instances and checks (Consul's catalog state). Checks that go
 * critical or away, and deregistered nodes, end what is `bound` to them.
 */
export function catalogModule(bound: CatalogBindings): StateModule {
  const register: CommandHandler = {
    apply(ctx, command) {
      catalogRegister(ctx, command as unknown as CatalogRegisterCommand, bound);
      return true;
    },
  };
  const deregister: CommandHandler = {
    apply(ctx, command) {
      catalogDeregister(ctx, command as unknown as CatalogDeregisterCommand, bound);
      return true;
    },
  };
  return {
    tables: CATALOG_TABLES,
    handlers: { 'catalog.register': register, 'catalog.deregister': deregister },
  };
}

/** The worst of a set of statuses ('passing' for none). */
export function worstStatus(statuses: Iterable<HealthStatus>): HealthStatus {
  let worst: HealthStatus = 'passing';
  for (const s of statuses) {
    if (s === 'critical') return 'critical';
    if (s === 'warning') worst = 'warning';
  }
  return worst;
}

/** The SRV weight of an instance whose worst check is `status` (0: do not answer it). */
export function weightFor(weights: Weights, status: HealthStatus): number {
  return status === 'passing' ? weights.Passing : status === 'warning' ? weights.Warning : 0;
}
