import { describe, expect, it } from 'vitest';
import { SseReader } from '../../testing/sse.js';
import { byCaller, type Caller, everywhere, makeCallers, type RouteCase, walkRoutes } from '../../testing/acl-walk.js';
import { createTestNode } from '../../testing/harness.js';
import { parseReport } from '../fleet/input.js';

/** A node with ACLs on (default deny), its management secret, and one token per caller kind. */
async function setup(): Promise<{
  node: ReturnType<typeof createTestNode>;
  mgmt: string;
  tokens: Record<Caller, string | undefined>;
}> {
  const node = createTestNode({ acl: { enabled: true, defaultPolicy: 'deny' } });
  const { mgmt, tokens } = await makeCallers(
    (path, init) => node.request(path, init),
    (p) => `${everywhere(p)}\noperator = "${p}"`,
  );
  return { node, mgmt, tokens };
}

const R = byCaller;

/** Every route covered so far, with what each caller gets. Reads that filter answer 404 when nothing is left. */
const ROUTES: readonly RouteCase[] = [
  { method: 'GET', path: '/v1/kv/app/a', expect: R(403, 200, 200, 403) },
  { method: 'GET', path: '/v1/kv/app/?recurse', expect: R(404, 200, 200, 404) },
  { method: 'GET', path: '/v1/kv/app/?keys', expect: R(404, 200, 200, 404) },
  { method: 'PUT', path: '/v1/kv/app/b', body: 'v', expect: R(403, 403, 200, 403) },
  { method: 'DELETE', path: '/v1/kv/app/b', expect: R(403, 403, 200, 403) },
  { method: 'DELETE', path: '/v1/kv/tmp/?recurse', expect: R(403, 403, 200, 403) },
  { method: 'GET', path: '/v1/catalog/datacenters', expect: R(200, 200, 200, 200) },
  { method: 'GET', path: '/v1/catalog/nodes', expect: R(200, 200, 200, 200), count: R(0, 1, 1, 0) },
  { method: 'GET', path: '/v1/catalog/services', expect: R(200, 200, 200, 200), count: R(0, 1, 1, 0) },
  { method: 'GET', path: '/v1/catalog/service/web', expect: R(200, 200, 200, 200), count: R(0, 1, 1, 0) },
  // A node the token may not read answers like an unknown one: 200 with null (as Consul).
  { method: 'GET', path: '/v1/catalog/node/n1', expect: R(200, 200, 200, 200) },
  { method: 'GET', path: '/v1/catalog/node-services/n1', expect: R(200, 200, 200, 200) },
  { method: 'GET', path: '/v1/health/service/web', expect: R(200, 200, 200, 200), count: R(0, 1, 1, 0) },
  { method: 'GET', path: '/v1/health/checks/web', expect: R(200, 200, 200, 200), count: R(0, 1, 1, 0) },
  { method: 'GET', path: '/v1/health/node/n1', expect: R(200, 200, 200, 200), count: R(0, 2, 2, 0) },
  { method: 'GET', path: '/v1/health/state/any', expect: R(200, 200, 200, 200), count: R(0, 2, 2, 0) },
  { method: 'PUT', path: '/v1/event/fire/deploy', expect: R(403, 403, 200, 403) },
  { method: 'GET', path: '/v1/event/list', expect: R(200, 200, 200, 200), count: R(0, 2, 2, 0) },
  { method: 'PUT', path: '/v1/session/create', body: '{"Node":"n1"}', expect: R(403, 403, 200, 403) },
  { method: 'GET', path: '/v1/session/list', expect: R(200, 200, 200, 200), count: R(0, 2, 2, 0) },
  { method: 'GET', path: '/v1/session/node/n1', expect: R(200, 200, 200, 200), count: R(0, 2, 2, 0) },
  { method: 'GET', path: '/v1/snapshot', expect: R(403, 403, 403, 403) },
  // The test node is alone: a permitted caller gets its (empty) answer, the others 403.
  { method: 'GET', path: '/v1/operator/raft/configuration', expect: R(403, 200, 200, 403) },
  { method: 'PUT', path: '/v1/operator/autopilot/configuration', body: '{}', expect: R(403, 403, 200, 403) },
  { method: 'GET', path: '/v1/status/leader', expect: R(200, 200, 200, 200) },
  { method: 'GET', path: '/v1/agent/self', expect: R(403, 200, 200, 403) },
  {
    method: 'PUT',
    path: '/v1/catalog/register',
    body: '{"Node":"n2","Address":"10.0.0.2"}',
    expect: R(403, 403, 200, 403),
  },
  { method: 'PUT', path: '/v1/catalog/deregister', body: '{"Node":"n2"}', expect: R(403, 403, 200, 403) },
  // As Consul: a transaction's gets are filtered (200), the operations it may not do are its errors (409).
  { method: 'PUT', path: '/v1/txn', body: '[{"KV":{"Verb":"get","Key":"app/a"}}]', expect: R(200, 200, 200, 200) },
  {
    method: 'PUT',
    path: '/v1/txn',
    body: '[{"KV":{"Verb":"set","Key":"app/t","Value":"eA=="}}]',
    expect: R(409, 409, 200, 409),
  },
  { method: 'PUT', path: '/v1/txn', body: '[{"KV":{"Verb":"get-tree","Key":"app/"}}]', expect: R(200, 200, 200, 200) },
  {
    method: 'PUT',
    path: '/v1/txn',
    body: '[{"Node":{"Verb":"get","Node":{"Node":"n1"}}}]',
    expect: R(200, 200, 200, 200),
  },
  { method: 'GET', path: '/v1/prometheus/sd', expect: R(200, 200, 200, 200), count: R(0, 1, 1, 0) },
  { method: 'GET', path: '/v1/edge/sync?prefix=app/&service=web', expect: R(403, 200, 200, 403), stream: true },
  { method: 'GET', path: '/v1/watch/health/web', expect: R(403, 200, 200, 403), stream: true },
  { method: 'GET', path: '/v1/watch/kv/app/', expect: R(200, 200, 200, 200), stream: true },
  // ACL endpoints: none of these tokens has acl rules; token/self answers any valid token.
  { method: 'GET', path: '/v1/acl/policies', expect: R(403, 403, 403, 403) },
  { method: 'GET', path: '/v1/acl/tokens', expect: R(403, 403, 403, 403) },
  { method: 'GET', path: '/v1/acl/roles', expect: R(403, 403, 403, 403) },
  { method: 'GET', path: '/v1/acl/auth-methods', expect: R(403, 403, 403, 403) },
  { method: 'GET', path: '/v1/acl/binding-rules', expect: R(403, 403, 403, 403) },
  { method: 'PUT', path: '/v1/acl/policy', body: '{"Name":"x"}', expect: R(403, 403, 403, 403) },
  { method: 'PUT', path: '/v1/acl/token', body: '{}', expect: R(403, 403, 403, 403) },
  { method: 'GET', path: '/v1/acl/token/self', expect: R(200, 200, 200, 200) },
  { method: 'PUT', path: '/v1/acl/bootstrap', expect: R(403, 403, 403, 403) },
  { method: 'POST', path: '/v1/acl/login', body: '{}', expect: R(400, 400, 400, 400) },
  { method: 'POST', path: '/v1/acl/logout', expect: R(403, 403, 403, 403) },
  { method: 'GET', path: '/v1/acl/policy/name/global-management', expect: R(403, 403, 403, 403) },
  { method: 'GET', path: '/v1/status/peers', expect: R(200, 200, 200, 200) },
  // Every token may ask what it may do (the answers are checked in routes/acl-authorize.test.ts).
  {
    method: 'POST',
    path: '/v1/internal/acl/authorize',
    body: '[{"Resource":"key","Segment":"app/a","Access":"read"}]',
    expect: R(200, 200, 200, 200),
    count: R(1, 1, 1, 1),
  },
  { method: 'PUT', path: '/v1/snapshot', body: 'x', expect: R(403, 403, 403, 403) },
  // A permitted caller reaches the operator, which has no peer n9 and no voter to transfer to
  // (refused as Consul's servers do: 500).
  { method: 'DELETE', path: '/v1/operator/raft/peer?id=n9', expect: R(403, 403, 500, 403) },
  { method: 'POST', path: '/v1/operator/raft/transfer-leader', expect: R(403, 403, 500, 403) },
  { method: 'GET', path: '/v1/operator/autopilot/health', expect: R(403, 200, 200, 403) },
  { method: 'GET', path: '/v1/operator/raft/leader-history', expect: R(403, 200, 200, 403) },
  // Unknown session ids answer as in Consul whoever asks (the check needs the session's node):
  // info an empty list, renew 404.
  { method: 'GET', path: '/v1/session/info/00000000-0000-4000-8000-000000000000', expect: R(200, 200, 200, 200) },
  // The fleet: announcing needs node:write on the agent's name, reading node:read (lists filter).
  { method: 'PUT', path: '/v1/edge/agents/pi-1', body: '{"Runtime":"bun"}', expect: R(403, 403, 200, 403) },
  { method: 'GET', path: '/v1/edge/agents', expect: R(200, 200, 200, 200), count: R(0, 1, 1, 0) },
  { method: 'GET', path: '/v1/edge/agents/pi-0', expect: R(403, 200, 200, 403) },
  { method: 'GET', path: '/v1/watch/edge/agents', expect: R(200, 200, 200, 200), stream: true },
  { method: 'DELETE', path: '/v1/edge/agents/pi-9', expect: R(403, 403, 404, 403) },
  // ACL data for agents needs acl:read, which no caller has; a grant needs an agent token too.
  { method: 'GET', path: `/v1/edge/acl?salt=${'0'.repeat(32)}`, expect: R(403, 403, 403, 403) },
  { method: 'PUT', path: '/v1/edge/grant?agent=pi-1', expect: R(403, 403, 403, 403) },
  { method: 'PUT', path: '/v1/session/renew/00000000-0000-4000-8000-000000000000', expect: R(404, 404, 404, 404) },
];

describe('ACL enforcement, route by route', () => {
  it('walks every covered route with no token, a read-only, a write and a deny token', async () => {
    const { node, mgmt, tokens } = await setup();
    const h = { 'X-Consul-Token': mgmt };
    await node.request('/v1/kv/app/a', { method: 'PUT', body: 'seed', headers: h });
    const reg = await node.request('/v1/catalog/register', {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({
        Node: 'n1',
        Address: '10.0.0.1',
        Service: { ID: 'web1', Service: 'web', Port: 80 },
        Checks: [
          { CheckID: 'serfHealth', Name: 'Serf', Status: 'passing' },
          { CheckID: 'web-up', Name: 'up', Status: 'passing', ServiceID: 'web1' },
        ],
      }),
    });
    expect(reg.status).toBe(200);
    expect((await node.request('/v1/event/fire/seed', { method: 'PUT', headers: h })).status).toBe(200);
    expect(
      (await node.request('/v1/session/create', { method: 'PUT', headers: h, body: '{"Node":"n1"}' })).status,
    ).toBe(200);
    expect((await node.request('/v1/snapshot', { headers: h })).status).toBe(200);
    await node.deps.writer.submit({
      type: 'fleet.seen',
      now: 1,
      server: 'test',
      reports: [{ ...parseReport({ Runtime: 'node' }, 'pi-0', 'http'), ServerIndex: 1 }],
    });
    const failures = await walkRoutes((path, init) => node.request(path, init), tokens, ROUTES);
    expect(failures).toEqual([]);
    // A node the token may not read shows nothing of it: null, as for an unknown node.
    const hidden = { 'X-Consul-Token': tokens.deny as string };
    expect(await (await node.request('/v1/catalog/node/n1', { headers: hidden })).json()).toBeNull();
    expect(await (await node.request('/v1/catalog/node-services/n1', { headers: hidden })).json()).toEqual({
      Node: null,
      Services: null,
    });
    const shown = (await (await node.request('/v1/catalog/node/n1', { headers: h })).json()) as { Node: unknown };
    expect(shown.Node).toMatchObject({ Node: 'n1' });
  });

  it('KV listings show exactly what the token may read', async () => {
    const { node, mgmt } = await setup();
    const h = { 'X-Consul-Token': mgmt };
    for (const k of ['app/a', 'app/secret', 'app/sub/b', 'other/x'])
      await node.request(`/v1/kv/${k}`, { method: 'PUT', body: k, headers: h });
    await node.request('/v1/acl/policy', {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({
        Name: 'app',
        Rules: 'key_prefix "app/" { policy = "write" }\nkey "app/secret" { policy = "deny" }',
      }),
    });
    const secret = (
      (await (
        await node.request('/v1/acl/token', {
          method: 'PUT',
          headers: h,
          body: JSON.stringify({ Policies: [{ Name: 'app' }] }),
        })
      ).json()) as { SecretID: string }
    ).SecretID;
    const as = { 'X-Consul-Token': secret };
    const recurse = await node.request('/v1/kv/?recurse', { headers: as });
    expect(recurse.headers.get('x-consul-results-filtered-by-acls')).toBe('true');
    expect(((await recurse.json()) as Array<{ Key: string }>).map((e) => e.Key)).toEqual(['app/a', 'app/sub/b']);
    expect(await (await node.request('/v1/kv/?keys&separator=/', { headers: as })).json()).toEqual(['app/']);
    expect(await (await node.request('/v1/kv/app/?keys', { headers: as })).json()).toEqual(['app/a', 'app/sub/b']);
    expect((await node.request('/v1/kv/app/secret', { headers: as })).status).toBe(403);
    // A recursive delete over a key the token may not write is refused as a whole.
    expect((await node.request('/v1/kv/app/?recurse', { method: 'DELETE', headers: as })).status).toBe(403);
    expect((await node.request('/v1/kv/app/sub/?recurse', { method: 'DELETE', headers: as })).status).toBe(200);
    expect((await node.request('/v1/kv/app/secret?raw', { headers: h })).status).toBe(200);
  });

  const title =
    'watch streams skip what the token may not read; a transaction with one forbidden operation applies nothing';
  it(title, async () => {
    const { node, mgmt } = await setup();
    const h = { 'X-Consul-Token': mgmt };
    await node.request('/v1/acl/policy', {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({
        Name: 'app',
        Rules: 'key_prefix "app/" { policy = "write" }\nkey "app/secret" { policy = "deny" }',
      }),
    });
    const secret = (
      (await (
        await node.request('/v1/acl/token', {
          method: 'PUT',
          headers: h,
          body: JSON.stringify({ Policies: [{ Name: 'app' }] }),
        })
      ).json()) as { SecretID: string }
    ).SecretID;
    const res = await node.request('/v1/watch/kv/app/', { headers: { 'X-Consul-Token': secret } });
    expect(res.status).toBe(200);
    const stream = new SseReader(res);
    for (const k of ['app/one', 'app/secret', 'app/two'])
      await node.request(`/v1/kv/${k}`, { method: 'PUT', body: 'x', headers: h });
    const events = await stream.take(2);
    expect(events.map((e) => (JSON.parse(e.data) as { Key: string }).Key)).toEqual(['app/one', 'app/two']);
    expect(await stream.next(200)).toBeUndefined();
    await stream.close();

    const txn = await node.request('/v1/txn', {
      method: 'PUT',
      headers: { 'X-Consul-Token': secret },
      body: JSON.stringify([
        { KV: { Verb: 'set', Key: 'app/ok', Value: 'eA==' } },
        { KV: { Verb: 'set', Key: 'app/secret', Value: 'eA==' } },
      ]),
    });
    // Consul's Txn.preCheck: the refused operation is the transaction's error, nothing is applied.
    expect(txn.status).toBe(409);
    const refused = (await txn.json()) as { Results: null; Errors: Array<{ OpIndex: number; What: string }> };
    expect(refused.Results).toBeNull();
    expect(refused.Errors).toHaveLength(1);
    expect(refused.Errors[0]?.OpIndex).toBe(1);
    expect(refused.Errors[0]?.What).toMatch(/^Permission denied: .*key:write.*app\/secret/);
    expect((await node.request('/v1/kv/app/ok', { headers: h })).status).toBe(404);
    // What a transaction's gets return is filtered to what the token may read.
    await node.request('/v1/kv/app/secret', { method: 'PUT', body: 'x', headers: h });
    const read = await node.request('/v1/txn', {
      method: 'PUT',
      headers: { 'X-Consul-Token': secret },
      body: JSON.stringify([{ KV: { Verb: 'get-tree', Key: 'app/' } }, { KV: { Verb: 'get', Key: 'app/secret' } }]),
    });
    expect(read.status).toBe(200);
    const keys = ((await read.json()) as { Results: Array<{ KV: { Key: string } }> }).Results.map((r) => r.KV.Key);
    expect(keys).toEqual(['app/one', 'app/two']);
  });
});
