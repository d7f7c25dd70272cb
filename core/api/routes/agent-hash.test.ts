import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../testing/harness.js';

const register = (n: TestNode, body: unknown) =>
  n.request('/v1/agent/service/register', { method: 'PUT', body: JSON.stringify(body) });

/** Lets pending promise callbacks run (no timers: the test node's clock is manual). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

// Consul: agent/agent_endpoint.go agentLocalBlockingQuery; docs "Hash-based Blocking Queries".
describe('hash-based blocking on the agent endpoints', () => {
  it('answers X-Consul-ContentHash and blocks on ?hash= until that answer changes', async () => {
    const n = createTestNode();
    expect((await register(n, { ID: 'web', Name: 'web', Port: 80 })).status).toBe(200);
    const first = await n.request('/v1/agent/service/web');
    const hash = first.headers.get('X-Consul-ContentHash') ?? '';
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(((await first.json()) as { ContentHash: string }).ContentHash).toBe(hash);

    let done = false;
    const waiting = n.request(`/v1/agent/service/web?hash=${hash}&wait=1m`).then((r) => {
      done = true;
      return r;
    });
    await settle();
    expect(n.deps.watches.size).toBe(1);
    // A change elsewhere in the agent wakes the query, which finds the same hash and waits again.
    expect((await register(n, { ID: 'db', Name: 'db', Port: 5432 })).status).toBe(200);
    await settle();
    expect(done).toBe(false);
    expect(n.deps.watches.size).toBe(1);
    // A change to the service ends the wait with the new answer and hash.
    expect((await register(n, { ID: 'web', Name: 'web', Port: 8080 })).status).toBe(200);
    const woken = await waiting;
    expect(woken.status).toBe(200);
    expect(((await woken.json()) as { Port: number }).Port).toBe(8080);
    expect(woken.headers.get('X-Consul-ContentHash')).not.toBe(hash);
    expect(n.deps.watches.size).toBe(0);
  });

  it('answers at once for a different hash, and with the same hash when the wait runs out', async () => {
    const n = createTestNode();
    await register(n, { ID: 'web', Name: 'web' });
    const list = await n.request('/v1/agent/services');
    const hash = list.headers.get('X-Consul-ContentHash') ?? '';
    const other = await n.request('/v1/agent/services?hash=0000000000000000&wait=1m');
    expect(other.headers.get('X-Consul-ContentHash')).toBe(hash);
    const waiting = n.request(`/v1/agent/services?hash=${hash}&wait=10s`);
    await settle();
    expect(n.deps.watches.size).toBe(1);
    n.clock.advance(10_000 + 10_000 / 16);
    const timedOut = await waiting;
    expect(timedOut.status).toBe(200);
    expect(timedOut.headers.get('X-Consul-ContentHash')).toBe(hash);
  });

  it('checks: a TTL status change wakes a hash query; a deregistered service ends one with 404', async () => {
    const n = createTestNode();
    await register(n, { ID: 'web', Name: 'web', Check: { CheckID: 'web-ttl', TTL: '30s' } });
    const hash = (await n.request('/v1/agent/checks')).headers.get('X-Consul-ContentHash') ?? '';
    const checks = n.request(`/v1/agent/checks?hash=${hash}&wait=1m`);
    const svcHash = (await n.request('/v1/agent/service/web')).headers.get('X-Consul-ContentHash') ?? '';
    const service = n.request(`/v1/agent/service/web?hash=${svcHash}&wait=1m`);
    await settle();
    expect(n.deps.watches.size).toBe(2);
    await n.request('/v1/agent/check/pass/web-ttl', { method: 'PUT' });
    const woken = await checks;
    expect(((await woken.json()) as Record<string, { Status: string }>)['web-ttl']?.Status).toBe('passing');
    await n.request('/v1/agent/service/deregister/web', { method: 'PUT' });
    expect((await service).status).toBe(404);
  });

  it('a hash query beyond the blocking-query limit gets 503 with Retry-After; a bad hash 400', async () => {
    const n = createTestNode({ maxWatchers: 1 });
    await register(n, { ID: 'web', Name: 'web' });
    const hash = (await n.request('/v1/agent/services')).headers.get('X-Consul-ContentHash') ?? '';
    const first = n.request(`/v1/agent/services?hash=${hash}&wait=1m`);
    await settle();
    const second = await n.request(`/v1/agent/services?hash=${hash}&wait=1m`);
    expect(second.status).toBe(503);
    expect(second.headers.get('Retry-After')).toBe('1');
    expect((await n.request(`/v1/agent/services?hash=${'a'.repeat(65)}`)).status).toBe(400);
    await register(n, { ID: 'db', Name: 'db' });
    expect((await first).status).toBe(200);
  });
});
