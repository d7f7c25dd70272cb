import type { Hono } from 'hono';
import { requireAccess, requireScalar } from './authz.js';
import type { ApiDeps } from './context.js';

/**
 * ACL checks for whole route families whose permission does not depend on the request body:
 * operator endpoints (operator:read for GET, operator:write otherwise), snapshots (acl:write, as
 * Consul asks a management token), the agent's self, metrics, join and leave (agent:read or
 * agent:write on this node). Checks that depend on what a request names live in its route.
 */
export function registerGuards(app: Hono, deps: ApiDeps): void {
  app.use('/v1/operator/*', async (c, next) => {
    requireScalar(deps, c.req.raw, 'operator', c.req.method === 'GET' ? 'read' : 'write');
    await next();
  });
  app.use('/v1/snapshot', async (c, next) => {
    requireScalar(deps, c.req.raw, 'acl', 'write');
    await next();
  });
  for (const [path, want] of [
    ['/v1/agent/self', 'read'],
    ['/v1/agent/metrics', 'read'],
    ['/v1/agent/join/*', 'write'],
    ['/v1/agent/leave', 'write'],
  ] as const) {
    app.use(path, async (c, next) => {
      requireAccess(deps, c.req.raw, 'agent', deps.node.name, want);
      await next();
    });
  }
}
