import type { Hono } from 'hono';
import { requestSecret } from '../acl/resolve.js';
import { RateLimitedError } from '../errors.js';
import { requireAccess, requireScalar } from './authz.js';
import type { ApiDeps, ServerApiDeps } from './context.js';
import { RateLimiter } from './rate-limit.js';
import type { RouteAcl } from './route-table.js';
import { forwardedByPeer } from './local-defaults.js';

/**
 * The ACL check the route table asks for before a handler runs (a RouteAcl with a `guard`):
 * operator endpoints (operator:read for GET, operator:write otherwise), snapshots (acl:write, as
 * Consul asks a management token), the agent's self, metrics, join and leave (agent:read or
 * agent:write on this node). Throws 403 when the request's token lacks it; checks that depend on
 * what a request names live in its route.
 */
export function checkGuard(deps: ApiDeps, req: Request, acl: RouteAcl): void {
  if (acl.guard === undefined) return;
  const want = acl.guard === 'by-method' ? (req.method === 'GET' ? 'read' : 'write') : acl.guard;
  if (acl.resource === 'agent') requireAccess(deps, req, 'agent', deps.node.name, want);
  else requireScalar(deps, req, acl.resource, want);
}

/**
 * Token-bucket rate limits per client address and per token (the secret a request carries;
 * requests without one count against their address only), answered 429 with Retry-After. Requests a peer server
 * forwards (they carry
 * x-konsul-forwarded and come from a server's address) were counted where they arrived.
 */
export function registerRateLimits(app: Hono, deps: ServerApiDeps): void {
  const rl = deps.rateLimit;
  if (rl.perIp <= 0 && rl.perToken <= 0) return;
  const limiter = new RateLimiter(deps.clock, Math.max(1, rl.burst));
  app.use('*', async (c, next) => {
    const req = c.req.raw;
    if (!forwardedByPeer(deps, req)) {
      const ip = deps.clientAddress(req) ?? '';
      const byIp = limiter.take(`ip\u0000${ip}`, rl.perIp);
      if (byIp > 0) throw new RateLimitedError('address', byIp);
      // Requests without a token are limited by address only (they would otherwise share one bucket).
      const secret = requestSecret(req, new URL(req.url));
      const byToken = secret === undefined ? 0 : limiter.take(`token\u0000${secret}`, rl.perToken);
      if (byToken > 0) throw new RateLimitedError('token', byToken);
    }
    await next();
  });
}
