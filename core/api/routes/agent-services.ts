import { route } from '../registry.js';
import type { Hono } from 'hono';
import { parseAgentService, parseCheckDefinition, updateOutput } from '../../agent/definitions.js';
import { compileFilter } from '../../catalog/filter.js';
import { Fields } from '../../catalog/input.js';
import { checkJson } from '../../catalog/json.js';
import type { ServiceInput } from '../../catalog/state-machine.js';
import { HEALTH_STATUSES, type HealthStatus } from '../../catalog/types.js';
import { BadRequestError, NotFoundError } from '../../errors.js';
import { filterReadable, requireAccess } from '../authz.js';
import type { ServerApiDeps } from '../context.js';
import { jsonResponse } from '../respond.js';
import { readJson } from '../body.js';
import { restOfPath } from '../paths.js';
import { hashBlockingQuery } from '../hash-blocking.js';

const STATUS_CODE: Record<HealthStatus, number> = { passing: 200, warning: 429, critical: 503 };

/**
 * Registers the local agent's service and check endpoints (served by this server, never
 * forwarded). With ACLs on: service:write to register or change a service and its checks,
 * node:write for node checks, service:read to read one; lists leave out what the token may not read.
 */
export function registerAgentServiceRoutes(app: Hono, deps: ServerApiDeps): void {
  const agent = deps.agent;
  const serviceJson = (s: ServiceInput) => ({ ...s, Datacenter: deps.node.datacenter });
  const ok = () => new Response(null, { status: 200 });
  const param = (c: { req: { param(n: string): string } }, n: string) => c.req.param(n);
  // Service and check IDs may hold "/" (Patroni's "pg/pg1"): the ID is the rest of the path after `prefix`.
  const idAfter = (c: { req: { raw: Request } }, prefix: string): string => restOfPath(c.req.raw, prefix, 'ID');
  // A known service needs service:write on its name; an unknown one falls through to the 404.
  const requireServiceWrite = (req: Request, id: string): void => {
    const s = agent.getService(id);
    if (s) requireAccess(deps, req, 'service', s.Service, 'write');
  };
  // A check is written with service:write on its service, or node:write on this node.
  const requireCheckWrite = (req: Request, serviceId: string): void => {
    const s = serviceId === '' ? undefined : agent.getService(serviceId);
    if (s) requireAccess(deps, req, 'service', s.Service, 'write');
    else requireAccess(deps, req, 'node', deps.node.name, 'write');
  };
  const requireExistingCheckWrite = (req: Request, checkId: string): void => {
    const ch = agent.listChecks().find((x) => x.CheckID === checkId);
    if (ch) requireCheckWrite(req, ch.ServiceID);
  };
  const readableChecks = <T extends { ServiceName: string; Node: string }>(
    req: Request,
    checks: readonly T[],
  ): readonly T[] =>
    filterReadable(deps, req, checks, (ch) => (ch.ServiceName ? [['service', ch.ServiceName]] : [['node', ch.Node]]))
      .items;

  route(app, 'PUT', '/v1/agent/service/register', async (c) => {
    const def = parseAgentService(await readJson(c.req.raw, undefined, deps.bodyReader));
    requireAccess(deps, c.req.raw, 'service', def.service.Service, 'write');
    await agent.registerService(def);
    return ok();
  });
  route(app, 'PUT', '/v1/agent/service/deregister/*', async (c) => {
    const id = idAfter(c, '/v1/agent/service/deregister/');
    requireServiceWrite(c.req.raw, id);
    await agent.deregisterService(id);
    return ok();
  });
  route(app, 'PUT', '/v1/agent/service/maintenance/*', async (c) => {
    const id = idAfter(c, '/v1/agent/service/maintenance/');
    const url = new URL(c.req.url);
    const on = enableParam(url);
    requireServiceWrite(c.req.raw, id);
    await agent.setMaintenance(id, on, url.searchParams.get('reason') ?? '');
    return ok();
  });
  // The whole node (Consul: node:write on the agent's node).
  route(app, 'PUT', '/v1/agent/maintenance', async (c) => {
    const url = new URL(c.req.url);
    const on = enableParam(url);
    requireAccess(deps, c.req.raw, 'node', deps.node.name, 'write');
    await agent.setNodeMaintenance(on, url.searchParams.get('reason') ?? '');
    return ok();
  });
  // Hash-based blocking (?hash=, X-Consul-ContentHash) on the agent's own state: see hash-blocking.ts.
  route(app, 'GET', '/v1/agent/services', (c) => {
    const filter = compileFilter(new URL(c.req.url).searchParams.get('filter') ?? '');
    return hashBlockingQuery(deps, c.req.raw, () => {
      const services = filterReadable(deps, c.req.raw, agent.listServices(), (s) => [['service', s.Service]]).items;
      return {
        body: JSON.stringify(
          Object.fromEntries(
            services
              .map(serviceJson)
              .filter(filter)
              .map((s) => [s.ID, s]),
          ),
        ),
      };
    });
  });
  route(app, 'GET', '/v1/agent/service/*', (c) => {
    const id = idAfter(c, '/v1/agent/service/');
    return hashBlockingQuery(deps, c.req.raw, () => {
      const s = agent.getService(id);
      if (!s) throw new NotFoundError(`unknown service ID: ${id}`);
      requireAccess(deps, c.req.raw, 'service', s.Service, 'read');
      const json = serviceJson(s);
      return { body: JSON.stringify(json), withHash: (hash) => JSON.stringify({ ...json, ContentHash: hash }) };
    });
  });

  route(app, 'PUT', '/v1/agent/check/register', async (c) => {
    const def = parseCheckDefinition(await readJson(c.req.raw, undefined, deps.bodyReader), 'check');
    requireCheckWrite(c.req.raw, def.ServiceID);
    await agent.registerCheck(def);
    return ok();
  });
  route(app, 'PUT', '/v1/agent/check/deregister/*', async (c) => {
    const id = idAfter(c, '/v1/agent/check/deregister/');
    requireExistingCheckWrite(c.req.raw, id);
    await agent.deregisterCheck(id);
    return ok();
  });
  for (const [verb, status] of [
    ['pass', 'passing'],
    ['warn', 'warning'],
    ['fail', 'critical'],
  ] as const) {
    route(app, 'PUT', `/v1/agent/check/${verb}/*`, async (c) => {
      const id = idAfter(c, `/v1/agent/check/${verb}/`);
      requireExistingCheckWrite(c.req.raw, id);
      await agent.updateTtl(id, status, updateOutput(new URL(c.req.url).searchParams.get('note') ?? ''));
      return ok();
    });
  }
  route(app, 'PUT', '/v1/agent/check/update/*', async (c) => {
    const id = idAfter(c, '/v1/agent/check/update/');
    requireExistingCheckWrite(c.req.raw, id);
    const f = new Fields(await readJson(c.req.raw, undefined, deps.bodyReader), 'body');
    const status = f.str('Status');
    if (!(HEALTH_STATUSES as readonly string[]).includes(status))
      throw new BadRequestError(`Invalid check status: '${status}'`);
    await agent.updateTtl(id, status as HealthStatus, updateOutput(f.str('Output')));
    return ok();
  });
  route(app, 'GET', '/v1/agent/checks', (c) => {
    const filter = compileFilter(new URL(c.req.url).searchParams.get('filter') ?? '');
    return hashBlockingQuery(deps, c.req.raw, () => ({
      body: JSON.stringify(
        Object.fromEntries(
          readableChecks(c.req.raw, agent.listChecks())
            .map(checkJson)
            .filter(filter)
            .map((ch) => [ch['CheckID'] as string, ch]),
        ),
      ),
    }));
  });

  route(app, 'GET', '/v1/agent/health/service/id/*', (c) => {
    const id = idAfter(c, '/v1/agent/health/service/id/');
    const h = agent.serviceHealth(id);
    if (h) requireAccess(deps, c.req.raw, 'service', h.service.Service, 'read');
    const text = new URL(c.req.url).searchParams.get('format') === 'text';
    if (!h)
      return text
        ? new Response(`ServiceId ${id} not found`, { status: 404 })
        : jsonResponse(JSON.stringify(`ServiceId ${id} not found`), 404);
    if (text)
      return new Response(h.status, { status: STATUS_CODE[h.status], headers: { 'Content-Type': 'text/plain' } });
    return jsonResponse(
      JSON.stringify({ AggregatedStatus: h.status, Service: serviceJson(h.service), Checks: h.checks.map(checkJson) }),
      STATUS_CODE[h.status],
    );
  });
  route(app, 'GET', '/v1/agent/health/service/name/:name', (c) => {
    const name = param(c, 'name');
    requireAccess(deps, c.req.raw, 'service', name, 'read');
    const entries = agent
      .listServices()
      .filter((s) => s.Service === name)
      .map((s) => agent.serviceHealth(s.ID))
      .filter((h) => h !== undefined);
    const text = new URL(c.req.url).searchParams.get('format') === 'text';
    if (entries.length === 0)
      return text
        ? new Response(`ServiceName ${name} Not Found`, { status: 404 })
        : jsonResponse(JSON.stringify(`ServiceName ${name} Not Found`), 404);
    const worst = entries.some((e) => e.status === 'critical')
      ? 'critical'
      : entries.some((e) => e.status === 'warning')
        ? 'warning'
        : 'passing';
    if (text) return new Response(worst, { status: STATUS_CODE[worst], headers: { 'Content-Type': 'text/plain' } });
    const body = entries.map((e) => ({
      AggregatedStatus: e.status,
      Service: serviceJson(e.service),
      Checks: e.checks.map(checkJson),
    }));
    return jsonResponse(JSON.stringify(body), STATUS_CODE[worst]);
  });
}

/** The `enable` parameter of the maintenance routes, read as Go's strconv.ParseBool reads it (Consul). */
function enableParam(url: URL): boolean {
  const enable = url.searchParams.get('enable');
  if (enable === null || enable === '') throw new BadRequestError('Missing value for enable');
  const on = ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(enable);
  if (!on && !['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(enable))
    throw new BadRequestError(`Invalid value for enable: ${JSON.stringify(enable)}`);
  return on;
}
