import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';
import { type HealthEntry, type ServiceInstance, serviceHealth, serviceIndex, serviceInstances } from './queries.js';
import { healthWeight, utf8 } from './shuffle.js';
import type { CatalogCheck } from './types.js';

/** /v1/catalog/service/<name> entry: node fields plus Service* fields. */
export function catalogServiceJson(i: ServiceInstance): Record<string, unknown> {
  const { node: n, service: s } = i;
  return {
    ID: n.ID,
    Node: n.Node,
    Address: n.Address,
    Datacenter: n.Datacenter,
    TaggedAddresses: n.TaggedAddresses,
    NodeMeta: n.Meta,
    ServiceKind: '',
    ServiceID: s.ID,
    ServiceName: s.Service,
    ServiceTags: s.Tags,
    ServiceAddress: s.Address,
    ServiceTaggedAddresses: s.TaggedAddresses,
    ServiceWeights: s.Weights,
    ServiceMeta: s.Meta,
    ServicePort: s.Port,
    ServiceEnableTagOverride: s.EnableTagOverride,
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  };
}

/** A check as the health and agent APIs show it. */
export function checkJson(c: CatalogCheck): Record<string, unknown> {
  return {
    Node: c.Node,
    CheckID: c.CheckID,
    Name: c.Name,
    Status: c.Status,
    Notes: c.Notes,
    Output: c.Output,
    ServiceID: c.ServiceID,
    ServiceName: c.ServiceName,
    ServiceTags: c.ServiceTags,
    Type: c.Type,
    Definition: {},
    CreateIndex: c.CreateIndex,
    ModifyIndex: c.ModifyIndex,
  };
}

/** /v1/health/service/<name> entry. */
export function healthEntryJson(e: HealthEntry): Record<string, unknown> {
  return { Node: e.node, Service: e.service, Checks: e.checks.map(checkJson) };
}

/** A health entry with its JSON text (UTF-8) and its load-balancing weight (healthWeight). */
export interface RenderedEntry {
  readonly entry: HealthEntry;
  readonly bytes: Uint8Array;
  readonly weight: number;
}

/** The rendered entries of one service: all of them, and those whose checks all pass. */
export interface RenderedService {
  readonly all: readonly RenderedEntry[];
  /** The entries of `all` whose every check is passing (Consul's `?passing`), in the same order. */
  readonly passing: readonly RenderedEntry[];
}

/**
 * The entries of service `name` (serviceHealth) each with its JSON text and weight, rendered once
 * per change of the service and kept like serviceHealth (ReadTxn.derived), so an answer only
 * picks, orders and joins texts. Index: that service's.
 */
export function renderedServiceHealth(tx: ReadTxn, name: string): Indexed<RenderedService> {
  const render = (): Indexed<RenderedService> => {
    const h = serviceHealth(tx, name);
    const all = h.value.map((entry) => ({
      entry,
      bytes: utf8(JSON.stringify(healthEntryJson(entry))),
      weight: healthWeight(entry),
    }));
    const passing = all.filter((r) => r.entry.checks.every((c) => c.Status === 'passing'));
    return { index: h.index, value: { all, passing } };
  };
  return tx.derived ? tx.derived(`health-json\u0000${name}`, serviceIndex(tx, name), render) : render();
}

/** An instance of a service with its /v1/catalog/service JSON text (UTF-8). */
export interface RenderedInstance {
  readonly instance: ServiceInstance;
  readonly bytes: Uint8Array;
}

/**
 * The instances of service `name` (serviceInstances, same order) each with its
 * /v1/catalog/service JSON text, rendered once per change of the service and kept by a store that
 * keeps derived values (ReadTxn.derived), so an answer only picks and joins texts. Index: that
 * service's.
 */
export function renderedCatalogService(tx: ReadTxn, name: string): Indexed<readonly RenderedInstance[]> {
  const render = (): Indexed<readonly RenderedInstance[]> => {
    const r = serviceInstances(tx, name);
    return {
      index: r.index,
      value: r.value.map((instance) => ({ instance, bytes: utf8(JSON.stringify(catalogServiceJson(instance))) })),
    };
  };
  return tx.derived ? tx.derived(`catalog-json\u0000${name}`, serviceIndex(tx, name), render) : render();
}
