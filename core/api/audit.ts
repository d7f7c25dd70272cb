import type { Hono } from 'hono';
import { randomUuid } from '../util/uuid.js';
import { resolvedIdentity } from './authz.js';
import { NO_AUDIT } from './audit-sink.js';
import type { ServerApiDeps } from './context.js';
import { callerAddress } from './local-defaults.js';

/** POST routes that change nothing (a question sent as a body): audited as reads. */
const READ_ONLY_POSTS: ReadonlySet<string> = new Set(['/v1/internal/acl/authorize']);

/** Header carrying the request id. */
export const REQUEST_ID_HEADER = 'X-Konsul-Request-Id';

function safePath(url: URL): string {
  if (!url.searchParams.has('token')) return `${url.pathname}${url.search}`;
  const q = new URLSearchParams(url.searchParams);
  q.delete('token');
  const rest = q.toString();
  return `${url.pathname}${rest ? `?${rest}` : ''}`;
}

/**
 * Gives every request an id (X-Konsul-Request-Id) and, with an audit sink, records every write,
 * and — with ACLs on — every request (each is an authorization decision), after it is answered.
 */
export function registerAudit(app: Hono, deps: ServerApiDeps): void {
  const sink = deps.audit;
  app.use('*', async (c, next) => {
    const requestId = randomUuid(deps.rng);
    const byListener = deps.responseHeader?.(c.req.raw, REQUEST_ID_HEADER, requestId) === true;
    await next();
    if (!byListener)
      try {
        c.res.headers.set(REQUEST_ID_HEADER, requestId);
      } catch {
        // A response with immutable headers goes out without the id.
      }
    if (sink === NO_AUDIT) return;
    const req = c.req.raw;
    const write = req.method !== 'GET' && req.method !== 'HEAD' && !READ_ONLY_POSTS.has(new URL(req.url).pathname);
    if (!write && !deps.acl.settings.enabled) return;
    const status = c.res.status;
    const accessor = resolvedIdentity(req)?.token?.AccessorID;
    sink.record({
      time: new Date(deps.clock.now()).toISOString(),
      requestId,
      source: callerAddress(deps, req) ?? '',
      ...(accessor ? { accessor } : {}),
      method: req.method,
      path: safePath(new URL(req.url)),
      kind: write ? 'write' : 'read',
      status,
      decision: status === 401 || status === 403 ? 'denied' : 'allowed',
    });
  });
}
