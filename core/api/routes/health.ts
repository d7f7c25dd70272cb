import { route } from '../registry.js';
import type { Hono } from 'hono';
import { compileFilter } from '../../catalog/filter.js';
import { checkJson, healthEntryJson, renderedServiceHealth } from '../../catalog/json.js';
import { checksInState, type HealthEntry, nodeChecks, serviceChecks, serviceHealth } from '../../catalog/queries.js';
import { healthWeight, jsonArrayBytes, utf8 } from '../../catalog/shuffle.js';
import { CATALOG_WATCH_TABLE } from '../../catalog/state-machine.js';
import { type CatalogCheck, HEALTH_STATUSES, type HealthStatus, INDEX } from '../../catalog/types.js';
import { filterReadable } from '../authz.js';
import { readTableIndex } from '../../fsm/meta.js';
import { BadRequestError } from '../../errors.js';
import type { ApiDeps } from '../context.js';
import { indexedRead, JsonText, ShuffledAnswer } from '../read.js';
import { hasParam } from '../query.js';
import { hasTags, nodeMetaMatches, tagAndMetaFilters } from './catalog.js';

/**
 * Registers Consul's health endpoints (all blocking, all filterable). With ACLs on, answers leave
 * out instances and checks whose node or service the token may not read.
 */
export function registerHealthRoutes(app: Hono, deps: ApiDeps): void {
  const watch = (key: string) => ({ table: CATALOG_WATCH_TABLE, key });
  // A check is visible with read on its node and, for a service check, on its service.
  const readableChecks = (req: Request, checks: readonly CatalogCheck[]): readonly CatalogCheck[] =>
    filterReadable(deps, req, checks, (ch) =>
      ch.ServiceName
        ? [
            ['node', ch.Node],
            ['service', ch.ServiceName],
          ]
        : [['node', ch.Node]],
    ).items;

  route(app, 'GET', '/v1/health/service/:name', (c) => {
    const url = new URL(c.req.url);
    const name = c.req.param('name');
    const { tags, nodeMeta } = tagAndMetaFilters(url);
    const passing = hasParam(url, 'passing') && url.searchParams.get('passing') !== 'false';
    const filter = compileFilter(url.searchParams.get('filter') ?? '');
    // Load balancing: by default the entries come in a weighted random order (passing and warning
    // instances drawn by their Weights, critical ones last: weightedJsonArray), so clients that
    // take the first entries spread their load. `near` (any value) keeps the stable order by node
    // and service ID: in Consul `near` sorts by network distance, which without coordinates is
    // that order, and it is the opt-out for clients that rely on a stable order.
    const stable = hasParam(url, 'near');
    const readable = (entries: readonly HealthEntry[]) =>
      filterReadable(deps, c.req.raw, entries, (e) => [
        ['service', e.service.Service],
        ['node', e.node.Node],
      ]).items;
    const wanted = (e: HealthEntry) =>
      hasTags(e.service, tags) &&
      nodeMetaMatches(e.node, nodeMeta) &&
      (!passing || e.checks.every((ch) => ch.Status === 'passing'));
    if (!deps.acl.settings.enabled && !url.searchParams.get('filter')) {
      // Without ACLs and a filter expression, each entry's JSON is rendered once per change of
      // the service (renderedServiceHealth); an answer picks, orders and joins the texts.
      return indexedRead(
        deps,
        c.req.raw,
        watch(INDEX.service(name)),
        (tx) => renderedServiceHealth(tx, name),
        (rendered) => {
          const base = passing ? rendered.passing : rendered.all;
          const parts = tags.length === 0 && nodeMeta.length === 0 ? base : base.filter((r) => wanted(r.entry));
          return stable ? new JsonText(jsonArrayBytes(parts)) : new ShuffledAnswer(parts);
        },
      );
    }
    return indexedRead(
      deps,
      c.req.raw,
      watch(INDEX.service(name)),
      (tx) => serviceHealth(tx, name),
      (entries) => {
        const chosen = readable(entries)
          .filter(wanted)
          .map((e) => ({ e, json: healthEntryJson(e) }))
          .filter(({ json }) => filter(json));
        if (stable) return chosen.map(({ json }) => json);
        return new ShuffledAnswer(
          chosen.map(({ e, json }) => ({ bytes: utf8(JSON.stringify(json)), weight: healthWeight(e) })),
        );
      },
    );
  });

  route(app, 'GET', '/v1/health/checks/:service', (c) => {
    const name = c.req.param('service');
    const filter = compileFilter(new URL(c.req.url).searchParams.get('filter') ?? '');
    return indexedRead(
      deps,
      c.req.raw,
      watch(INDEX.service(name)),
      (tx) => serviceChecks(tx, name),
      (checks) => readableChecks(c.req.raw, checks).map(checkJson).filter(filter),
    );
  });

  route(app, 'GET', '/v1/health/node/:node', (c) => {
    const node = c.req.param('node');
    const filter = compileFilter(new URL(c.req.url).searchParams.get('filter') ?? '');
    return indexedRead(
      deps,
      c.req.raw,
      watch(INDEX.node(node)),
      (tx) => ({
        index: Math.max(readTableIndex(tx, INDEX.node(node)), readTableIndex(tx, INDEX.nodes)),
        value: nodeChecks(tx, node),
      }),
      (checks) => readableChecks(c.req.raw, checks).map(checkJson).filter(filter),
    );
  });

  route(app, 'GET', '/v1/health/state/:state', (c) => {
    const state = c.req.param('state');
    if (state !== 'any' && !(HEALTH_STATUSES as readonly string[]).includes(state)) {
      throw new BadRequestError(`Invalid check state ${JSON.stringify(state)} (use any, passing, warning or critical)`);
    }
    const filter = compileFilter(new URL(c.req.url).searchParams.get('filter') ?? '');
    return indexedRead(
      deps,
      c.req.raw,
      watch(INDEX.checks),
      (tx) => checksInState(tx, state as HealthStatus | 'any'),
      (checks) => readableChecks(c.req.raw, checks).map(checkJson).filter(filter),
    );
  });
}
