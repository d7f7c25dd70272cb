import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../testing/manual-clock.js';
import { createTestNode } from '../../testing/harness.js';
import { RateLimiter } from './rate-limit.js';

describe('rate limiting', () => {
  it('token buckets refill at the rate, up to the burst, and keep a bounded number of keys', () => {
    const clock = new ManualClock();
    const rl = new RateLimiter(clock, 3, 2);
    expect([rl.take('a', 1), rl.take('a', 1), rl.take('a', 1), rl.take('a', 1)]).toEqual([0, 0, 0, 1]);
    clock.advance(999);
    expect(rl.take('a', 1)).toBe(1);
    clock.advance(1);
    expect(rl.take('a', 1)).toBe(0);
    expect(rl.take('b', 0)).toBe(0);
    rl.take('c', 1);
    rl.take('d', 1);
    expect(rl.size).toBe(2);
    // A slow rate says how long to wait, rounded up.
    const slow = new RateLimiter(clock, 1);
    expect([slow.take('x', 0.25), slow.take('x', 0.25)]).toEqual([0, 4]);
  });

  it('answers 429 with Retry-After per address and per token, and lets others through', async () => {
    const node = createTestNode({ rateLimit: { perIp: 2, perToken: 3, burst: 2 } });
    const get = (ip: string, token?: string) =>
      node.request('/v1/status/leader', {
        headers: { 'x-test-client': ip, ...(token ? { 'X-Consul-Token': token } : {}) },
      });
    expect((await get('10.0.0.1')).status).toBe(200);
    expect((await get('10.0.0.1')).status).toBe(200);
    const limited = await get('10.0.0.1');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.text()).toMatch(/rate limit for this address/);
    expect((await get('10.0.0.2')).status).toBe(200);
    node.clock.advance(500);
    expect((await get('10.0.0.1')).status).toBe(200);
    // Per token: the same token from many addresses shares one bucket (burst 2).
    expect((await get('10.0.1.1', 'tok-a')).status).toBe(200);
    expect((await get('10.0.1.2', 'tok-a')).status).toBe(200);
    const byToken = await get('10.0.1.3', 'tok-a');
    expect(byToken.status).toBe(429);
    const message = await byToken.text();
    expect(message).toMatch(/rate limit for this token/);
    expect(message).not.toContain('tok-a');
    expect((await get('10.0.1.4', 'tok-b')).status).toBe(200);
  });
});
