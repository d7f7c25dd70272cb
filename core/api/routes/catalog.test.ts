import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../testing/harness.js';

const settle = () => new Promise((r) => setTimeout(r, 0));
const put = (n: TestNode, path: string, body: unknown) =>
  n.request(path, { method: 'PUT', body: JSON.stringify(body) });
const json = async <T = unknown>(r: Response | Promise<Response>) => (await (await r).json()) as T;

async function seed(n: TestNode) {
  for (const [node, addr, meta] of [
    ['n1', '10.0.0.1', { rack: 'a' }],
    ['n2', '10.0.0.2', { rack: 'b' }],
  ] as const) {
    await put(n, '/v1/catalog/register', {
      Node: node,
      Address: addr,
      NodeMeta: meta,
      Service: {
        ID: `web-${node}`,
        Service: 'web',
        Tags: node === 'n1' ? ['primary', 'v1'] : ['v1'],
        Port: 8080,
        Meta: { env: 'prod' },
        Weights: { Passing: 3, Warning: 1 },
      },
      Checks: [
        { CheckID: 'serfHealth', Name: 'Serf Health', Status: 'passing' },
        {
          CheckID: `web-${node}-http`,
          Name: 'web http',
          ServiceID: `web-${node}`,
          Status: node === 'n1' ? 'passing' : 'critical',
          Output: 'HTTP 500',
        },
      ],
    });
  }
}

describe('catalog API', () => {
  it('registers nodes, services and checks, and lists them in Consul shape', async () => {
    const n = createTestNode();
    await seed(n);
    expect(await json(n.request('/v1/catalog/datacenters'))).toEqual(['dc1']);
    const nodes = await json<Array<{ Node: string; Address: string; Meta: object }>>(n.request('/v1/catalog/nodes'));
    expect(nodes.map((x) => [x.Node, x.Address])).toEqual([
      ['n1', '10.0.0.1'],
      ['n2', '10.0.0.2'],
    ]);
    expect(await json(n.request('/v1/catalog/services'))).toEqual({ web: ['primary', 'v1'] });
    const web = await json<Array<Record<string, unknown>>>(n.request('/v1/catalog/service/web'));
    expect(web).toHaveLength(2);
    expect(web[0]).toMatchObject({
      Node: 'n1',
      Address: '10.0.0.1',
      ServiceID: 'web-n1',
      ServiceName: 'web',
      ServicePort: 8080,
      ServiceTags: ['primary', 'v1'],
      ServiceWeights: { Passing: 3, Warning: 1 },
      NodeMeta: { rack: 'a' },
    });
    expect(await json(n.request('/v1/catalog/service/web?tag=primary'))).toHaveLength(1);
    expect(await json(n.request('/v1/catalog/service/web?node-meta=rack:b'))).toHaveLength(1);
    expect(
      await json(
        n.request(
          '/v1/catalog/service/web?filter=' +
            encodeURIComponent('ServiceTags contains "primary" and ServiceMeta.env == prod'),
        ),
      ),
    ).toHaveLength(1);
    const node = await json<{ Node: { Node: string }; Services: Record<string, unknown> }>(
      n.request('/v1/catalog/node/n1'),
    );
    expect(Object.keys(node.Services)).toEqual(['web-n1']);
    const ns = await json<{ Services: unknown[] }>(n.request('/v1/catalog/node-services/n2'));
    expect(ns.Services).toHaveLength(1);
    // As Consul (the Go client expects a nil node, not an error): 200 with null.
    const unknown = await n.request('/v1/catalog/node/nope');
    expect(unknown.status).toBe(200);
    expect(Number(unknown.headers.get('X-Consul-Index'))).toBeGreaterThan(0);
    expect(await unknown.json()).toBeNull();
    const unknownList = await n.request('/v1/catalog/node-services/nope');
    expect(unknownList.status).toBe(200);
    expect(await unknownList.json()).toEqual({ Node: null, Services: null });
  });

  it('deregisters a check, a service, and a whole node', async () => {
    const n = createTestNode();
    await seed(n);
    await put(n, '/v1/catalog/deregister', { Node: 'n2', CheckID: 'web-n2-http' });
    expect(await json<unknown[]>(n.request('/v1/health/node/n2'))).toHaveLength(1);
    await put(n, '/v1/catalog/deregister', { Node: 'n2', ServiceID: 'web-n2' });
    expect(await json(n.request('/v1/catalog/service/web'))).toHaveLength(1);
    await put(n, '/v1/catalog/deregister', { Node: 'n1' });
    expect(await json(n.request('/v1/catalog/service/web'))).toEqual([]);
    expect(await json<Array<{ Node: string }>>(n.request('/v1/catalog/nodes'))).toHaveLength(1);
  });

  it("refuses undecodable registrations with 400, and what Consul's servers refuse with 500", async () => {
    const n = createTestNode();
    const cases: Array<[unknown, RegExp]> = [
      [{ Node: 'bad/name', Address: '1' }, /Invalid Node/],
      [{ Node: 'x', Address: '1', Service: { Service: 'a', Port: 'http' } }, /Service.Port/],
      [{ Node: 'x', Address: '1', Check: { CheckID: 'c', Status: 'sick' } }, /Status/],
      ['not an object', /JSON object/],
    ];
    for (const [body, msg] of cases) {
      const r = await put(n, '/v1/catalog/register', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(await r.text()).toMatch(msg);
    }
    // Catalog.Register's own checks and the state store's: RPC errors, which Consul answers with 500.
    const refused: Array<[string, unknown, RegExp]> = [
      ['register', { Address: '1.2.3.4' }, /^Must provide node$/],
      ['register', { Node: 'x' }, /^Must provide address if SkipNodeUpdate is not set$/],
      [
        'register',
        { Node: 'x', Address: '1', Check: { CheckID: 'c', ServiceID: 'nope' } },
        /^Missing service registration/,
      ],
      ['register', { Node: 'x', Address: '1', Datacenter: 'dc9' }, /^No path to datacenter "dc9"$/],
      ['deregister', { CheckID: 'c' }, /^Must provide node$/],
    ];
    for (const [what, body, msg] of refused) {
      const r = await put(n, `/v1/catalog/${what}`, body);
      expect(r.status, JSON.stringify(body)).toBe(500);
      expect((await r.text()).trimEnd()).toMatch(msg);
    }
    expect(await json(n.request('/v1/catalog/nodes'))).toEqual([]);
    const garbage = await n.request('/v1/catalog/register', { method: 'PUT', body: '{nope' });
    expect(garbage.status).toBe(400);
    expect((await n.request('/v1/catalog/service/web?filter=' + encodeURIComponent('Service ==='))).status).toBe(400);
  });

  it('health: passing filter, tags, states, and node checks', async () => {
    const n = createTestNode();
    await seed(n);
    const all = await json<Array<{ Node: { Node: string }; Checks: Array<{ CheckID: string }> }>>(
      n.request('/v1/health/service/web'),
    );
    expect(all.map((e) => e.Node.Node)).toEqual(['n1', 'n2']);
    expect(all[0]?.Checks.map((c) => c.CheckID).sort()).toEqual(['serfHealth', 'web-n1-http']);
    expect((await json<unknown[]>(n.request('/v1/health/service/web?passing'))).length).toBe(1);
    expect((await json<unknown[]>(n.request('/v1/health/service/web?tag=v1&passing=true'))).length).toBe(1);
    expect(await json<Array<{ CheckID: string }>>(n.request('/v1/health/state/critical'))).toMatchObject([
      { CheckID: 'web-n2-http', Output: 'HTTP 500' },
    ]);
    expect((await json<unknown[]>(n.request('/v1/health/state/any'))).length).toBe(4);
    expect((await n.request('/v1/health/state/sick')).status).toBe(400);
    expect((await json<unknown[]>(n.request('/v1/health/checks/web'))).length).toBe(2);
    expect((await json<unknown[]>(n.request('/v1/health/node/n1'))).length).toBe(2);
  });

  it('blocking queries on a service wake when one of its checks changes', async () => {
    const n = createTestNode();
    await seed(n);
    const first = await n.request('/v1/health/service/web?passing');
    const index = first.headers.get('X-Consul-Index');
    let done = false;
    const pending = n.request(`/v1/health/service/web?passing&index=${index}`).then((r) => ((done = true), r));
    await settle();
    await put(n, '/v1/catalog/register', { Node: 'other', Address: '1', Service: { Service: 'db' } });
    await settle();
    expect(done).toBe(false);
    await put(n, '/v1/catalog/register', {
      Node: 'n2',
      Address: '10.0.0.2',
      SkipNodeUpdate: true,
      Check: { CheckID: 'web-n2-http', ServiceID: 'web-n2', Status: 'passing' },
    });
    const res = await pending;
    expect(Number(res.headers.get('X-Consul-Index'))).toBeGreaterThan(Number(index));
    expect(await json<unknown[]>(res)).toHaveLength(2);
  });

  it('an identical re-registration changes no index', async () => {
    const n = createTestNode();
    await seed(n);
    const before = (await n.request('/v1/catalog/service/web')).headers.get('X-Consul-Index');
    await seed(n);
    expect((await n.request('/v1/catalog/service/web')).headers.get('X-Consul-Index')).toBe(before);
  });
});
