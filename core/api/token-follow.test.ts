import { describe, expect, it } from 'vitest';
import { aclTestNode } from '../../testing/acl-node.js';
import type { TestNode } from '../../testing/harness.js';
import { SseReader } from '../../testing/sse.js';

/** A node with ACLs on (default deny), its management headers, and a helper making tokens. */
const setup = aclTestNode;

const put = (n: TestNode, path: string, body: string, headers: Record<string, string>) =>
  n.request(path, { method: 'PUT', body, headers });
/** Replaces the rules of policy `id` (named `name`). */
const setRules = (n: TestNode, mgmt: Record<string, string>, id: string, name: string, rules: string) =>
  put(n, `/v1/acl/policy/${id}`, JSON.stringify({ Name: name, Rules: rules }), mgmt);

describe('permissions follow the token', () => {
  it('a watch stream narrows with its policy, and ends with a "closed" event when its token is deleted', async () => {
    const { n, mgmt, token } = await setup();
    const t = await token('app-read', 'key_prefix "app/" { policy = "read" }');
    const r = await n.request('/v1/watch/kv/app/', { headers: { 'X-Consul-Token': t.secret } });
    expect(r.status).toBe(200);
    const s = new SseReader(r);
    await put(n, '/v1/kv/app/a', '1', mgmt);
    expect(JSON.parse((await s.take(1))[0]?.data as string)).toMatchObject({ Key: 'app/a' });
    // Narrowed to app/a only: a write to app/b is no longer shown, one to app/a still is.
    await setRules(n, mgmt, t.policy, 'app-read', 'key "app/a" { policy = "read" }');
    await put(n, '/v1/kv/app/b', '2', mgmt);
    await put(n, '/v1/kv/app/a', '3', mgmt);
    expect(JSON.parse((await s.take(1))[0]?.data as string)).toMatchObject({ Key: 'app/a', Op: 'set' });
    // Deleted: the stream says why and ends.
    expect((await n.request(`/v1/acl/token/${t.accessor}`, { method: 'DELETE', headers: mgmt })).status).toBe(200);
    const last = (await s.take(1))[0];
    expect(last?.event).toBe('closed');
    expect(JSON.parse(last?.data as string)).toEqual({ Reason: expect.stringMatching(/ACL not found/) });
    expect(await s.next(2000)).toBeUndefined();
  });

  it('a health stream ends when its token may no longer read the service', async () => {
    const { n, mgmt, token } = await setup();
    const t = await token('web-read', 'service "web" { policy = "read" }\nnode_prefix "" { policy = "read" }');
    const r = await n.request('/v1/watch/health/web', { headers: { 'X-Consul-Token': t.secret } });
    expect(r.status).toBe(200);
    const s = new SseReader(r);
    await setRules(n, mgmt, t.policy, 'web-read', 'node_prefix "" { policy = "read" }');
    const last = (await s.take(1))[0];
    expect(last?.event).toBe('closed');
    expect(last?.data).toContain('may no longer read service web');
  });

  it('a waiting blocking query answers 403 at once when its token is deleted or loses the key', async () => {
    const { n, mgmt, token } = await setup();
    await put(n, '/v1/kv/app/x', '1', mgmt);
    for (const change of ['delete', 'narrow'] as const) {
      const t = await token(`blocking-${change}`, 'key_prefix "app/" { policy = "read" }');
      const h = { 'X-Consul-Token': t.secret };
      const first = await n.request('/v1/kv/app/x', { headers: h });
      expect(first.status).toBe(200);
      const index = first.headers.get('X-Consul-Index') as string;
      let answered = false;
      const waiting = n.request(`/v1/kv/app/x?index=${index}&wait=5m`, { headers: h }).then((res) => {
        answered = true;
        return res;
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(answered).toBe(false);
      if (change === 'delete') await n.request(`/v1/acl/token/${t.accessor}`, { method: 'DELETE', headers: mgmt });
      else await setRules(n, mgmt, t.policy, `blocking-${change}`, 'key_prefix "other/" { policy = "read" }');
      const res = await waiting;
      expect(res.status, change).toBe(403);
      expect(await res.text()).toMatch(change === 'delete' ? /ACL not found/ : /lacks permission 'key:read'/);
    }
  });

  it('an edge sync stream ends when its token no longer reads the whole scope', async () => {
    const { n, mgmt, token } = await setup();
    const t = await token('agent', 'key_prefix "cfg/" { policy = "read" }');
    const r = await n.request('/v1/edge/sync?prefix=cfg/', { headers: { 'X-Consul-Token': t.secret } });
    expect(r.status).toBe(200);
    const s = new SseReader(r);
    await setRules(n, mgmt, t.policy, 'agent', 'key_prefix "cfg/a" { policy = "read" }');
    for (;;) {
      const e = await s.next(5000);
      if (!e) throw new Error('the stream ended without a closed event');
      if (e.event !== 'closed') continue;
      expect(e.data).toContain('lacks key:read on \\"cfg/\\"');
      break;
    }
  });
});
