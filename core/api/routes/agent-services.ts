import type { Hono } from 'hono';
import { parseAgentService, parseCheckDefinition, updateOutput } from '../../agent/definitions.js';
import { compileFilter } from '../../catalog/filter.js';
import { Fields, parseStatus } from '../../catalog/input.js';
import { checkJson } from '../../catalog/json.js';
import type { ServiceInput } from '../../catalog/state-machine.js';
import type { HealthStatus } from '../../catalog/types.js';
import { BadRequestError, NotFoundError } from '../../errors.js';
import type { ApiDeps } from '../context.js';
import { jsonResponse } from '../respond.js';
import { readJson } from '../body.js';

const STATUS_CODE: Record<HealthStatus, number> = { passing: 200, warning: 429, critical: 503 };

/** Registers the local agent's service and check endpoints (served by this server, never forwarded). */
export function registerAgentServiceRoutes(app: Hono, deps: ApiDeps): void {
  const agent = deps.agent;
  if (!agent) return;
  const serviceJson = (s: ServiceInput) => ({ ...s, Datacenter: deps.node.datacenter });
  const ok = () => new Response(null, { status: 200 });
  const param = (c: { req: { param(n: string): string } }, n: string) => c.req.param(n);

  app.put('/v1/agent/service/register', async (c) => {
    await agent.registerService(parseAgentService(await readJson(c.req.raw)));
    return ok();
  });
  app.put('/v1/agent/service/deregister/:id', async (c) => {
    await agent.deregisterService(param(c, 'id'));
    return ok();
  });
  app.put('/v1/agent/service/maintenance/:id', async (c) => {
    const url = new URL(c.req.url);
    const enable = url.searchParams.get('enable');
    if (enable !== 'true' && enable !== 'false') throw new BadRequestError('Missing value for enable (use enable=true or enable=false)');
    await agent.setMaintenance(param(c, 'id'), enable === 'true', url.searchParams.get('reason') ?? '');
    return ok();
  });
  app.get('/v1/agent/services', (c) => {
    const filter = compileFilter(new URL(c.req.url).searchParams.get('filter') ?? '');
    return jsonResponse(JSON.stringify(Object.fromEntries(agent.listServices().map(serviceJson).filter(filter).map((s) => [s.ID, s]))));
  });
  app.get('/v1/agent/service/:id', (c) => {
    const s = agent.getService(param(c, 'id'));
    if (!s) throw new NotFoundError(`unknown service ID: ${param(c, 'id')}`);
    return jsonResponse(JSON.stringify(serviceJson(s)));
  });

  app.put('/v1/agent/check/register', async (c) => {
    await agent.registerCheck(parseCheckDefinition(await readJson(c.req.raw), 'check'));
    return ok();
  });
  app.put('/v1/agent/check/deregister/:id', async (c) => {
    await agent.deregisterCheck(param(c, 'id'));
    return ok();
  });
  for (const [verb, status] of [['pass', 'passing'], ['warn', 'warning'], ['fail', 'critical']] as const) {
    app.put(`/v1/agent/check/${verb}/:id`, async (c) => {
      await agent.updateTtl(param(c, 'id'), status, updateOutput(new URL(c.req.url).searchParams.get('note') ?? ''));
      return ok();
    });
  }
  app.put('/v1/agent/check/update/:id', async (c) => {
    const f = new Fields(await readJson(c.req.raw), 'body');
    await agent.updateTtl(param(c, 'id'), parseStatus(f.str('Status'), 'Status'), updateOutput(f.str('Output')));
    return ok();
  });
  app.get('/v1/agent/checks', (c) => {
    const filter = compileFilter(new URL(c.req.url).searchParams.get('filter') ?? '');
    return jsonResponse(JSON.stringify(Object.fromEntries(agent.listChecks().map(checkJson).filter(filter).map((ch) => [ch['CheckID'] as string, ch]))));
  });

  app.get('/v1/agent/health/service/id/:id', (c) => {
    const id = param(c, 'id');
    const h = agent.serviceHealth(id);
    const text = new URL(c.req.url).searchParams.get('format') === 'text';
    if (!h) return text ? new Response(`ServiceId ${id} not found`, { status: 404 }) : jsonResponse(JSON.stringify(`ServiceId ${id} not found`), 404);
    if (text) return new Response(h.status, { status: STATUS_CODE[h.status], headers: { 'Content-Type': 'text/plain' } });
    return jsonResponse(JSON.stringify({ AggregatedStatus: h.status, Service: serviceJson(h.service), Checks: h.checks.map(checkJson) }), STATUS_CODE[h.status]);
  });
  app.get('/v1/agent/health/service/name/:name', (c) => {
    const name = param(c, 'name');
    const entries = agent.listServices().filter((s) => s.Service === name).map((s) => agent.serviceHealth(s.ID)).filter((h) => h !== undefined);
    const text = new URL(c.req.url).searchParams.get('format') === 'text';
    if (entries.length === 0) return text ? new Response(`ServiceName ${name} Not Found`, { status: 404 }) : jsonResponse(JSON.stringify(`ServiceName ${name} Not Found`), 404);
    const worst = entries.some((e) => e.status === 'critical') ? 'critical' : entries.some((e) => e.status === 'warning') ? 'warning' : 'passing';
    if (text) return new Response(worst, { status: STATUS_CODE[worst], headers: { 'Content-Type': 'text/plain' } });
    const body = entries.map((e) => ({ AggregatedStatus: e.status, Service: serviceJson(e.service), Checks: e.checks.map(checkJson) }));
    return jsonResponse(JSON.stringify(body), STATUS_CODE[worst]);
  });
}
