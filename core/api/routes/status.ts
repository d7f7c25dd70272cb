import { route } from '../registry.js';
import type { Hono } from 'hono';
import type { ApiDeps } from '../context.js';
import { checkDatacenter } from '../query.js';
import { jsonResponse } from '../respond.js';

/** Registers /v1/status/leader (leader's raft address, "" when none) and /v1/status/peers. */
export function registerStatusRoutes(app: Hono, deps: ApiDeps): void {
  route(app, 'GET', '/v1/status/leader', (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    return jsonResponse(JSON.stringify(deps.cluster.leader() ?? ''));
  });
  route(app, 'GET', '/v1/status/peers', (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    return jsonResponse(JSON.stringify(deps.cluster.peers()));
  });
}
