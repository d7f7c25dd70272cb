import { route } from '../registry.js';
import type { NamedResource } from '../../acl/rules.js';
import { filterReadable, identityOf, requireAccess } from '../authz.js';
import type { Hono } from 'hono';
import { compileFilter } from '../../catalog/filter.js';
import { Fields, parseRegisterRequest, validNodeName } from '../../catalog/input.js';
import { catalogServiceJson, renderedCatalogService } from '../../catalog/json.js';
import { jsonArrayBytes } from '../../catalog/shuffle.js';
import { getNode, listNodes, listServices, nodeChecks, nodeServices, serviceInstances } from '../../catalog/queries.js';
import {
  CATALOG_WATCH_TABLE,
  type CatalogDeregisterCommand,
  type CatalogRegisterCommand,
  type ServiceInput,
} from '../../catalog/state-machine.js';
import { type CatalogNode, type CatalogService, INDEX } from '../../catalog/types.js';
import { BadRequestError, RefusedError } from '../../errors.js';
import { readBodyKept, readJson } from '../body.js';
import { noPathToDatacenter } from '../federation.js';
import type { ApiDeps } from '../context.js';
import { indexedRead, JsonText } from '../read.js';
import { checkDatacenter } from '../query.js';
import { jsonResponse } from '../respond.js';

/** `?tag=` (repeatable: every tag must be present) and `?node-meta=k:v` (repeatable). */
export function tagAndMetaFilters(url: URL): { tags: string[]; nodeMeta: Array<[string, string]> } {
  const nodeMeta = url.searchParams.getAll('node-meta').map((kv) => {
    const at = kv.indexOf(':');
    if (at <= 0) throw new BadRequestError(`Invalid node-meta ${JSON.stringify(kv)}: use key:value`);
    return [kv.slice(0, at), kv.slice(at + 1)] as [string, string];
  });
  return { tags: url.searchParams.getAll('tag'), nodeMeta };
}

/** Whether a node's meta has every pair. */
export function nodeMetaMatches(node: CatalogNode, pairs: ReadonlyArray<[string, string]>): boolean {
  return pairs.every(([k, v]) => node.Meta[k] === v);
}

/** Whether a service has every tag. */
export function hasTags(s: CatalogService, tags: readonly string[]): boolean {
  return tags.every((t) => s.Tags.includes(t));
}

/** A request body as JSON (at most 1 MiB), kept so the request can still be sent elsewhere whole. */
async function readJsonKept(req: Request, deps: ApiDeps): Promise<unknown> {
  await readBodyKept(req, 1024 * 1024, deps.bodyReader);
  return readJson(req, undefined, deps.bodyReader);
}

/**
 * The answer of the datacenter a catalog write's body names (`Datacenter`), when it is another
 * one: the request goes there as it came (Consul forwards by the body's Datacenter). Undefined
 * for this datacenter. Throws noPathToDatacenter when no other datacenter is reachable at all.
 */
function otherDatacenter(deps: ApiDeps, req: Request, dc: string | undefined): Promise<Response> | undefined {
  if (!dc || dc === deps.node.datacenter) return undefined;
  if (!deps.federation) throw noPathToDatacenter(dc);
  return deps.federation.forward(dc, req);
}

/**
 * Registers Consul's catalog endpoints. With ACLs on, registrations need node, service and check
 * write as Consul asks; reads leave out nodes and services the token may not read (a node it may
 * not read answers like a missing one: 200 with null, as Consul). What Consul's servers refuse
 * (no node, no address, a check of an unknown service) is a RefusedError (500).
 */
export function registerCatalogRoutes(app: Hono, deps: ApiDeps): void {
  const watch = (key: string) => ({ table: CATALOG_WATCH_TABLE, key });
  /** A check needs service:write on its service, or node:write when it is a node check (or its service is unknown). */
  const requireCheckWrite = (
    req: Request,
    node: string,
    serviceId: string,
    registering: ServiceInput | undefined,
  ): void => {
    if (serviceId === '') return requireAccess(deps, req, 'node', node, 'write');
    const name =
      registering?.ID === serviceId
        ? registering.Service
        : deps.store.read((tx) => nodeServices(tx, node).value.services.find((s) => s.ID === serviceId)?.Service);
    if (name === undefined) requireAccess(deps, req, 'node', node, 'write');
    else requireAccess(deps, req, 'service', name, 'write');
  };

  route(app, 'PUT', '/v1/catalog/register', async (c) => {
    const url = new URL(c.req.url);
    checkDatacenter(url, deps);
    const body = await readJsonKept(c.req.raw, deps);
    const dc = new Fields(body, 'body').str('Datacenter');
    // As Consul: a registration for another datacenter is made there (no path: 500).
    const elsewhere = otherDatacenter(deps, c.req.raw, dc);
    if (elsewhere) return elsewhere;
    const req = parseRegisterRequest(body);
    // As Consul: node:write unless the node is left as it is, service:write for the service, and
    // each check needs write on its service (a service check) or its node.
    if (!req.skipNodeUpdate) requireAccess(deps, c.req.raw, 'node', req.node.Node, 'write');
    if (req.service) requireAccess(deps, c.req.raw, 'service', req.service.Service, 'write');
    for (const ch of req.checks) requireCheckWrite(c.req.raw, req.node.Node, ch.ServiceID, req.service);
    const command: CatalogRegisterCommand = {
      type: 'catalog.register',
      datacenter: deps.node.datacenter,
      ...req,
      now: deps.clock.now(),
    };
    await deps.writer.submit(command);
    return jsonResponse('true');
  });

  route(app, 'PUT', '/v1/catalog/deregister', async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const f = new Fields(await readJsonKept(c.req.raw, deps), 'body');
    const elsewhere = otherDatacenter(deps, c.req.raw, f.str('Datacenter'));
    if (elsewhere) return elsewhere;
    const node = f.str('Node');
    if (!node) throw new RefusedError('Must provide node');
    const serviceId = f.str('ServiceID');
    const checkId = f.str('CheckID');
    if (serviceId) {
      const name = deps.store.read(
        (tx) => nodeServices(tx, node).value.services.find((s) => s.ID === serviceId)?.Service,
      );
      if (name === undefined) requireAccess(deps, c.req.raw, 'node', node, 'write');
      else requireAccess(deps, c.req.raw, 'service', name, 'write');
    } else if (checkId) {
      const check = deps.store.read((tx) => nodeChecks(tx, node).find((ch) => ch.CheckID === checkId));
      requireCheckWrite(c.req.raw, node, check?.ServiceID ?? '', undefined);
    } else {
      requireAccess(deps, c.req.raw, 'node', node, 'write');
    }
    const command: CatalogDeregisterCommand = {
      type: 'catalog.deregister',
      node: validNodeName(node, 'Node'),
      ...(f.str('ServiceID') ? { serviceID: f.str('ServiceID') } : {}),
      ...(f.str('CheckID') ? { checkID: f.str('CheckID') } : {}),
      now: deps.clock.now(),
    };
    await deps.writer.submit(command);
    return jsonResponse('true');
  });

  const readable = <T>(
    req: Request,
    items: readonly T[],
    names: (item: T) => ReadonlyArray<readonly [NamedResource, string]>,
  ): readonly T[] => filterReadable(deps, req, items, names).items;

  // This datacenter first, then the others by round-trip time (as Consul's GetDatacentersByDistance).
  route(app, 'GET', '/v1/catalog/datacenters', () =>
    jsonResponse(JSON.stringify(deps.federation?.datacenters() ?? [deps.node.datacenter])),
  );

  route(app, 'GET', '/v1/catalog/nodes', (c) => {
    const url = new URL(c.req.url);
    const { nodeMeta } = tagAndMetaFilters(url);
    const filter = compileFilter(url.searchParams.get('filter') ?? '');
    return indexedRead(deps, c.req.raw, watch(INDEX.nodes), listNodes, (nodes) =>
      readable(c.req.raw, nodes, (n) => [['node', n.Node]]).filter((n) => nodeMetaMatches(n, nodeMeta) && filter(n)),
    );
  });

  route(app, 'GET', '/v1/catalog/services', (c) => {
    const url = new URL(c.req.url);
    const { nodeMeta } = tagAndMetaFilters(url);
    const filter = compileFilter(url.searchParams.get('filter') ?? '');
    const canRead = (r: 'service', n: string) => identityOf(deps, c.req.raw).authz.canRead(r, n);
    return indexedRead(
      deps,
      c.req.raw,
      watch(INDEX.services),
      (tx) => {
        const r = listServices(tx);
        const out: Record<string, string[]> = {};
        for (const [name, instances] of r.value) {
          const kept = instances.filter(({ node, service }) => {
            if (nodeMeta.length > 0) {
              const n = getNode(tx, node).value;
              if (!n || !nodeMetaMatches(n, nodeMeta)) return false;
            }
            return filter({ ...service, ServiceName: service.Service, ServiceTags: service.Tags });
          });
          if (kept.length === 0 || !canRead('service', name)) continue;
          out[name] = [...new Set(kept.flatMap(({ service }) => service.Tags))];
        }
        return { index: r.index, value: out };
      },
      (v) => v,
    );
  });

  route(app, 'GET', '/v1/catalog/service/:name', (c) => {
    const url = new URL(c.req.url);
    const name = c.req.param('name');
    const { tags, nodeMeta } = tagAndMetaFilters(url);
    const filter = compileFilter(url.searchParams.get('filter') ?? '');
    if (!deps.acl.settings.enabled && !url.searchParams.get('filter')) {
      // Without ACLs and a filter expression, each instance's JSON is rendered once per change of
      // the service (renderedCatalogService); an answer picks and joins the texts.
      return indexedRead(
        deps,
        c.req.raw,
        watch(INDEX.service(name)),
        (tx) => renderedCatalogService(tx, name),
        (rendered) =>
          new JsonText(
            jsonArrayBytes(
              tags.length === 0 && nodeMeta.length === 0
                ? rendered
                : rendered.filter(
                    (r) => hasTags(r.instance.service, tags) && nodeMetaMatches(r.instance.node, nodeMeta),
                  ),
            ),
          ),
      );
    }
    return indexedRead(
      deps,
      c.req.raw,
      watch(INDEX.service(name)),
      (tx) => serviceInstances(tx, name),
      (instances) =>
        readable(c.req.raw, instances, (i) => [
          ['service', i.service.Service],
          ['node', i.node.Node],
        ])
          .filter((i) => hasTags(i.service, tags) && nodeMetaMatches(i.node, nodeMeta))
          .map(catalogServiceJson)
          .filter(filter),
    );
  });

  route(app, 'GET', '/v1/catalog/node/:node', (c) => {
    const node = c.req.param('node');
    const filter = compileFilter(new URL(c.req.url).searchParams.get('filter') ?? '');
    return indexedRead(
      deps,
      c.req.raw,
      watch(INDEX.node(node)),
      (tx) => nodeServices(tx, node),
      (v) => {
        // As Consul: an unknown node, or one the token may not read, is 200 with null.
        if (!v.node || !identityOf(deps, c.req.raw).authz.canRead('node', node)) return null;
        return {
          Node: v.node,
          Services: Object.fromEntries(
            readable(c.req.raw, v.services, (s) => [['service', s.Service]])
              .filter(filter)
              .map((s) => [s.ID, s]),
          ),
        };
      },
    );
  });

  route(app, 'GET', '/v1/catalog/node-services/:node', (c) => {
    const node = c.req.param('node');
    const filter = compileFilter(new URL(c.req.url).searchParams.get('filter') ?? '');
    return indexedRead(
      deps,
      c.req.raw,
      watch(INDEX.node(node)),
      (tx) => nodeServices(tx, node),
      (v) => {
        // As Consul: an unknown node, or one the token may not read, is 200 with neither.
        if (!v.node || !identityOf(deps, c.req.raw).authz.canRead('node', node)) return { Node: null, Services: null };
        return {
          Node: v.node,
          Services: readable(c.req.raw, v.services, (s) => [['service', s.Service]]).filter(filter),
        };
      },
    );
  });
}
