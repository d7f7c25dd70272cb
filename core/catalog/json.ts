import type { HealthEntry, ServiceInstance } from './queries.js';
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
  return { ...c, Definition: {} };
}

/** /v1/health/service/<name> entry. */
export function healthEntryJson(e: HealthEntry): Record<string, unknown> {
  return { Node: e.node, Service: e.service, Checks: e.checks.map(checkJson) };
}
