import { readTableIndex } from '../fsm/meta.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';
import { worstStatus } from './state-machine.js';
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
} from './types.js';

/** An instance with its node (what /v1/catalog/service returns, before shaping). */
export interface ServiceInstance {
  readonly node: CatalogNode;
  readonly service: CatalogService;
}

/** An instance with its node and every check that applies to it (node checks and its own). */
export interface HealthEntry extends ServiceInstance {
  readonly checks: readonly CatalogCheck[];
}

const index = (tx: ReadTxn, ...names: string[]): number => Math.max(...names.map((n) => readTableIndex(tx, n)));

/** Every node, in name order. Index: the nodes table. */
export function listNodes(tx: ReadTxn): Indexed<CatalogNode[]> {
  return { index: index(tx, INDEX.nodes), value: [...tx.range<CatalogNode>(NODES_TABLE)].map(([, n]) => n) };
}

/** One node, if registered. Index: that node's. */
export function getNode(tx: ReadTxn, node: string): Indexed<CatalogNode | undefined> {
  return { index: index(tx, INDEX.node(node), INDEX.nodes), value: tx.get<CatalogNode>(NODES_TABLE, node) };
}

/** Every instance grouped by service name (names in order), with its node's name. Index: the services table. */
export function listServices(tx: ReadTxn): Indexed<Map<string, Array<{ node: string; service: CatalogService }>>> {
  const byName = new Map<string, Array<{ node: string; service: CatalogService }>>();
  for (const [key, s] of tx.range<CatalogService>(SERVICES_TABLE)) {
    let list = byName.get(s.Service);
    if (!list) byName.set(s.Service, (list = []));
    list.push({ node: key.slice(0, key.indexOf('/')), service: s });
  }
  return {
    index: index(tx, INDEX.services),
    value: new Map([...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
}

/**
 * How many distinct service names have instances: one ordered lookup per name in the service-name
 * index (keys `<name>\0<node>/<id>`), skipping each name's instances.
 */
export function serviceNameCount(tx: ReadTxn): number {
  let n = 0;
  let start = '';
  for (;;) {
    const first = tx.range(SERVICE_NAME_INDEX, { start, limit: 1 })[Symbol.iterator]().next();
    if (first.done) return n;
    const key = first.value[0];
    const name = key.slice(0, key.indexOf('\u0000'));
    n++;
    start = `${name}\u0001`;
  }
}

/** The index of service `name`'s reads (instances, health, checks): that service's, or the services table's. */
export function serviceIndex(tx: ReadTxn, name: string): number {
  return index(tx, INDEX.service(name), INDEX.services);
}

/**
 * The registered service name equal to `lower` (a lower-case name) ignoring case — the first in
 * name order when several are — or undefined when none is. A store that keeps derived values
 * (ReadTxn.derived) keeps the lookup table until a service is added or removed (the services
 * table's index), so an unknown name costs a map lookup rather than a walk over every instance.
 */
export function serviceNameIgnoringCase(tx: ReadTxn, lower: string): string | undefined {
  if (!tx.derived) {
    for (const [k] of tx.range(SERVICE_NAME_INDEX)) {
      const name = k.slice(0, k.indexOf('\u0000'));
      if (name.toLowerCase() === lower) return name;
    }
    return undefined;
  }
  return tx
    .derived('service-names-lower-case', readTableIndex(tx, INDEX.services), () => {
      const byLowerCase = new Map<string, string>();
      for (const [k] of tx.range(SERVICE_NAME_INDEX)) {
        const name = k.slice(0, k.indexOf('\u0000'));
        const key = name.toLowerCase();
        if (!byLowerCase.has(key)) byLowerCase.set(key, name);
      }
      return byLowerCase;
    })
    .get(lower);
}

/** Instances of service `name`, by node then id. Index: that service's. */
export function serviceInstances(tx: ReadTxn, name: string): Indexed<ServiceInstance[]> {
  const out: ServiceInstance[] = [];
  for (const [k] of tx.range(SERVICE_NAME_INDEX, { prefix: `${name}\u0000` })) {
    const key = k.slice(name.length + 1);
    const service = tx.get<CatalogService>(SERVICES_TABLE, key);
    const node = service ? tx.get<CatalogNode>(NODES_TABLE, key.slice(0, key.indexOf('/'))) : undefined;
    if (service && node) out.push({ node, service });
  }
  return { index: serviceIndex(tx, name), value: out };
}

/** Services registered on `node`. Index: that node's. */
export function nodeServices(
  tx: ReadTxn,
  node: string,
): Indexed<{ node: CatalogNode | undefined; services: CatalogService[] }> {
  const services = [...tx.range<CatalogService>(SERVICES_TABLE, { prefix: `${node}/` })].map(([, s]) => s);
  return {
    index: index(tx, INDEX.node(node), INDEX.nodes),
    value: { node: tx.get<CatalogNode>(NODES_TABLE, node), services },
  };
}

/** Checks registered on `node`. */
export function nodeChecks(tx: ReadTxn, node: string): CatalogCheck[] {
  return [...tx.range<CatalogCheck>(CHECKS_TABLE, { prefix: `${node}/` })].map(([, c]) => c);
}

/**
 * Instances of `name` with the checks that apply to each. Index: that service's. Kept by a store
 * that keeps derived values (ReadTxn.derived) until the service's index moves: callers never
 * mutate what it returns.
 */
export function serviceHealth(tx: ReadTxn, name: string): Indexed<HealthEntry[]> {
  if (!tx.derived) return joinServiceHealth(tx, name);
  return tx.derived(`health\u0000${name}`, serviceIndex(tx, name), () => joinServiceHealth(tx, name));
}

function joinServiceHealth(tx: ReadTxn, name: string): Indexed<HealthEntry[]> {
  const instances = serviceInstances(tx, name);
  const byNode = new Map<string, CatalogCheck[]>();
  const entries = instances.value.map((i) => {
    let checks = byNode.get(i.node.Node);
    if (!checks) byNode.set(i.node.Node, (checks = nodeChecks(tx, i.node.Node)));
    return {
      node: i.node,
      service: i.service,
      checks: checks.filter((c) => c.ServiceID === '' || c.ServiceID === i.service.ID),
    };
  });
  // Check changes that affect the service raise its index, so the instances' index covers them.
  return { index: instances.index, value: entries };
}

/** The checks of every instance of service `name`. Index: that service's. */
export function serviceChecks(tx: ReadTxn, name: string): Indexed<CatalogCheck[]> {
  const out: CatalogCheck[] = [];
  for (const [k] of tx.range(SERVICE_NAME_INDEX, { prefix: `${name}\u0000` })) {
    const key = k.slice(name.length + 1);
    const [node, id] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    for (const c of nodeChecks(tx, node)) if (c.ServiceID === id) out.push(c);
  }
  return { index: index(tx, INDEX.service(name), INDEX.services), value: out };
}

/** Checks in `state` ('any' for all). Index: the checks table. */
export function checksInState(tx: ReadTxn, state: HealthStatus | 'any'): Indexed<CatalogCheck[]> {
  const out: CatalogCheck[] = [];
  for (const [, c] of tx.range<CatalogCheck>(CHECKS_TABLE)) if (state === 'any' || c.Status === state) out.push(c);
  return { index: index(tx, INDEX.checks), value: out };
}

/** The aggregated status of an entry: the worst of its checks. */
export function entryStatus(e: Pick<HealthEntry, 'checks'>): HealthStatus {
  return worstStatus(e.checks.map((c) => c.Status));
}

/** Whether a service instance `id` exists on `node`. */
export function hasService(tx: ReadTxn, node: string, id: string): boolean {
  return tx.get(SERVICES_TABLE, childKey(node, id)) !== undefined;
}
