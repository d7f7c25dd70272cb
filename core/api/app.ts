import { registerAclRoutes } from './routes/acl.js';
import { Hono } from 'hono';
import { registerAudit } from './audit.js';
import { checkGuard, registerRateLimits } from './guards.js';
import type { ServerApiDeps } from './context.js';
import { routeOf } from './route-table.js';
import { resolveLocalDefaults } from './local-defaults.js';
import { answerUnrouted, redirectUncleanPath, rejectWrongMethod } from './paths.js';
import { KonsulError } from '../errors.js';
import { CLIENT_CAUSED_5XX, errorAnswer } from './http-errors.js';
import { registerAgentRoutes } from './routes/agent.js';
import { registerAgentServiceRoutes } from './routes/agent-services.js';
import { registerCatalogRoutes } from './routes/catalog.js';
import { registerEventRoutes } from './routes/event.js';
import { noPathToDatacenter, remoteDatacenter } from './federation.js';
import { readBodyKept } from './body.js';
import { tokenByAccessor } from '../acl/queries.js';
import type { ApiDeps } from './context.js';
import { registerFleetRoutes } from './routes/fleet.js';
import { registerEdgeAclRoutes } from './routes/edge-acl.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerKvRoutes } from './routes/kv.js';
import { registerOperatorRoutes } from './routes/operator.js';
import { registerSecretsRoutes } from './routes/secrets.js';
import { registerPreparedQueryRoutes } from './routes/prepared-query.js';
import { registerPrometheusRoutes } from './routes/prometheus.js';
import { registerSessionRoutes } from './routes/session.js';
import { registerSnapshotRoutes } from './routes/snapshot.js';
import { registerStatusRoutes } from './routes/status.js';
import { registerSyncRoutes } from './routes/sync.js';
import { registerTxnRoutes } from './routes/txn.js';
import { registerWatchRoutes } from './routes/watch.js';
import { LATENCY_BUCKETS, MetricChildren, NO_METRICS } from '../ports/metrics.js';
import { identityOf, resolvedIdentity } from './authz.js';
import { PermissionDeniedError } from '../errors.js';
import { setRequestSpan } from './request-span.js';

/** Methods counted under their own name in the HTTP metrics; any other is counted as OTHER. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']);

/** Request ids taken from a client's X-Request-Id: short, and nothing a log line could be confused by. */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A new request id: 16 hex digits from the rng. */
function newRequestId(deps: ServerApiDeps): string {
  let id = '';
  for (let i = 0; i < 4; i++)
    id += Math.floor(deps.rng.next() * 0x10000)
      .toString(16)
      .padStart(4, '0');
  return id;
}

/**
 * Times every request (konsul_http_request_duration_seconds by method, route template and status
 * class — never the raw path, which holds keys), counts those in flight, and writes the sampled
 * access lines (deps.accessLog): request id (the client's X-Request-Id when it is a plain token,
 * else a new one, echoed in the answer), method, route template, status, duration, bytes when the
 * runtime knows them, and the token's AccessorID — never the path, the token or a secret. With a
 * tracer, each request is a server span that continues the client's `traceparent`; every answer's
 * status also goes to deps.answered (the insights' error rate).
 */
function registerRequestObservers(app: Hono, deps: ServerApiDeps): void {
  const metrics = deps.metrics ?? NO_METRICS;
  const duration = metrics.histogram(
    'konsul_http_request_duration_seconds',
    'HTTP API requests by method, route template and status class (blocking queries include their wait)',
    LATENCY_BUCKETS,
    ['method', 'route', 'status'],
  );
  // Methods × route templates × status classes: a few thousand series at most.
  const series = new MetricChildren((labels) => duration.labels(labels));
  let inFlight = 0;
  metrics.gauge('konsul_http_requests_in_flight', 'HTTP API requests being answered', [], () => inFlight);
  const access = deps.accessLog && deps.accessLog.sample > 0 ? deps.accessLog : undefined;
  const tracer = deps.tracer?.enabled ? deps.tracer : undefined;
  app.use('*', async (c, next) => {
    const elapsed = metrics.stopwatch();
    const logged = access !== undefined && deps.rng.next() < access.sample;
    let requestId: string | undefined;
    if (logged) {
      const asked = c.req.header('x-request-id');
      requestId = asked !== undefined && REQUEST_ID.test(asked) ? asked : newRequestId(deps);
      deps.responseHeader?.(c.req.raw, 'X-Request-Id', requestId);
    }
    inFlight++;
    const method = KNOWN_METHODS.has(c.req.method) ? c.req.method : 'OTHER';
    const route = routeOf(c.req.raw)?.facts.path ?? 'unmatched';
    // The request's span continues the client's trace context; spans opened while it is answered
    // (forwarding to the leader, the Raft commit) are its children.
    const span = tracer?.startSpan(`${c.req.method} ${route}`, 'server', {
      ...(c.req.header('traceparent') ? { parent: c.req.header('traceparent') as string } : {}),
      attributes: { 'http.request.method': c.req.method, 'konsul.node': deps.node.name },
    });
    if (span) setRequestSpan(c.req.raw, span);
    try {
      await (span && tracer ? tracer.within(span, next) : next());
    } finally {
      inFlight--;
      const status = `${Math.floor(c.res.status / 100)}xx`;
      const seconds = elapsed();
      deps.answered?.(c.res.status);
      if (span) {
        span.setAttribute('http.route', route);
        span.setAttribute('http.response.status_code', c.res.status);
        if (c.res.status >= 500) span.fail(`answered ${c.res.status}`);
        span.end();
      }
      series.get(`${method} ${route} ${status}`, () => ({ method, route, status })).observe(seconds);
      if (access && logged)
        access.logger.info('http request', {
          request_id: requestId,
          method,
          route,
          status: c.res.status,
          ms: Math.round(seconds * 100_000) / 100,
          bytes: deps.responseBytes?.(c.res),
          accessor: resolvedIdentity(c.req.raw)?.token?.AccessorID,
        });
    }
  });
}

/** Largest ACL token body looked at to tell a Local token's write (1 MiB; the handlers' own limits apply after). */
const MAX_ACL_BODY_BYTES = 1024 * 1024;

/** ACL objects whose writes the primary datacenter makes. */
const PRIMARY_ACL_WRITE = /^\/v1\/acl\/(bootstrap|policy|role|token|auth-method|binding-rule)(\/|$)/;

/**
 * Whether `req` writes ACL data that the primary datacenter holds: policies, roles, auth methods,
 * binding rules, the bootstrap, and tokens but Local ones (a create or update saying `Local: true`,
 * or an update or delete of a token that is Local here), as Consul forwards them.
 */
async function isPrimaryAclWrite(deps: ApiDeps, req: Request): Promise<boolean> {
  const path = new URL(req.url).pathname;
  if (req.method === 'GET' || req.method === 'HEAD' || !PRIMARY_ACL_WRITE.test(path)) return false;
  if (!path.startsWith('/v1/acl/token')) return true;
  const accessor = /^\/v1\/acl\/token\/([^/]+)$/.exec(path)?.[1];
  if (accessor !== undefined && deps.store.read((tx) => tokenByAccessor(tx, decodeURIComponent(accessor)))?.Local)
    return false;
  if (req.method !== 'PUT') return true;
  // Kept: the handler (a Local token's write, made here) or the forwarding reads the same bytes.
  const bytes = await readBodyKept(req, MAX_ACL_BODY_BYTES, deps.bodyReader);
  let body: { Local?: unknown } | undefined;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes)) as { Local?: unknown };
  } catch {
    body = undefined;
  }
  return body?.Local !== true;
}

/**
 * A request a server answers from its own state (a watch or sync stream, an ACL read) whose
 * token this server does not know may carry one just made through the leader that this server
 * has not applied yet: it first catches up to the leader's read point (a ReadIndex round), so the
 * token is checked against state at least as new as when the request arrived. Known tokens, and
 * ACLs off, cost nothing.
 */
async function awaitUnknownToken(deps: ServerApiDeps, req: Request): Promise<void> {
  if (!deps.acl.settings.enabled) return;
  try {
    identityOf(deps, req);
  } catch (err) {
    if (!(err instanceof PermissionDeniedError)) throw err;
    // Without a leader there is nothing newer to wait for: the guard then answers as it would.
    await deps.cluster.barrier().catch(() => undefined);
  }
}

/**
 * Builds the HTTP API as a Hono app over Web Request/Response (no sockets): Consul's /v1
 * endpoints wired to the injected dependencies. Every error becomes a plain-text answer with the
 * status from http-errors.ts; internal faults are logged (without request bodies or tokens).
 */
export function createApi(deps: ServerApiDeps): Hono {
  const app = new Hono();
  const metrics = deps.metrics ?? NO_METRICS;
  const forwarded = metrics.counter(
    'konsul_http_forwarded_requests_total',
    'HTTP API requests this server handed to the leader and answered with its answer',
  );
  const refused = metrics.counter(
    'konsul_http_refused_total',
    'HTTP API requests answered 429 or 503, by status and reason (the error code)',
    ['status', 'reason'],
  );
  registerRequestObservers(app, deps);
  registerAudit(app, deps);
  // Consul's Go router answers a path with "//", "." or ".." segments with a redirect to the clean one.
  app.use('*', async (c, next) => redirectUncleanPath(c.req.raw) ?? (await next()));
  registerRateLimits(app, deps);
  // A request for another datacenter goes to a server of that datacenter, which answers it as its own.
  app.use('*', async (c, next) => {
    const dc = remoteDatacenter(new URL(c.req.url), deps.node.datacenter);
    if (dc === undefined) return next();
    if (!deps.federation) throw noPathToDatacenter(dc);
    return deps.federation.forward(dc, c.req.raw);
  });
  // In a secondary datacenter, ACL writes are the primary's to make (they come back replicated).
  app.use('/v1/acl/*', async (c, next) => {
    const primary = deps.aclPrimaryDatacenter;
    if (primary === undefined || primary === deps.node.datacenter || !(await isPrimaryAclWrite(deps, c.req.raw)))
      return next();
    if (!deps.federation) throw noPathToDatacenter(primary);
    return deps.federation.forward(primary, c.req.raw);
  });
  // What the route table says about the request, in one middleware: a follower hands the leader's
  // routes (answeredBy 'leader') to the leader, clients never see a redirect; where the request is
  // answered, the ACL guard the route names runs before its handler. A method the most specific
  // route does not take answers 405 before any handler of a less specific pattern can run.
  app.use('*', async (c, next) => {
    const route = routeOf(c.req.raw)?.facts;
    if (!route) rejectWrongMethod(c.req.raw);
    else {
      const answer =
        route.answeredBy === 'leader'
          ? await deps.cluster.forward(c.req.raw, route, (req) => resolveLocalDefaults(deps, req, route))
          : undefined;
      if (answer) {
        forwarded.inc();
        return answer;
      }
      if (route.answeredBy === 'local') await awaitUnknownToken(deps, c.req.raw);
      checkGuard(deps, c.req.raw, route.acl);
    }
    await next();
  });
  registerKvRoutes(app, deps);
  registerStatusRoutes(app, deps);
  registerCatalogRoutes(app, deps);
  registerHealthRoutes(app, deps);
  registerPrometheusRoutes(app, deps);
  registerAgentRoutes(app, deps);
  registerAgentServiceRoutes(app, deps);
  registerOperatorRoutes(app, deps);
  registerSecretsRoutes(app, deps, deps.secretsAdmin);
  registerSnapshotRoutes(app, deps);
  registerSessionRoutes(app, deps);
  registerPreparedQueryRoutes(app, deps);
  registerTxnRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerWatchRoutes(app, deps);
  registerSyncRoutes(app, deps);
  registerFleetRoutes(app, deps);
  registerEdgeAclRoutes(app, deps);
  registerAclRoutes(app, deps);
  app.notFound((c) => answerUnrouted(c.req.raw));
  app.onError((err, c) => {
    const answer = errorAnswer(err);
    if (answer.status === 429 || answer.status === 503)
      refused.inc({ status: String(answer.status), reason: err instanceof KonsulError ? err.code : 'other' });
    if (answer.status >= 500 && !(err instanceof KonsulError && CLIENT_CAUSED_5XX.has(err.code))) {
      deps.logger.error('request failed', {
        method: c.req.method,
        path: new URL(c.req.url).pathname,
        status: answer.status,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
    }
    return new Response(answer.body, {
      status: answer.status,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', ...answer.headers },
    });
  });
  return app;
}
