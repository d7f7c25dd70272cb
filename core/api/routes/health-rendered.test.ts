import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../testing/harness.js';

const register = (n: TestNode, id: string, status: string, tags: string[] = []) =>
  n.request('/v1/catalog/register', {
    method: 'PUT',
    body: JSON.stringify({
      Node: `node-${id}`,
      Address: '10.0.0.1',
      Service: { ID: id, Service: 'web', Port: 80, Tags: tags },
      Check: { CheckID: `c-${id}`, ServiceID: id, Status: status },
    }),
  });
// `near` keeps the stable order (by node, then ID); without it every answer is shuffled.
const ids = async (n: TestNode, query = '') =>
  (
    (await (await n.request(`/v1/health/service/web?near=_agent${query}`)).json()) as Array<{
      Service: { ID: string };
    }>
  ).map((e) => e.Service.ID);

describe('health answers rendered once per change of the service', () => {
  it('follow every change, per set of parameters, and equal the answer built without the kept texts', async () => {
    const n = createTestNode();
    await register(n, 'a', 'passing', ['v1']);
    await register(n, 'b', 'critical');
    expect(await ids(n)).toEqual(['a', 'b']);
    expect(await ids(n, '&passing')).toEqual(['a']);
    expect(await ids(n, '&tag=v1')).toEqual(['a']);
    const kept = await (await n.request('/v1/health/service/web?near=_agent')).text();
    // A filter expression takes the path that renders every time: the same JSON.
    const built = await (
      await n.request('/v1/health/service/web?near=_agent&filter=Service.Port%20%3D%3D%2080')
    ).text();
    expect(kept).toBe(built);
    await register(n, 'b', 'passing');
    expect(await ids(n, '&passing')).toEqual(['a', 'b']);
    await register(n, 'c', 'passing');
    expect(await ids(n)).toEqual(['a', 'b', 'c']);
  });

  it('are ordered anew for every answer', async () => {
    const n = createTestNode();
    for (const id of ['a', 'b', 'c', 'd']) await register(n, id, 'passing');
    const orders = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const list = (await (await n.request('/v1/health/service/web')).json()) as Array<{ Service: { ID: string } }>;
      expect(list.map((e) => e.Service.ID).sort()).toEqual(['a', 'b', 'c', 'd']);
      orders.add(list.map((e) => e.Service.ID).join());
    }
    // 24 orders are possible; the harness's seeded rng makes this exact, not flaky.
    expect(orders.size).toBeGreaterThan(5);
  });
});
