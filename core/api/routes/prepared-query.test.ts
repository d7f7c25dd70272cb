import { describe, expect, it } from 'vitest';
import { failoverOrder } from './prepared-query.js';
import { createTestNode, type TestNode } from '../../../testing/harness.js';

const send = (n: TestNode, method: string, path: string, body?: unknown, token?: string) =>
  n.request(path, {
    method,
    headers: token ? { 'X-Consul-Token': token } : {},
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
const json = async <T = unknown>(r: Response | Promise<Response>) => (await (await r).json()) as T;

interface ExecuteResponse {
  Service: string;
  Nodes: Array<{ Node: { Node: string }; Service: { ID: string; Tags: string[] } }>;
  DNS: { TTL: string };
  Datacenter: string;
  Failovers: number;
}

/** Creates a query and returns its ID (the create must succeed). */
async function create(n: TestNode, query: unknown, token?: string): Promise<string> {
  const r = await send(n, 'POST', '/v1/query', query, token);
  expect(r.status, await r.clone().text()).toBe(200);
  return (await json<{ ID: string }>(r)).ID;
}

/** Registers instance `id` of `service` on `node` with one service check in `status`. */
async function register(
  n: TestNode,
  o: {
    token?: string;
    node: string;
    id: string;
    service?: string;
    tags?: string[];
    status?: string;
    nodeMeta?: Record<string, string>;
    meta?: Record<string, string>;
    checkId?: string;
  },
): Promise<void> {
  const r = await send(
    n,
    'PUT',
    '/v1/catalog/register',
    {
      Node: o.node,
      Address: `10.0.0.${o.node.length}`,
      NodeMeta: o.nodeMeta ?? {},
      Service: { ID: o.id, Service: o.service ?? 'web', Tags: o.tags ?? [], Port: 80, Meta: o.meta ?? {} },
      Checks: [{ CheckID: o.checkId ?? `${o.id}-check`, Name: 'c', ServiceID: o.id, Status: o.status ?? 'passing' }],
    },
    o.token,
  );
  expect(r.status).toBe(200);
}

const ids = (r: ExecuteResponse) => r.Nodes.map((e) => e.Service.ID).sort();
const execute = (n: TestNode, name: string, token?: string) =>
  json<ExecuteResponse>(send(n, 'GET', `/v1/query/${name}/execute`, undefined, token));

describe('prepared queries: create, read, update, delete', () => {
  it('stores a query, lists it, reads it by ID, updates and deletes it', async () => {
    const n = createTestNode();
    const id = await create(n, { Name: 'web-q', Service: { Service: 'web', Tags: ['v1'] }, DNS: { TTL: '10s' } });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const [q] = await json<Array<Record<string, unknown>>>(send(n, 'GET', `/v1/query/${id}`));
    expect(q).toMatchObject({
      ID: id,
      Name: 'web-q',
      Session: '',
      Token: '',
      Template: { Type: '', Regexp: '', RemoveEmptyTags: false },
      Service: { Service: 'web', Tags: ['v1'], OnlyPassing: false, NodeMeta: null, IgnoreCheckIDs: null },
      DNS: { TTL: '10s' },
    });
    expect(q?.['CreateIndex']).toBe(q?.['ModifyIndex']);
    const list = await send(n, 'GET', '/v1/query');
    expect(Number(list.headers.get('X-Consul-Index'))).toBeGreaterThan(0);
    expect((await json<unknown[]>(list)).length).toBe(1);

    const upd = await send(n, 'PUT', `/v1/query/${id}`, { Name: 'web-q2', Service: { Service: 'api' } });
    expect(upd.status).toBe(200);
    const [after] = await json<Array<{ Name: string; CreateIndex: number; ModifyIndex: number }>>(
      send(n, 'GET', `/v1/query/${id}`),
    );
    expect(after?.Name).toBe('web-q2');
    expect(after?.ModifyIndex).toBeGreaterThan(after?.CreateIndex ?? Infinity);
    // The old name is free again; the new one is taken.
    await create(n, { Name: 'web-q', Service: { Service: 'web' } });
    const dup = await send(n, 'POST', '/v1/query', { Name: 'WEB-Q2', Service: { Service: 'web' } });
    expect(dup.status).toBe(500);
    expect(await dup.text()).toMatch(/^name 'WEB-Q2' aliases an existing query name/);

    expect((await send(n, 'DELETE', `/v1/query/${id}`)).status).toBe(200);
    const gone = await send(n, 'GET', `/v1/query/${id}`);
    expect(gone.status).toBe(404);
    expect(await gone.text()).toMatch(/^Query not found/);
    expect((await json<unknown[]>(send(n, 'GET', '/v1/query'))).length).toBe(1);
  });

  it('answers bad input with Consul status and message', async () => {
    const n = createTestNode();
    const cases: Array<[unknown, number, RegExp]> = [
      ['{not json', 400, /^Request decode failed/],
      [{ Name: 'x', Service: { Service: 'web', Tags: 'v1' } }, 400, /^Request decode failed: .*Tags/],
      [{ Service: { Service: 'web' } }, 500, /^Invalid prepared query: Must be bound to a session/],
      [{ Name: 'x' }, 500, /^Invalid prepared query: Must provide a Service name to query/],
      [
        { Name: 'x', Service: { Service: 'web' }, DNS: { TTL: 'soon' } },
        500,
        /^Invalid prepared query: Bad DNS TTL 'soon'/,
      ],
      [
        { Name: 'x', Service: { Service: 'web' }, DNS: { TTL: '-5s' } },
        500,
        /^Invalid prepared query: DNS TTL '-5000000000', must be >=0/,
      ],
      [{ Name: 'x', Service: { Service: 'web', Failover: { NearestN: -1 } } }, 500, /Bad NearestN '-1', must be >= 0/],
      [{ Name: 'x', Service: { Service: 'web' }, Token: '<hidden>' }, 500, /Bad Token '<hidden>'/],
      [{ Name: 'x', Service: { Service: 'web', NodeMeta: { 'a b': 'c' } } }, 500, /Key contains invalid characters/],
      [
        { ID: 'abc', Name: 'x', Service: { Service: 'web' } },
        500,
        /^ID must be empty when creating a new prepared query/,
      ],
      [{ Name: 'x', Session: 'nope', Service: { Service: 'web' } }, 500, /^invalid session "nope"/],
      [
        { Name: 'x', Template: { Type: 'glob' }, Service: { Service: 'web' } },
        500,
        /^failed compiling template: Bad Template.Type 'glob'/,
      ],
      [
        { Name: 'x', Template: { Type: 'name_prefix_match', Regexp: '(' }, Service: { Service: 'web' } },
        500,
        /^failed compiling template: Bad Regexp/,
      ],
      [
        { Name: 'x', Template: { Type: 'name_prefix_match' }, Service: { Service: '${nope}' } },
        500,
        /^failed compiling template: Bad format '\$\{nope\}' in Service.Service: unknown variable/,
      ],
      [{ Name: 'x', Service: { Service: 'web', Connect: true } }, 400, /Connect is not supported/],
    ];
    for (const [body, status, message] of cases) {
      const r = await send(n, 'POST', '/v1/query', body);
      expect([r.status, await r.text()], JSON.stringify(body)).toEqual([status, expect.stringMatching(message)]);
    }
    expect(await json<unknown[]>(send(n, 'GET', '/v1/query'))).toEqual([]);
    // Unknown IDs: update and delete are Consul's 500, reads and execute 404.
    const missing = '00000000-0000-4000-8000-000000000000';
    const upd = await send(n, 'PUT', `/v1/query/${missing}`, { Name: 'x', Service: { Service: 'web' } });
    expect([upd.status, await upd.text()]).toEqual([
      500,
      expect.stringMatching(/^Cannot modify non-existent prepared query: '0000/),
    ]);
    expect((await send(n, 'DELETE', `/v1/query/${missing}`)).status).toBe(500);
    for (const path of [`/v1/query/${missing}`, '/v1/query/none/execute', '/v1/query/none/explain']) {
      const r = await send(n, 'GET', path);
      expect([r.status, await r.text()], path).toEqual([404, expect.stringMatching(/^Query not found/)]);
    }
    expect((await send(n, 'PUT', '/v1/query')).status).toBe(405);
    const limit = await send(n, 'GET', '/v1/query/none/execute?limit=abc');
    expect([limit.status, await limit.text()]).toEqual([500, expect.stringMatching(/^Bad limit: strconv.Atoi/)]);
  });

  it('refuses a create beyond the configured number of queries', async () => {
    const n = createTestNode({ limits: { preparedQueryMax: 2 } });
    await create(n, { Name: 'a', Service: { Service: 'web' } });
    await create(n, { Name: 'b', Service: { Service: 'web' } });
    const r = await send(n, 'POST', '/v1/query', { Name: 'c', Service: { Service: 'web' } });
    expect([r.status, await r.text()]).toEqual([500, expect.stringMatching(/limit of 2 prepared queries/)]);
  });

  it('refuses a second catch-all template and a name equal to another query ID', async () => {
    const n = createTestNode();
    const id = await create(n, { Template: { Type: 'name_prefix_match' }, Service: { Service: '${name.full}' } });
    const r = await send(n, 'POST', '/v1/query', {
      Template: { Type: 'name_prefix_match' },
      Service: { Service: 'x' },
    });
    expect([r.status, await r.text()]).toEqual([
      500,
      expect.stringMatching(/^a query template with an empty name already exists/),
    ]);
    const alias = await send(n, 'POST', '/v1/query', { Name: id, Service: { Service: 'x' } });
    expect([alias.status, await alias.text()]).toEqual([500, expect.stringMatching(/aliases an existing query ID/)]);
    // A template is reached by name only.
    const byId = await send(n, 'GET', `/v1/query/${id}/execute`);
    expect([byId.status, await byId.text()]).toEqual([
      500,
      expect.stringMatching(/templates can only be resolved up by name/),
    ]);
  });
});

describe('prepared queries: execute', () => {
  it('filters by health, tags (with !tag), node and service meta, and ignored checks', async () => {
    const n = createTestNode();
    await register(n, { node: 'n1', id: 'w1', tags: ['v1', 'primary'], nodeMeta: { rack: 'a' }, meta: { ver: '1' } });
    await register(n, { node: 'n2', id: 'w2', tags: ['v1', 'Canary'], nodeMeta: { rack: 'b' }, meta: { ver: '2' } });
    await register(n, { node: 'n3', id: 'w3', tags: ['v1'], status: 'warning', nodeMeta: { rack: 'a' } });
    await register(n, { node: 'n4', id: 'w4', tags: ['v1'], status: 'critical', checkId: 'flaky' });
    await register(n, { node: 'n5', id: 'other', service: 'db' });

    await create(n, { Name: 'all', Service: { Service: 'web' } });
    const all = await execute(n, 'all');
    expect(ids(all)).toEqual(['w1', 'w2', 'w3']); // critical is never answered
    expect(all).toMatchObject({ Service: 'web', DNS: { TTL: '' }, Datacenter: 'dc1', Failovers: 0 });

    await create(n, { Name: 'passing', Service: { Service: 'web', OnlyPassing: true } });
    expect(ids(await execute(n, 'passing'))).toEqual(['w1', 'w2']);
    await create(n, { Name: 'ignore', Service: { Service: 'web', IgnoreCheckIDs: ['flaky'] } });
    expect(ids(await execute(n, 'ignore'))).toEqual(['w1', 'w2', 'w3', 'w4']);
    await create(n, { Name: 'no-canary', Service: { Service: 'web', Tags: ['V1', '!canary'] } });
    expect(ids(await execute(n, 'no-canary'))).toEqual(['w1', 'w3']);
    await create(n, { Name: 'rack-a', Service: { Service: 'web', NodeMeta: { rack: 'a' } } });
    expect(ids(await execute(n, 'rack-a'))).toEqual(['w1', 'w3']);
    await create(n, { Name: 'ver2', Service: { Service: 'web', ServiceMeta: { ver: '2' } } });
    expect(ids(await execute(n, 'ver2'))).toEqual(['w2']);
    // By ID as well as by name, and names ignore case.
    const id = await create(n, { Name: 'Mixed', Service: { Service: 'db' } });
    expect(ids(await execute(n, id))).toEqual(['other']);
    expect(ids(await execute(n, 'mixed'))).toEqual(['other']);
  });

  it('applies ?limit after ordering and shows the whole health entry', async () => {
    const n = createTestNode();
    for (const node of ['n1', 'n2', 'n3']) await register(n, { node, id: `w-${node}` });
    await create(n, { Name: 'web', Service: { Service: 'web' }, DNS: { TTL: '3s' } });
    const r = await send(n, 'GET', '/v1/query/web/execute?limit=2');
    expect(r.status).toBe(200);
    expect(Number(r.headers.get('X-Consul-Index'))).toBeGreaterThan(0);
    const body = await json<ExecuteResponse & { Nodes: Array<{ Checks: unknown[] }> }>(r);
    expect(body.Nodes.length).toBe(2);
    expect(body.Nodes[0]?.Checks.length).toBe(1);
    expect(body.DNS).toEqual({ TTL: '3s' });
    expect((await execute(n, 'web')).Nodes.length).toBe(3);
    expect((await json<ExecuteResponse>(send(n, 'GET', '/v1/query/web/execute?limit=0'))).Nodes.length).toBe(3);
  });
});

describe('prepared queries: Failover', () => {
  const failoverOf = async (n: TestNode, id: string) =>
    (await json<Array<{ Service: { Failover: unknown } }>>(send(n, 'GET', `/v1/query/${id}`)))[0]?.Service.Failover;

  it('stores NearestN, Datacenters and Targets as given, through create, read, list, update and explain', async () => {
    const n = createTestNode();
    // No Failover at all: Go's zero value, lists as null.
    const plain = await create(n, { Name: 'plain', Service: { Service: 'web' } });
    expect(await failoverOf(n, plain)).toEqual({ NearestN: 0, Datacenters: null, Targets: null });
    // Datacenters are not checked: unknown ones (and this datacenter itself) are kept as given.
    const id = await create(n, {
      Name: 'geo',
      Service: { Service: 'web', Failover: { NearestN: 3, Datacenters: ['dc2', 'dc1', 'nowhere'] } },
    });
    expect(await failoverOf(n, id)).toEqual({ NearestN: 3, Datacenters: ['dc2', 'dc1', 'nowhere'], Targets: null });
    const listed = await json<Array<{ Name: string; Service: { Failover: unknown } }>>(send(n, 'GET', '/v1/query'));
    expect(listed.find((q) => q.Name === 'geo')?.Service.Failover).toEqual({
      NearestN: 3,
      Datacenters: ['dc2', 'dc1', 'nowhere'],
      Targets: null,
    });
    // Field names case-insensitive, as Consul's decoder; an update replaces Failover whole.
    const upd = await send(n, 'PUT', `/v1/query/${id}`, {
      name: 'geo',
      service: { service: 'web', failover: { targets: [{ datacenter: 'dc3' }, { Datacenter: 'dc4' }] } },
    });
    expect(upd.status).toBe(200);
    const targets = {
      NearestN: 0,
      Datacenters: null,
      Targets: [
        { Peer: '', Datacenter: 'dc3' },
        { Peer: '', Datacenter: 'dc4' },
      ],
    };
    expect(await failoverOf(n, id)).toEqual(targets);
    const explain = await json<{ Query: { Service: { Failover: unknown } } }>(send(n, 'GET', '/v1/query/geo/explain'));
    expect(explain.Query.Service.Failover).toEqual(targets);
    // Empty lists stay empty lists (not null), as Go encodes them.
    await send(n, 'PUT', `/v1/query/${id}`, {
      Name: 'geo',
      Service: { Service: 'web', Failover: { Datacenters: [], Targets: [] } },
    });
    expect(await failoverOf(n, id)).toEqual({ NearestN: 0, Datacenters: [], Targets: [] });
    await send(n, 'PUT', `/v1/query/${id}`, { Name: 'geo', Service: { Service: 'web' } });
    expect(await failoverOf(n, id)).toEqual({ NearestN: 0, Datacenters: null, Targets: null });
  });

  it('refuses what Consul refuses, and a Peer target (no peering)', async () => {
    const n = createTestNode();
    const refused: Array<[unknown, number, RegExp]> = [
      [{ NearestN: -1 }, 500, /^Invalid prepared query: Bad NearestN '-1', must be >= 0/],
      [
        { NearestN: 1, Targets: [{ Datacenter: 'dc2' }] },
        500,
        /^Invalid prepared query: Targets cannot be populated with NearestN or Datacenters/,
      ],
      [
        { Datacenters: ['dc2'], Targets: [{ Datacenter: 'dc3' }] },
        500,
        /^Invalid prepared query: Targets cannot be populated with NearestN or Datacenters/,
      ],
      [{ NearestN: 1.5 }, 400, /^Request decode failed: Service.Failover.NearestN must be an integer/],
      [{ NearestN: '2' }, 400, /^Request decode failed: Service.Failover.NearestN must be an integer/],
      [{ NearestN: 2 ** 60 }, 400, /^Request decode failed: Service.Failover.NearestN must be an integer/],
      [{ Datacenters: 'dc2' }, 400, /^Request decode failed: .*Datacenters/],
      [{ Targets: { Datacenter: 'dc2' } }, 400, /^Request decode failed: Service.Failover.Targets must be an array/],
      [{ Targets: ['dc2'] }, 400, /^Request decode failed: Service.Failover.Targets\[0\] must be a JSON object/],
      [
        { Targets: [{ Datacenter: 'dc2' }, { Peer: 'other-cluster' }] },
        400,
        /^Request decode failed: Service.Failover.Targets\[1\].Peer is not supported/,
      ],
      [{ Datacenters: Array.from({ length: 65 }, (_, i) => `dc${i}`) }, 400, /more than 64 entries/],
    ];
    for (const [failover, status, message] of refused) {
      const r = await send(n, 'POST', '/v1/query', { Name: 'f', Service: { Service: 'web', Failover: failover } });
      expect([r.status, await r.text()], JSON.stringify(failover)).toEqual([status, expect.stringMatching(message)]);
    }
    expect(await json<unknown[]>(send(n, 'GET', '/v1/query'))).toEqual([]);
    // An update is held to the same rules, and a refused one leaves the query as it was.
    const id = await create(n, { Name: 'f', Service: { Service: 'web', Failover: { NearestN: 2 } } });
    const bad = await send(n, 'PUT', `/v1/query/${id}`, {
      Name: 'f',
      Service: { Service: 'web', Failover: { NearestN: 2, Targets: [{ Datacenter: 'dc2' }] } },
    });
    expect([bad.status, await bad.text()]).toEqual([500, expect.stringMatching(/Targets cannot be populated/)]);
    expect(await failoverOf(n, id)).toEqual({ NearestN: 2, Datacenters: null, Targets: null });
  });

  it('execute answers from this datacenter only, with Failovers 0, however the query may fail over', async () => {
    const n = createTestNode();
    await register(n, { node: 'n1', id: 'w1' });
    await register(n, { node: 'n2', id: 'down', service: 'api', status: 'critical' });
    const failovers = [
      { NearestN: 5 },
      { Datacenters: ['dc2', 'dc3'] },
      { NearestN: 2, Datacenters: ['dc1', 'dc2'] },
      { Targets: [{ Datacenter: 'dc2' }] },
    ];
    for (const [i, failover] of failovers.entries()) {
      await create(n, { Name: `web-${i}`, Service: { Service: 'web', Failover: failover } });
      await create(n, { Name: `api-${i}`, Service: { Service: 'api', Failover: failover } });
      // Healthy here: answered here.
      const web = await execute(n, `web-${i}`);
      expect([ids(web), web.Datacenter, web.Failovers]).toEqual([['w1'], 'dc1', 0]);
      // Nothing healthy here: Consul would try other datacenters; none is known, so none is tried.
      const api = await execute(n, `api-${i}`);
      expect(api).toMatchObject({ Service: 'api', Nodes: [], Datacenter: 'dc1', Failovers: 0 });
    }
  });
});

describe('prepared queries: templates', () => {
  it('the longest prefix wins, "" catches every name, and names interpolate', async () => {
    const n = createTestNode();
    await register(n, { node: 'n1', id: 'geo-db-1', service: 'geo-db' });
    await register(n, { node: 'n2', id: 'geo-db-eu', service: 'geo-db', tags: ['eu'] });
    await register(n, { node: 'n3', id: 'cache', service: 'cache' });
    await create(n, { Template: { Type: 'name_prefix_match' }, Service: { Service: '${name.full}' } });
    await create(n, {
      Name: 'geo-',
      Template: { Type: 'name_prefix_match' },
      Service: { Service: 'wrong-${name.suffix}' },
    });
    await create(n, {
      Name: 'geo-db-',
      Template: { Type: 'name_prefix_match', Regexp: '^(geo-db)-' },
      Service: { Service: '${match(1)}', Tags: ['${name.suffix}'], Near: '${name.prefix}' },
      DNS: { TTL: '7s' },
    });
    // "cache" reaches only the catch-all, which looks up the full name.
    expect(ids(await execute(n, 'cache'))).toEqual(['cache']);
    // "geo-db-eu" reaches "geo-db-" (longer than "geo-"): prefix "geo-db-", suffix "eu" as the tag.
    const eu = await execute(n, 'geo-db-eu');
    expect(ids(eu)).toEqual(['geo-db-eu']);
    expect(eu.Service).toBe('geo-db');
    expect(eu.DNS.TTL).toBe('7s');
    const explain = await json<{ Query: { Name: string; Service: Record<string, unknown> } }>(
      send(n, 'GET', '/v1/query/geo-db-eu/explain'),
    );
    expect(explain.Query).toMatchObject({
      Name: 'geo-db-',
      Service: { Service: 'geo-db', Tags: ['eu'], Near: 'geo-db-' },
    });
    // "geo-x" reaches "geo-" and renders its suffix.
    const x = await json<{ Query: { Service: { Service: string } } }>(send(n, 'GET', '/v1/query/geo-x/explain'));
    expect(x.Query.Service.Service).toBe('wrong-x');
  });

  it('renders match(N) from the template Regexp, and removes empty tags when asked', async () => {
    const n = createTestNode();
    await register(n, { node: 'n1', id: 'redis-1', service: 'redis', tags: ['primary'] });
    await register(n, { node: 'n2', id: 'redis-2', service: 'redis', tags: ['replica'] });
    await create(n, {
      Name: 'redis-',
      Template: { Type: 'name_prefix_match', Regexp: '^redis-(.+?)(?:-(.*))?$', RemoveEmptyTags: true },
      Service: { Service: 'redis', Tags: ['${match(1)}', '${match(2)}', '$${literal}'] },
    });
    const explain = await json<{ Query: { Service: { Tags: string[] } } }>(
      send(n, 'GET', '/v1/query/redis-primary/explain'),
    );
    // match(2) did not take part and renders '' (removed); $${ is a literal ${.
    expect(explain.Query.Service.Tags).toEqual(['primary', '${literal}']);
    await send(n, 'PUT', `/v1/query/${(await json<Array<{ ID: string }>>(send(n, 'GET', '/v1/query')))[0]?.ID}`, {
      Name: 'redis-',
      Template: { Type: 'name_prefix_match', Regexp: '^redis-(.+)$' },
      Service: { Service: 'redis', Tags: ['${match(1)}'] },
    });
    expect(ids(await execute(n, 'redis-replica'))).toEqual(['redis-2']);
    expect(ids(await execute(n, 'redis-primary'))).toEqual(['redis-1']);
  });
});

describe('prepared queries: explain', () => {
  it("shows a template rendered for the name asked, every other field as stored (Consul's Render)", async () => {
    const n = createTestNode();
    const id = await create(n, {
      Name: 'geo-db-',
      Template: { Type: 'name_prefix_match', Regexp: '^geo-db-(.*)$' },
      Service: {
        Service: 'db-${match(1)}',
        Failover: { Datacenters: ['${match(1)}-backup'] },
        IgnoreCheckIDs: ['${name.suffix}-flaky'],
        Near: '${name.full}',
        Tags: ['${name.prefix}', 'seg-${agent.segment}'],
        NodeMeta: { zone: '${match(1)}' },
        ServiceMeta: { asked: '${name.full}' },
      },
      DNS: { TTL: '5s' },
    });
    const [storedQuery] = await json<Array<Record<string, unknown>>>(send(n, 'GET', `/v1/query/${id}`));
    const explain = await send(n, 'GET', '/v1/query/geo-db-eu/explain');
    expect(explain.status).toBe(200);
    expect(Number(explain.headers.get('X-Consul-Index'))).toBeGreaterThan(0);
    const { Query } = await json<{ Query: Record<string, unknown> }>(explain);
    // Everything but Service is the stored template: ID, its Name (the prefix), Template, DNS, indexes.
    expect({ ...Query, Service: undefined }).toEqual({ ...storedQuery, Service: undefined });
    expect(Query['Service']).toEqual({
      ...(storedQuery?.['Service'] as object),
      Service: 'db-eu',
      Failover: { NearestN: 0, Datacenters: ['eu-backup'], Targets: null },
      IgnoreCheckIDs: ['eu-flaky'],
      Near: 'geo-db-eu',
      Tags: ['geo-db-', 'seg-'],
      NodeMeta: { zone: 'eu' },
      ServiceMeta: { asked: 'geo-db-eu' },
    });
    // The lookup ignores case, but the suffix is Go's strings.TrimPrefix: case-sensitive.
    const upper = await json<{ Query: { Service: { Service: string; IgnoreCheckIDs: string[] } } }>(
      send(n, 'GET', '/v1/query/GEO-DB-EU/explain'),
    );
    expect(upper.Query.Service.IgnoreCheckIDs).toEqual(['GEO-DB-EU-flaky']);
    expect(upper.Query.Service.Service).toBe('db-'); // the Regexp is case-sensitive too
    // A query that is not a template is shown as stored, by ID or by name.
    const plainId = await create(n, { Name: 'plain', Service: { Service: 'web', Tags: ['${name.full}'] } });
    const [plain] = await json<unknown[]>(send(n, 'GET', `/v1/query/${plainId}`));
    expect((await json<{ Query: unknown }>(send(n, 'GET', '/v1/query/plain/explain'))).Query).toEqual(plain);
    expect((await json<{ Query: unknown }>(send(n, 'GET', `/v1/query/${plainId}/explain`))).Query).toEqual(plain);
  });
});

describe('prepared queries: ACLs', () => {
  async function setup() {
    const n = createTestNode({ acl: { enabled: true, defaultPolicy: 'deny' } });
    const boot = await json<{ SecretID: string }>(send(n, 'PUT', '/v1/acl/bootstrap'));
    const mgmt = boot.SecretID;
    const token = async (rules: string) => {
      const name = `p${Math.abs(rules.length * 7919 + rules.charCodeAt(0))}`;
      const p = await send(n, 'PUT', '/v1/acl/policy', { Name: name, Rules: rules }, mgmt);
      expect(p.status).toBe(200);
      const t = await send(n, 'PUT', '/v1/acl/token', { Policies: [{ Name: name }] }, mgmt);
      return (await json<{ SecretID: string }>(t)).SecretID;
    };
    return { n, mgmt, token };
  }

  it('writes need query:write on the name; reads show what query:read allows, tokens hidden', async () => {
    const { n, mgmt, token } = await setup();
    const writer = await token('query_prefix "team-" { policy = "write" }');
    const reader = await token('query "team-a" { policy = "read" }');
    const outsider = await token('query_prefix "other-" { policy = "write" }');

    const denied = await send(n, 'POST', '/v1/query', { Name: 'team-a', Service: { Service: 'web' } }, outsider);
    expect([denied.status, await denied.text()]).toEqual([403, expect.stringMatching(/^Permission denied/)]);
    const id = await create(n, { Name: 'team-a', Service: { Service: 'web' }, Token: 's3cret' }, writer);
    await create(n, { Name: 'team-b', Service: { Service: 'web' } }, writer);

    // Update and delete check the stored name too: the outsider may not rename team-a into its prefix.
    const steal = await send(n, 'PUT', `/v1/query/${id}`, { Name: 'other-x', Service: { Service: 'web' } }, outsider);
    expect(steal.status).toBe(403);
    expect((await send(n, 'DELETE', `/v1/query/${id}`, undefined, outsider)).status).toBe(403);

    const seen = await json<Array<{ Name: string; Token: string }>>(send(n, 'GET', '/v1/query', undefined, reader));
    expect(seen.map((q) => [q.Name, q.Token])).toEqual([['team-a', '<hidden>']]);
    const all = await json<Array<{ Name: string; Token: string }>>(send(n, 'GET', '/v1/query', undefined, mgmt));
    expect(all.map((q) => q.Name).sort()).toEqual(['team-a', 'team-b']);
    expect(all.find((q) => q.Name === 'team-a')?.Token).toBe('s3cret');
    expect((await send(n, 'GET', `/v1/query/${id}`, undefined, outsider)).status).toBe(403);
    expect((await send(n, 'GET', '/v1/query/team-a/explain', undefined, outsider)).status).toBe(403);
    expect((await send(n, 'GET', '/v1/query/team-a/explain', undefined, reader)).status).toBe(200);
    // The reader may not send its view back: the redacted token is refused.
    const back = await send(
      n,
      'PUT',
      `/v1/query/${id}`,
      { Name: 'team-a', Service: { Service: 'web' }, Token: '<hidden>' },
      writer,
    );
    expect([back.status, await back.text()]).toEqual([500, expect.stringMatching(/redacted token/)]);
  });

  it('execute filters instances by the query token, else the request token', async () => {
    const { n, mgmt, token } = await setup();
    await register(n, { node: 'n1', id: 'w1', token: mgmt });
    const web = await token('service "web" { policy = "read" }\nnode_prefix "" { policy = "read" }');
    const none = await token('query_prefix "" { policy = "write" }');
    await create(n, { Name: 'plain', Service: { Service: 'web' } }, mgmt);
    await create(n, { Name: 'tokened', Service: { Service: 'web' }, Token: web }, mgmt);
    expect(ids(await execute(n, 'plain', web))).toEqual(['w1']);
    expect(ids(await execute(n, 'plain', none))).toEqual([]);
    // The query's own token decides, whoever executes it.
    expect(ids(await execute(n, 'tokened', none))).toEqual(['w1']);
  });
});

describe('prepared queries: snapshots', () => {
  it('a snapshot holds the queries and their name and template indexes', async () => {
    const n = createTestNode();
    await register(n, { node: 'n1', id: 'w1' });
    const id = await create(n, { Name: 'web', Service: { Service: 'web' } });
    await create(n, { Name: 'tpl-', Template: { Type: 'name_prefix_match' }, Service: { Service: '${name.suffix}' } });
    const saved = new Uint8Array(await (await send(n, 'GET', '/v1/snapshot')).arrayBuffer());
    expect((await send(n, 'DELETE', `/v1/query/${id}`)).status).toBe(200);
    expect((await send(n, 'GET', '/v1/query/web/execute')).status).toBe(404);
    expect((await n.request('/v1/snapshot', { method: 'PUT', body: saved })).status).toBe(200);
    expect(ids(await execute(n, 'web'))).toEqual(['w1']);
    const viaTemplate = await json<{ Query: { Service: { Service: string } } }>(
      send(n, 'GET', '/v1/query/tpl-w1/explain'),
    );
    expect(viaTemplate.Query.Service.Service).toBe('w1');
    const dup = await send(n, 'POST', '/v1/query', { Name: 'web', Service: { Service: 'web' } });
    expect(dup.status).toBe(500);
  });
});

describe('prepared queries: failover order', () => {
  it('takes the NearestN nearest, then Datacenters and Targets as given, each known one once, never this one', () => {
    const known = ['dc1', 'dc3', 'dc2', 'dc4'];
    const f = (o: {
      NearestN?: number;
      Datacenters?: string[];
      Targets?: Array<{ Peer: string; Datacenter: string }>;
    }) =>
      failoverOrder(
        { NearestN: o.NearestN ?? 0, Datacenters: o.Datacenters ?? null, Targets: o.Targets ?? null },
        known,
        'dc1',
      );
    expect(f({ NearestN: 2 })).toEqual(['dc3', 'dc2']);
    expect(f({ NearestN: 9 })).toEqual(['dc3', 'dc2', 'dc4']);
    expect(f({ Datacenters: ['dc4', 'dc9', 'dc1', 'dc2', 'dc4'] })).toEqual(['dc4', 'dc2']);
    expect(f({ NearestN: 1, Datacenters: ['dc3', 'dc4'] })).toEqual(['dc3', 'dc4']);
    expect(f({ Targets: [{ Peer: '', Datacenter: 'dc2' }] })).toEqual(['dc2']);
    expect(f({})).toEqual([]);
  });
});
