import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createTestNode } from '../../testing/harness.js';
import { registeredRoutes, route } from './registry.js';
import { findRoute, methodsAt, ROUTES, routeOf } from './route-table.js';
import { LogHub } from '../log/hub.js';
import { registerAgentLogRoutes } from './routes/agent-logs.js';
import { registerAgentMetricsRoute } from './routes/agent-metrics.js';
import { registerInsightsRoute } from './routes/insights.js';
import {
  registerAclReplicateRoute,
  registerAclReplicationStatusRoute,
  registerFaultsRoute,
  registerInternalDnsRoute,
  registerInternalProposeRoute,
  registerWanPingRoute,
} from './routes/internal.js';
import { registerChaosRoutes } from './routes/chaos.js';
import { registerRemoteQueryRoute } from './routes/prepared-query.js';

/** The API a server serves: createApi plus the server-only routes its composition root adds. */
function serverApp(): Hono {
  const { app, deps } = createTestNode();
  registerInternalProposeRoute(
    app,
    { proposeForPeer: async () => new Uint8Array() },
    {
      joinToken: undefined,
      aclEnabled: false,
    },
  );
  registerAgentMetricsRoute(app, {
    prometheus: async () => ({ body: '', contentType: 'text/plain' }),
    json: async () => ({}),
  });
  registerFaultsRoute(app, { block: () => undefined });
  const internal = { joinToken: undefined, aclEnabled: false };
  registerWanPingRoute(app, { answer: () => ({}) }, internal);
  registerInternalDnsRoute(app, () => ({ rcode: 'NXDOMAIN', answers: [], additionals: [], authorities: [] }), internal);
  registerRemoteQueryRoute(app, deps, internal);
  registerAclReplicateRoute(app, () => ({}), internal);
  registerAclReplicationStatusRoute(app, () => ({}));
  registerInsightsRoute(app, { gather: () => Promise.resolve([]), local: () => [] });
  registerChaosRoutes(app, deps, undefined);
  registerAgentLogRoutes(
    app,
    deps,
    new LogHub({ level: 'info', format: 'text', clock: { now: () => 0 }, write: () => undefined }),
  );
  return app;
}

describe('the route table', () => {
  it('lists exactly the routes a server registers, each method and pattern once', () => {
    const listed = ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...registeredRoutes(serverApp())].sort()).toEqual([...listed].sort());
  });

  it('refuses to register a route it does not list', () => {
    const app = new Hono();
    expect(() => route(app, 'GET', '/v1/kv/other/:x', (c) => c.text('x'))).toThrow(/not in the route table/);
    expect(() => route(app, 'POST', '/v1/txn', (c) => c.text('x'))).toThrow(/POST \/v1\/txn/);
    expect(() => route(app, 'ALL', '/v1/nowhere', (c) => c.text('x'))).toThrow(/not in the route table/);
  });

  it('finds routes as Hono does: literal segments before parameters, HEAD as GET, raw parameters', () => {
    expect(findRoute('GET', '/v1/acl/token/self')?.facts.path).toBe('/v1/acl/token/self');
    expect(findRoute('GET', '/v1/acl/token/abc')?.params).toEqual({ id: 'abc' });
    expect(findRoute('HEAD', '/v1/kv/a/b%2Fc')?.params).toEqual({ '*': 'a/b%2Fc' });
    expect(findRoute('GET', '/v1/kv/')?.params).toEqual({ '*': '' });
    expect(findRoute('POST', '/v1/kv/a')).toBeUndefined();
    expect(findRoute('GET', '/v1/catalog/service/web/extra')).toBeUndefined();
    expect(findRoute('GET', '/v1/nowhere')).toBeUndefined();
    // The longest literal part wins across methods: GET here is no service "deregister/x".
    expect(findRoute('GET', '/v1/agent/service/deregister/x')).toBeUndefined();
    expect(methodsAt('/v1/agent/service/deregister/x')).toEqual(['PUT']);
    expect(findRoute('GET', '/v1/agent/service/pg/pg1')?.params).toEqual({ '*': 'pg/pg1' });
    expect(methodsAt('/v1/kv/a')).toEqual(['GET', 'PUT', 'DELETE']);
    expect(methodsAt('/v1/nowhere')).toEqual([]);
    expect(findRoute('GET', '/ui/')).toBeUndefined();
    // A request is looked up by its path as sent, without query or fragment.
    expect(routeOf(new Request('http://127.0.0.1:8500/v1/kv/a%2Fb?recurse&index=3'))?.params).toEqual({ '*': 'a%2Fb' });
    expect(routeOf(new Request('http://h/v1/status/leader#x'))?.facts.path).toBe('/v1/status/leader');
    expect(routeOf(new Request('http://h/v1/kv/x', { method: 'PUT' }))?.facts.queueable).toBe(true);
  });

  it('sends to the leader exactly what followers forwarded before the table (writes and non-stale reads)', () => {
    const before = [
      '/v1/kv/',
      '/v1/snapshot',
      '/v1/operator/',
      '/v1/catalog/',
      '/v1/health/',
      '/v1/session/',
      '/v1/txn',
      // Prepared queries: added with the table, answered by the leader as the catalog they read.
      '/v1/query',
      // The fleet table: read and forgotten at the leader, like the catalog.
      '/v1/edge/agents',
      // ACL replication runs on a secondary datacenter's leader: its status is the leader's.
      '/v1/acl/replication',
    ];
    // Added with the table: each server's own observations, answered where the request arrives.
    const ownView = new Set([
      'GET /v1/operator/raft/leader-history',
      // Chaos experiments run on the server that receives the request (or the one it names).
      'PUT /v1/operator/chaos',
      'GET /v1/operator/chaos',
      'DELETE /v1/operator/chaos/:id',
      // Each server lists, installs and removes the keys of its own key file.
      'GET /v1/operator/secrets/keyring',
      'POST /v1/operator/secrets/keyring',
      'DELETE /v1/operator/secrets/keyring',
      // Announcements are taken by the server they reach, which batches them into the table.
      'PUT /v1/edge/agents/:id',
    ]);
    for (const r of ROUTES) {
      const leader = before.some((p) => r.path.startsWith(p)) && !ownView.has(`${r.method} ${r.path}`);
      expect(`${r.method} ${r.path} ${r.answeredBy}`).toBe(`${r.method} ${r.path} ${leader ? 'leader' : 'local'}`);
    }
    expect(ROUTES.filter((r) => r.movesLeader).map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/operator/raft/transfer-leader',
      'PUT /v1/operator/raft/transfer-leader',
    ]);
  });

  it('serves on an edge agent the reads it served before the table; queues only KV writes and transactions', () => {
    const local = (r: (typeof ROUTES)[number]): boolean => r.edge !== 'upstream';
    for (const r of ROUTES) {
      const before =
        r.method === 'GET' &&
        ['/v1/kv/', '/v1/catalog/', '/v1/health/', '/v1/status/'].some((p) => r.path.startsWith(p));
      expect(`${r.method} ${r.path} ${local(r)}`).toBe(`${r.method} ${r.path} ${before}`);
    }
    const scoped = ROUTES.filter((r) => r.edge === 'service-in-scope').map((r) => r.path);
    expect(scoped).toEqual(['/v1/catalog/service/:name', '/v1/health/service/:name', '/v1/health/checks/:service']);
    expect(ROUTES.filter((r) => r.edge === 'key-in-scope').map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /v1/kv/*',
    ]);
    expect(ROUTES.filter((r) => r.queueable).map((r) => `${r.method} ${r.path}`)).toEqual([
      'PUT /v1/kv/*',
      'DELETE /v1/kv/*',
      'PUT /v1/txn',
    ]);
  });

  it('guards before the handler exactly the families guarded before the table', () => {
    const guarded = ROUTES.filter((r) => r.acl.guard !== undefined).map(
      (r) => `${r.method} ${r.path} ${r.acl.resource}`,
    );
    expect(guarded.sort()).toEqual(
      [
        'GET /v1/snapshot acl',
        'PUT /v1/snapshot acl',
        'GET /v1/agent/self agent',
        'GET /v1/agent/metrics agent',
        // The log routes came with the table: agent:read to watch, agent:write to change the level.
        'GET /v1/agent/monitor agent',
        'GET /v1/agent/log-level agent',
        'PUT /v1/agent/log-level agent',
        'PUT /v1/agent/join/:addr agent',
        'PUT /v1/agent/leave agent',
        // Each server's own insights, which the leader's /v1/operator/insights gathers.
        'GET /v1/internal/insights operator',
        ...ROUTES.filter((r) => r.path.startsWith('/v1/operator/')).map((r) => `${r.method} ${r.path} operator`),
      ].sort(),
    );
  });
});
