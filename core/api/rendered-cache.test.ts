import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../testing/harness.js';
import { RenderedCache, renderedCacheOf } from './rendered-cache.js';

const register = (n: TestNode, id: string, status: string) =>
  n.request('/v1/catalog/register', {
    method: 'PUT',
    body: JSON.stringify({
      Node: `node-${id}`,
      Address: '10.0.0.1',
      Service: { ID: id, Service: 'web', Port: 80 },
      Check: { CheckID: `c-${id}`, ServiceID: id, Status: status },
    }),
  });
// `near` keeps the stable order (by node, then ID); without it every answer is shuffled.
const ids = async (n: TestNode, query: string) =>
  (
    (await (await n.request(`/v1/health/service/web?near=_agent${query}`)).json()) as Array<{
      Service: { ID: string };
    }>
  ).map((e) => e.Service.ID);

describe('rendered answers', () => {
  it('are sent again only while the service index has not moved, per set of parameters', async () => {
    const n = createTestNode();
    await register(n, 'a', 'passing');
    await register(n, 'b', 'critical');
    expect(await ids(n, '')).toEqual(['a', 'b']);
    expect(await ids(n, '&passing')).toEqual(['a']);
    const cache = renderedCacheOf(n.deps.store);
    expect(cache.size).toBe(2);
    // Served from the cache: the same bytes and index.
    const [first, again] = [
      await n.request('/v1/health/service/web?passing'),
      await n.request('/v1/health/service/web?passing'),
    ];
    expect(await again.text()).toBe(await first.text());
    expect(again.headers.get('x-consul-index')).toBe(first.headers.get('x-consul-index'));
    // A change to the service moves its index: the next answer is rendered anew.
    await register(n, 'b', 'passing');
    expect(await ids(n, '&passing')).toEqual(['a', 'b']);
    await register(n, 'c', 'passing');
    expect(await ids(n, '')).toEqual(['a', 'b', 'c']);
  });

  it('keep a shuffled answer shuffled: each send of a cached answer gets its own order', async () => {
    const n = createTestNode();
    for (const id of ['a', 'b', 'c', 'd']) await register(n, id, 'passing');
    const orders = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const list = (await (await n.request('/v1/health/service/web')).json()) as Array<{ Service: { ID: string } }>;
      expect(list.map((e) => e.Service.ID).sort()).toEqual(['a', 'b', 'c', 'd']);
      orders.add(list.map((e) => e.Service.ID).join());
    }
    // One rendering, many orders (24 are possible; a seeded rng makes this exact, not flaky).
    expect(renderedCacheOf(n.deps.store).size).toBe(1);
    expect(orders.size).toBeGreaterThan(5);
  });

  it('keeps at most its bounds, dropping the least recently used', () => {
    const c = new RenderedCache();
    for (let i = 0; i < 5000; i++) c.set(`k${i}`, 1, 'x');
    expect(c.size).toBe(4096);
    expect(c.get('k0', 1)).toBeUndefined();
    expect(c.get('k4999', 1)).toBe('x');
    expect(c.get('k4999', 2)).toBeUndefined();
    // One answer larger than a sixteenth of the byte bound is never kept.
    c.set('big', 1, 'y'.repeat(1024 * 1024 + 1));
    expect(c.get('big', 1)).toBeUndefined();
  });
});
