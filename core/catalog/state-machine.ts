import { BadRequestError } from '../errors.js';
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
}

/** Removes a check, a service (with its checks) or a whole node. Result: true. */
export interface CatalogDeregisterCommand {
  readonly type: 'catalog.deregister';
  readonly node: string;
  readonly serviceID?: string;
  readonly checkID?: string;
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function bump(ctx: ApplyContext, name: string): void {
  bumpTableIndex(ctx.tx, name, ctx.index);
  ctx.changed({ table: CATALOG_WATCH_TABLE, key: name });
}

/** Service names with an instance on `node`. */
function serviceNamesOn(tx: WriteTxn, node: string): Set<string> {
  const names = new Set<string>();
  for (const [, s] of tx.range<CatalogService>(SERVICES_TABLE, { prefix: `${node}/` })) names.add(s.Service);
  return names;
}

function putService(ctx: ApplyContext, node: string, input: ServiceInput): void {
  const key = childKey(node, input.ID);
  const existing = ctx.tx.get<CatalogService>(SERVICES_TABLE, key);
  const next: CatalogService = { ...input, CreateIndex: existing?.CreateIndex ?? ctx.index, ModifyIndex: ctx.index };
  if (existing && sameJson({ ...existing, CreateIndex: 0, ModifyIndex: 0 }, { ...next, CreateIndex: 0, ModifyIndex: 0 })) return;
  if (existing && existing.Service !== input.Service) {
    ctx.tx.delete(SERVICE_NAME_INDEX, `${existing.Service}\u0000${key}`);
    bump(ctx, INDEX.service(existing.Service));
  }
  ctx.tx.put(SERVICES_TABLE, key, next);
  ctx.tx.put(SERVICE_NAME_INDEX, `${input.Service}\u0000${key}`, '');
  bump(ctx, INDEX.services);
  bump(ctx, INDEX.service(input.Service));
  bump(ctx, INDEX.node(node));
}

function deleteService(ctx: ApplyContext, node: string, id: string): void {
  const key = childKey(node, id);
  const existing = ctx.tx.get<CatalogService>(SERVICES_TABLE, key);
  if (!existing) return;
  ctx.tx.delete(SERVICES_TABLE, key);
  ctx.tx.delete(SERVICE_NAME_INDEX, `${existing.Service}\u0000${key}`);
  const checks: string[] = [];
  for (const [k, c] of ctx.tx.range<CatalogCheck>(CHECKS_TABLE, { prefix: `${node}/` })) if (c.ServiceID === id) checks.push(k);
  for (const k of checks) ctx.tx.delete(CHECKS_TABLE, k);
  if (checks.length > 0) bump(ctx, INDEX.checks);
  bump(ctx, INDEX.services);
  bump(ctx, INDEX.service(existing.Service));
  bump(ctx, INDEX.node(node));
}

/** Bumps what a change of `check` on `node` affects: the checks, the node, and its service(s). */
function bumpForCheck(ctx: ApplyContext, node: string, check: Pick<CatalogCheck, 'ServiceID' | 'ServiceName'>): void {
  bump(ctx, INDEX.checks);
  bump(ctx, INDEX.node(node));
  if (check.ServiceID) bump(ctx, INDEX.service(check.ServiceName));
  else for (const name of serviceNamesOn(ctx.tx, node)) bump(ctx, INDEX.service(name));
}

const register: CommandHandler = {
  apply(ctx, command) {
    const cmd = command as unknown as CatalogRegisterCommand;
    const node = cmd.node.Node;
    // Preconditions first: every check's service must exist (or be registered now).
    for (const c of cmd.checks) {
      if (!c.ServiceID) continue;
      const known = cmd.service?.ID === c.ServiceID || ctx.tx.get(SERVICES_TABLE, childKey(node, c.ServiceID)) !== undefined;
      if (!known) throw new BadRequestError(`Unknown service ID ${JSON.stringify(c.ServiceID)} for check ${JSON.stringify(c.CheckID)}`);
    }
    const existingNode = ctx.tx.get<CatalogNode>(NODES_TABLE, node);
    if (!existingNode || !cmd.skipNodeUpdate) {
      const next: CatalogNode = { ...cmd.node, Datacenter: cmd.datacenter, CreateIndex: existingNode?.CreateIndex ?? ctx.index, ModifyIndex: ctx.index };
      if (!existingNode || !sameJson({ ...existingNode, CreateIndex: 0, ModifyIndex: 0 }, { ...next, CreateIndex: 0, ModifyIndex: 0 })) {
        ctx.tx.put(NODES_TABLE, node, next);
        bump(ctx, INDEX.nodes);
        bump(ctx, INDEX.node(node));
        for (const name of serviceNamesOn(ctx.tx, node)) bump(ctx, INDEX.service(name));
      }
    }
    if (cmd.service) putService(ctx, node, cmd.service);
    for (const c of cmd.checks) {
      const key = childKey(node, c.CheckID);
      const svc = c.ServiceID ? ctx.tx.get<CatalogService>(SERVICES_TABLE, childKey(node, c.ServiceID)) : undefined;
      const existing = ctx.tx.get<CatalogCheck>(CHECKS_TABLE, key);
      const next: CatalogCheck = {
        ...c,
        Node: node,
        ServiceName: svc?.Service ?? '',
        ServiceTags: svc?.Tags ?? [],
        CreateIndex: existing?.CreateIndex ?? ctx.index,
        ModifyIndex: ctx.index,
      };
      if (existing && sameJson({ ...existing, CreateIndex: 0, ModifyIndex: 0 }, { ...next, CreateIndex: 0, ModifyIndex: 0 })) continue;
      ctx.tx.put(CHECKS_TABLE, key, next);
      bumpForCheck(ctx, node, next);
      if (existing && existing.ServiceID && existing.ServiceID !== next.ServiceID) bump(ctx, INDEX.service(existing.ServiceName));
    }
    return true;
  },
};

const deregister: CommandHandler = {
  apply(ctx, command) {
    const cmd = command as unknown as CatalogDeregisterCommand;
    const node = cmd.node;
    if (cmd.checkID !== undefined) {
      const key = childKey(node, cmd.checkID);
      const existing = ctx.tx.get<CatalogCheck>(CHECKS_TABLE, key);
      if (existing) {
        ctx.tx.delete(CHECKS_TABLE, key);
        bumpForCheck(ctx, node, existing);
      }
    }
    if (cmd.serviceID !== undefined) deleteService(ctx, node, cmd.serviceID);
    if (cmd.checkID === undefined && cmd.serviceID === undefined) {
      if (!ctx.tx.get(NODES_TABLE, node)) return true;
      const ids: string[] = [];
      for (const [, s] of ctx.tx.range<CatalogService>(SERVICES_TABLE, { prefix: `${node}/` })) ids.push(s.ID);
      for (const id of ids) deleteService(ctx, node, id);
      const checks: string[] = [];
      for (const [k] of ctx.tx.range(CHECKS_TABLE, { prefix: `${node}/` })) checks.push(k);
      for (const k of checks) ctx.tx.delete(CHECKS_TABLE, k);
      if (checks.length > 0) bump(ctx, INDEX.checks);
      ctx.tx.delete(NODES_TABLE, node);
      bump(ctx, INDEX.nodes);
      bump(ctx, INDEX.node(node));
    }
    return true;
  },
};

/** The catalog module: nodes, service instances and checks (Consul's catalog state). */
export const catalogModule: StateModule = {
  tables: [NODES_TABLE, SERVICES_TABLE, CHECKS_TABLE, SERVICE_NAME_INDEX],
  handlers: { 'catalog.register': register, 'catalog.deregister': deregister },
};

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
