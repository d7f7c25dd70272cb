import { afterAll, describe, expect, it } from 'vitest';
import { TestClusterProcesses } from '../testing/cluster-harness.js';
import { cleanupAll } from '../testing/process.js';
import { SseReader } from '../testing/sse.js';

afterAll(cleanupAll);

describe('permissions follow the token on every server', () => {
  it('a token deleted through the leader closes its watch stream and its blocking query on a follower', async () => {
    const cluster = await TestClusterProcesses.start(3, [
      '--acl-enabled',
      '--acl-default-policy',
      'deny',
      '--join-token',
      'follow-the-token',
    ]);
    try {
      const leader = await cluster.waitForLeader();
      const follower = cluster.members.find((m) => m !== leader) as (typeof cluster.members)[number];
      const at = (m: { http: string }, path: string, init?: RequestInit) => fetch(`http://${m.http}${path}`, init);
      const mgmt = ((await (await at(leader, '/v1/acl/bootstrap', { method: 'PUT' })).json()) as { SecretID: string })
        .SecretID;
      const h = { 'X-Consul-Token': mgmt };
      const policy = await at(leader, '/v1/acl/policy', {
        method: 'PUT',
        headers: h,
        body: JSON.stringify({ Name: 'app-read', Rules: 'key_prefix "app/" { policy = "read" }' }),
      });
      expect(policy.status).toBe(200);
      const token = (await (
        await at(leader, '/v1/acl/token', {
          method: 'PUT',
          headers: h,
          body: JSON.stringify({ Policies: [{ Name: 'app-read' }] }),
        })
      ).json()) as { SecretID: string; AccessorID: string };
      expect((await at(leader, '/v1/kv/app/x', { method: 'PUT', headers: h, body: '1' })).status).toBe(200);
      const th = { 'X-Consul-Token': token.SecretID };
      // The follower answers the stream itself; the blocking read is forwarded to the leader.
      const stream = await at(follower, '/v1/watch/kv/app/', { headers: th });
      expect(stream.status).toBe(200);
      const events = new SseReader(stream);
      const first = await at(follower, '/v1/kv/app/x', { headers: th });
      expect(first.status).toBe(200);
      const blocked = at(follower, `/v1/kv/app/x?index=${first.headers.get('X-Consul-Index')}&wait=5m`, {
        headers: th,
      });
      await new Promise((r) => setTimeout(r, 200));
      const deletedAt = Date.now();
      expect((await at(leader, `/v1/acl/token/${token.AccessorID}`, { method: 'DELETE', headers: h })).status).toBe(
        200,
      );
      // The follower may apply the write of app/x after the stream opened: that event may come first.
      let closed = (await events.take(1, 10_000))[0];
      if (closed?.event === 'message' && /"app\/x"/.test(closed.data)) closed = (await events.take(1, 10_000))[0];
      const streamMs = Date.now() - deletedAt;
      expect(closed?.event).toBe('closed');
      expect(closed?.data).toMatch(/ACL not found/);
      const answer = await blocked;
      const blockingMs = Date.now() - deletedAt;
      expect(answer.status).toBe(403);
      expect((await answer.text()).trim()).toBe('ACL not found');
      process.stdout.write(
        `[token-follow] after the delete: follower stream closed in ${streamMs} ms, ` +
          `blocking query answered in ${blockingMs} ms\n`,
      );
    } finally {
      await cluster.stopAll();
    }
  }, 60_000);
});
