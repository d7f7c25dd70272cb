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
import { registerHealthRoutes } from './routes/health.js';
import { registerKvRoutes } from './routes/kv.js';
import { registerOperatorRoutes } from './routes/operator.js';
import { registerPreparedQueryRoutes } from './routes/prepared-query.js';
import { registerPrometheusRoutes } from './routes/prometheus.js';
import { registerSessionRoutes } from './routes/session.js';
import { registerSnapshotRoutes } from './routes/snapshot.js';
import { registerStatusRoutes } from './routes/status.js';
import { registerSyncRoutes } from './routes/sync.js';
import { registerTxnRoutes } from './routes/txn.js';
import { registerWatchRoutes } from './routes/watch.js';
import { LATENCY_BUCKETS, MetricChildren, NO_METRICS } from '../ports/metrics.js';

/** Methods counted under their own name in the HTTP metrics; any other is counted as OTHER. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']);

/**
 * Times every request (konsul_http_request_duration_seconds by method, route template and status
 * class — never the raw path, which holds keys), counts those in flight and the answers refused
 * with 429 or 503 by reason (the error's code).
 */
function registerHttpMetrics(app: Hono, deps: ServerApiDeps): void {
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
  app.use('*', async (c, next) => {
    const elapsed = metrics.stopwatch();
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
      const method = KNOWN_METHODS.has(c.req.method) ? c.req.method : 'OTHER';
      const route = routeOf(c.req.raw)?.facts.path ?? 'unmatched';
      const status = `${Math.floor(c.res.status / 100)}xx`;
      series.get(`${method} ${route} ${status}`, () => ({ method, route, status })).observe(elapsed());
    }
  });
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
  registerHttpMetrics(app, deps);
  registerAudit(app, deps);
  // Consul's Go router answers a path with "//", "." or ".." segments with a redirect to the clean one.
  app.use('*', async (c, next) => redirectUncleanPath(c.req.raw) ?? (await next()));
  registerRateLimits(app, deps);
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
  registerSnapshotRoutes(app, deps);
  registerSessionRoutes(app, deps);
  registerPreparedQueryRoutes(app, deps);
  registerTxnRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerWatchRoutes(app, deps);
  registerSyncRoutes(app, deps);
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
