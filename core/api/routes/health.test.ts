import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../testing/harness.js';

// Load balancing of /v1/health/service answers (issue 16). The harness gives the API a seeded
// rng, so these runs replay exactly; the bounds are many standard deviations wide all the same.

interface Entry {
  Node: { Node: string };
  Service: { ID: string };
}

async function register(n: TestNode, body: object): Promise<void> {
  const res = await n.request('/v1/catalog/register', { method: 'PUT', body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** Registers web on node `node` with Weights and one check in `status`. */
async function instance(
  n: TestNode,
  node: string,
  status: 'passing' | 'warning' | 'critical',
  passing: number,
  warning = 1,
): Promise<void> {
  await register(n, {
    Node: node,
    Address: '10.0.0.1',
    Service: { ID: `web-${node}`, Service: 'web', Port: 80, Weights: { Passing: passing, Warning: warning } },
    Check: { CheckID: `check-${node}`, ServiceID: `web-${node}`, Status: status },
  });
}

async function nodes(n: TestNode, query = ''): Promise<string[]> {
  const res = await n.request(`/v1/health/service/web${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as Entry[]).map((e) => e.Node.Node);
}

describe('GET /v1/health/service/:name order', () => {
  it('is a weighted random shuffle by Weights, critical instances last', async () => {
    const n = createTestNode();
    await instance(n, 'a-light', 'passing', 1);
    await instance(n, 'b-heavy', 'passing', 3);
    await instance(n, 'c-warn', 'warning', 50, 4);
    await instance(n, 'd-down', 'critical', 100, 100);
    const runs = 1500;
    const first = new Map<string, number>();
    for (let i = 0; i < runs; i++) {
      const order = await nodes(n);
      expect(order).toHaveLength(4);
      expect(order[3]).toBe('d-down');
      first.set(order[0] as string, (first.get(order[0] as string) ?? 0) + 1);
    }
    // Weights 1, 3 and 4 of 8; one standard deviation is under 0.013.
    expect(Math.abs((first.get('a-light') ?? 0) / runs - 1 / 8)).toBeLessThan(0.06);
    expect(Math.abs((first.get('b-heavy') ?? 0) / runs - 3 / 8)).toBeLessThan(0.06);
    expect(Math.abs((first.get('c-warn') ?? 0) / runs - 4 / 8)).toBeLessThan(0.06);
  });

  it('shuffles what the filters leave (passing, tag, filter)', async () => {
    const n = createTestNode();
    for (let i = 0; i < 6; i++) await instance(n, `p${i}`, 'passing', 1);
    await instance(n, 'w', 'warning', 1);
    const orders = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const order = await nodes(n, '?passing');
      expect([...order].sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
      orders.add(order.join());
    }
    expect(orders.size).toBeGreaterThan(1);
    const filtered = await nodes(n, `?filter=${encodeURIComponent('Node.Node != "p0"')}`);
    expect([...filtered].sort()).toEqual(['p1', 'p2', 'p3', 'p4', 'p5', 'w']);
  });

  it('keeps the stable order by node with ?near (the opt-out)', async () => {
    const n = createTestNode();
    await instance(n, 'c', 'passing', 1000);
    await instance(n, 'a', 'critical', 1);
    await instance(n, 'b', 'passing', 1);
    for (let i = 0; i < 10; i++) {
      expect(await nodes(n, '?near=_agent')).toEqual(['a', 'b', 'c']);
      expect(await nodes(n, '?near')).toEqual(['a', 'b', 'c']);
    }
  });
});
