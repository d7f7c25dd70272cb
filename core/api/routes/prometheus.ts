import { route } from '../registry.js';
import type { Hono } from 'hono';
import { entryStatus, listServices, serviceHealth } from '../../catalog/queries.js';
import { CONSUL_SERVICE } from '../../catalog/types.js';
import { identityOf } from '../authz.js';
import type { ApiDeps } from '../context.js';
import { checkDatacenter } from '../query.js';
import { jsonResponse } from '../respond.js';

/** Turns a metadata key into a valid Prometheus label-name suffix. */
function labelSafe(key: string): string {
  return key.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * Prometheus HTTP service discovery (`http_sd_configs`) from the catalog:
 * `GET /v1/prometheus/sd[?service=a&service=b][&tag=t]`. One target group per healthy instance
 * (no critical check), with `__meta_consul_*` labels as Prometheus' own Consul SD names them
 * (service, service id, node, address, dc, tags as ",a,b,", service and node metadata) and a
 * plain `service` label. Without `service=`, every service but the servers' own `consul` one.
 */
export function registerPrometheusRoutes(app: Hono, deps: ApiDeps): void {
  route(app, 'GET', '/v1/prometheus/sd', (c) => {
    const url = new URL(c.req.url);
    checkDatacenter(url, deps);
    const wanted = url.searchParams.getAll('service');
    const tags = url.searchParams.getAll('tag');
    const authz = identityOf(deps, c.req.raw).authz;
    const groups = deps.store.read((tx) => {
      // Servers' own `consul` service (their Raft port, no metrics there) only when asked for by name.
      const names = wanted.length > 0 ? wanted : [...listServices(tx).value.keys()].filter((n) => n !== CONSUL_SERVICE);
      const out: Array<{ targets: string[]; labels: Record<string, string> }> = [];
      for (const name of names) {
        for (const e of serviceHealth(tx, name).value) {
          if (entryStatus(e) === 'critical' || !tags.every((t) => e.service.Tags.includes(t))) continue;
          if (!authz.canRead('service', e.service.Service) || !authz.canRead('node', e.node.Node)) continue;
          const address = e.service.Address || e.node.Address;
          const labels: Record<string, string> = {
            service: e.service.Service,
            __meta_consul_service: e.service.Service,
            __meta_consul_service_id: e.service.ID,
            __meta_consul_node: e.node.Node,
            __meta_consul_address: e.node.Address,
            __meta_consul_service_address: address,
            __meta_consul_service_port: String(e.service.Port),
            __meta_consul_dc: deps.node.datacenter,
            __meta_consul_tags: `,${e.service.Tags.join(',')},`,
            __meta_consul_health: entryStatus(e),
          };
          for (const [k, v] of Object.entries(e.service.Meta))
            labels[`__meta_consul_service_metadata_${labelSafe(k)}`] = v;
          for (const [k, v] of Object.entries(e.node.Meta)) labels[`__meta_consul_metadata_${labelSafe(k)}`] = v;
          const host = address.includes(':') ? `[${address}]` : address;
          out.push({ targets: [`${host}:${e.service.Port}`], labels });
        }
      }
      return out;
    });
    return jsonResponse(JSON.stringify(groups));
  });
}
