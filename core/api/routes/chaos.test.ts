import { describe, expect, it } from 'vitest';
import { byCaller, makeCallers, type RouteCase, walkRoutes } from '../../../testing/acl-walk.js';
import { createTestNode } from '../../../testing/harness.js';
import { ChaosController } from '../../chaos/controller.js';
import { DROP, LinkFaults } from '../../chaos/link-faults.js';
import { CHAOS_LIMITS } from '../../chaos/types.js';
import { BadRequestError, ConflictError } from '../../errors.js';
import { silentLogger } from '../../ports/logger.js';
import { seededRng } from '../../../testing/seeded-rng.js';
import type { AuditEvent } from '../audit-sink.js';
import type { AclSettings } from '../../acl/resolve.js';
import {
  CHAOS_DISABLED_MESSAGE,
  type ChaosPort,
  chaosAuditEvent,
  type RelayedChaosRequest,
  registerChaosRoutes,
} from './chaos.js';

/** A test node ("test", peers n2 and n3) with the chaos API on a real controller and fake effects. */
function chaosNode(o: { acl?: AclSettings; leader?: boolean; maxActive?: number } = {}) {
  const audit: AuditEvent[] = [];
  const node = createTestNode({ audit: { record: (e) => audit.push(e) }, ...(o.acl ? { acl: o.acl } : {}) });
  const links = new LinkFaults(seededRng(1));
  const paused: boolean[] = [];
  const relayed: Array<{ server: string; r: RelayedChaosRequest }> = [];
  const controller = new ChaosController({
    self: 'test',
    clock: node.clock,
    rng: seededRng(2),
    logger: silentLogger,
    limits: { ...CHAOS_LIMITS, maxActive: o.maxActive ?? CHAOS_LIMITS.maxActive },
    onEvent: (e) => audit.push(chaosAuditEvent(e, seededRng(3))),
    effects: {
      peers: () => ['n2', 'n3'],
      links,
      pauseApply: (p) => paused.push(p),
      stepDown: async () => {
        if (!o.leader) throw new ConflictError('step-down: test is not the leader (the leader is n2)');
        return 'n2';
      },
    },
  });
  const port: ChaosPort = {
    start: (spec, by) => controller.start(spec, by),
    list: () => controller.list(),
    stopOne: (id, by) => controller.stopOne(id, by),
    relay: async (server, r) => {
      if (server !== 'n2')
        throw new BadRequestError(`Server: no server named ${JSON.stringify(server)} in this cluster`);
      relayed.push({ server, r });
      return new Response('[]', { status: 200, headers: { 'Content-Type': 'application/json' } });
    },
  };
  registerChaosRoutes(node.app, node.deps, port);
  return { node, audit, links, paused, relayed, controller };
}

const put = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'PUT',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  headers,
});

describe('the chaos API (in process)', () => {
  it('answers 403 on a server without --enable-chaos, and 404 where it is not registered', async () => {
    expect((await createTestNode().request('/v1/operator/chaos')).status).toBe(404);
    const node = createTestNode();
    registerChaosRoutes(node.app, node.deps, undefined);
    for (const [path, init] of [
      ['/v1/operator/chaos', put({ Kind: 'pause-apply', DurationSeconds: 5 })],
      ['/v1/operator/chaos', {}],
      ['/v1/operator/chaos/abc', { method: 'DELETE' }],
    ] as const) {
      const res = await node.request(path, init);
      expect([res.status, await res.text()]).toEqual([403, `${CHAOS_DISABLED_MESSAGE}\n`]);
    }
  });

  it('starts, lists and ends experiments, rolls back after DurationSeconds, audits each start and end', async () => {
    const { node, audit, links } = chaosNode();
    const started = await node.request(
      '/v1/operator/chaos',
      put(
        { Kind: 'latency', DelayMs: 200, JitterMs: 20, Peers: ['n2'], DurationSeconds: 30 },
        { 'x-test-client': '10.9.9.9' },
      ),
    );
    expect(started.status).toBe(200);
    const x = (await started.json()) as Record<string, unknown>;
    expect(x).toEqual({
      ID: expect.stringMatching(/^[0-9a-f-]{36}$/),
      Kind: 'latency',
      Server: 'test',
      Peers: ['n2'],
      DelayMs: 200,
      JitterMs: 20,
      Started: new Date(node.clock.now()).toISOString(),
      Ends: new Date(node.clock.now() + 30_000).toISOString(),
    });
    expect(links.outbound('n2')).toBeGreaterThanOrEqual(180);
    const part = (await (
      await node.request('/v1/operator/chaos', put({ Kind: 'partition', Peers: ['n3'], DurationSeconds: 60 }))
    ).json()) as { ID: string };
    expect(links.outbound('n3')).toBe(DROP);
    const listed = (await (await node.request('/v1/operator/chaos')).json()) as Array<{ ID: string }>;
    expect(listed.map((l) => l.ID)).toEqual([x['ID'], part.ID]);
    // The latency ends by itself, the partition on request.
    node.clock.advance(30_000);
    expect(((await (await node.request('/v1/operator/chaos')).json()) as unknown[]).length).toBe(1);
    expect(links.outbound('n2')).toBe(0);
    const stopped = await node.request(`/v1/operator/chaos/${part.ID}`, { method: 'DELETE' });
    expect([stopped.status, ((await stopped.json()) as { ID: string }).ID]).toEqual([200, part.ID]);
    expect(links.size).toBe(0);
    const again = await node.request(`/v1/operator/chaos/${part.ID}`, { method: 'DELETE' });
    expect([again.status, await again.text()]).toEqual([404, `No chaos experiment "${part.ID}" runs on test\n`]);
    expect(await (await node.request('/v1/operator/chaos')).json()).toEqual([]);

    const rows = audit.map((e) => [e.method, e.path, e.chaos?.action ?? '', e.chaos?.reason ?? '', e.status]);
    expect(rows).toEqual([
      ['CHAOS', `/v1/operator/chaos/${x['ID']}`, 'start', '', 200],
      ['PUT', '/v1/operator/chaos', '', '', 200],
      ['CHAOS', `/v1/operator/chaos/${part.ID}`, 'start', '', 200],
      ['PUT', '/v1/operator/chaos', '', '', 200],
      ['CHAOS', `/v1/operator/chaos/${x['ID']}`, 'end', 'expired', 200],
      ['CHAOS', `/v1/operator/chaos/${part.ID}`, 'end', 'stopped', 200],
      ['DELETE', `/v1/operator/chaos/${part.ID}`, '', '', 200],
      ['DELETE', `/v1/operator/chaos/${part.ID}`, '', '', 404],
    ]);
    expect(audit[0]).toMatchObject({ source: '10.9.9.9', kind: 'write', chaos: { Kind: 'latency', DelayMs: 200 } });
    expect(audit[4]?.source).toBe('');
  });

  it('refuses bad requests with 400 naming the field, a step-down off the leader 409, one too many 429', async () => {
    const { node } = chaosNode({ maxActive: 2 });
    const refusal = async (init: RequestInit) => {
      const res = await node.request('/v1/operator/chaos', init);
      return [res.status, (await res.text()).trim()];
    };
    expect(await refusal(put('{nope'))).toEqual([400, 'Request body is not valid JSON']);
    expect(await refusal(put({ Kind: 'latency', DurationSeconds: 5 }))).toEqual([
      400,
      'DelayMs is required for latency',
    ]);
    expect(await refusal(put({ Kind: 'loss', LossPercent: 0, DurationSeconds: 5 }))).toEqual([
      400,
      'LossPercent must be an integer from 1 to 100 (percent), not 0',
    ]);
    expect(await refusal(put({ Kind: 'partition', Peers: ['n7'], DurationSeconds: 5 }))).toEqual([
      400,
      'Peers: n7 is not a server of the Raft configuration (peers of test: n2, n3)',
    ]);
    expect(await refusal(put({ Kind: 'step-down' }))).toEqual([
      409,
      'step-down: test is not the leader (the leader is n2)',
    ]);
    expect(await refusal(put('x'.repeat(CHAOS_LIMITS.maxBodyBytes + 1)))).toEqual([
      413,
      expect.stringMatching(/too large/),
    ]);
    expect((await node.request('/v1/operator/chaos?server=bad%20name')).status).toBe(400);
    expect((await node.request('/v1/operator/chaos?dc=dc9')).status).toBe(500);
    for (let i = 0; i < 2; i++)
      expect((await node.request('/v1/operator/chaos', put({ Kind: 'pause-apply', DurationSeconds: 60 }))).status).toBe(
        200,
      );
    const full = await node.request('/v1/operator/chaos', put({ Kind: 'pause-apply', DurationSeconds: 60 }));
    expect([full.status, full.headers.get('retry-after'), full.headers.get('x-konsul-error-code')]).toEqual([
      429,
      '60',
      'limit_reached',
    ]);
  });

  it('steps down a leader at once and answers with the new leader', async () => {
    const { node, audit } = chaosNode({ leader: true });
    const res = await node.request('/v1/operator/chaos', put({ Kind: 'step-down' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ Kind: 'step-down', Server: 'test', Leader: 'n2' });
    expect(await (await node.request('/v1/operator/chaos')).json()).toEqual([]);
    expect(audit.filter((e) => e.method === 'CHAOS').map((e) => e.chaos?.action)).toEqual(['start', 'end']);
  });

  it('relays a request naming another server with the caller token, once; 400 for an unknown server', async () => {
    const { node, relayed, controller } = chaosNode();
    const body = JSON.stringify({ Kind: 'pause-apply', Server: 'n2', DurationSeconds: 5 });
    const res = await node.request('/v1/operator/chaos?token=t0', {
      method: 'PUT',
      body,
      headers: { 'X-Consul-Token': 'secret-1', 'x-test-client': '10.2.2.2', 'x-ignored': 'x' },
    });
    expect(res.status).toBe(200);
    expect(controller.list()).toEqual([]);
    expect(relayed).toHaveLength(1);
    const r = relayed[0]!.r;
    expect([r.method, r.path, new TextDecoder().decode(r.body)]).toEqual(['PUT', '/v1/operator/chaos?token=t0', body]);
    expect(r.headers).toEqual({
      'x-consul-token': 'secret-1',
      'content-type': 'text/plain;charset=UTF-8',
      'x-konsul-forwarded': 'test',
      'x-konsul-client-address': '10.2.2.2',
    });
    expect((await node.request('/v1/operator/chaos?server=n2')).status).toBe(200);
    expect((await node.request('/v1/operator/chaos/abc?server=n2', { method: 'DELETE' })).status).toBe(200);
    expect(relayed.map((x) => `${x.r.method} ${x.r.path}`)).toEqual([
      'PUT /v1/operator/chaos?token=t0',
      'GET /v1/operator/chaos?server=n2',
      'DELETE /v1/operator/chaos/abc?server=n2',
    ]);
    // This server's own name is no relay.
    expect((await node.request('/v1/operator/chaos?server=test')).status).toBe(200);
    const unknown = await node.request('/v1/operator/chaos?server=n9');
    expect([unknown.status, await unknown.text()]).toEqual([400, 'Server: no server named "n9" in this cluster\n']);
    // A relayed request that names yet another server is not relayed again.
    const loop = await node.request('/v1/operator/chaos?server=n2', { headers: { 'x-konsul-forwarded': 'n3' } });
    expect([loop.status, await loop.text()]).toEqual([
      400,
      'Server n2: n3 relayed this request to test, which does not relay it again\n',
    ]);
    expect(relayed).toHaveLength(3);
  });

  it('needs operator:read to list and operator:write to start and stop', async () => {
    const { node } = chaosNode({ acl: { enabled: true, defaultPolicy: 'deny' } });
    const { tokens } = await makeCallers(
      (path, init) => node.request(path, init),
      (p) => `operator = "${p}"`,
    );
    const R = byCaller;
    const routes: RouteCase[] = [
      { method: 'GET', path: '/v1/operator/chaos', expect: R(403, 200, 200, 403), count: R(0, 0, 0, 0) },
      {
        method: 'PUT',
        path: '/v1/operator/chaos',
        body: JSON.stringify({ Kind: 'partition', Peers: ['n2'], DurationSeconds: 60 }),
        expect: R(403, 403, 200, 403),
      },
      { method: 'GET', path: '/v1/operator/chaos', expect: R(403, 200, 200, 403), count: R(0, 1, 1, 0) },
      // Past the ACL check the unknown ID is a 404.
      { method: 'DELETE', path: '/v1/operator/chaos/nope', expect: R(403, 403, 404, 403) },
    ];
    expect(await walkRoutes((path, init) => node.request(path, init), tokens, routes)).toEqual([]);
    const denied = await node.request(
      '/v1/operator/chaos',
      put({ Kind: 'step-down' }, { 'X-Consul-Token': tokens.read as string }),
    );
    expect(await denied.text()).toMatch(/^Permission denied: token .*lacks permission 'operator:write'/);
  });
});
