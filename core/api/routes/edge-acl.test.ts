import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { aclTestNode } from '../../../testing/acl-node.js';
import { EdgeAclResolver, parseEdgeAclData, parseSalt, secretHash } from '../../acl/edge-replica.js';
import { GRANT_HEADER } from '../../acl/grant.js';
import { createTestNode, type TestNode } from '../../../testing/harness.js';

const SALT = '00112233445566778899aabbccddeeff';

/** A node with ACLs on (default deny), its management headers, and a helper making tokens. */
const setup = aclTestNode;

const AGENT_RULES = 'acl = "read"\nnode "edge-1" { policy = "write" }';

describe('GET /v1/edge/acl', () => {
  it('gives an acl:read token every policy, role and token with salted hashes instead of secrets', async () => {
    const { n, mgmt, token } = await setup();
    const agent = await token('agent', AGENT_RULES);
    const reader = await token('reader', 'key_prefix "cfg/" { policy = "read" }');
    expect(
      (await n.request(`/v1/edge/acl?salt=${SALT}`, { headers: { 'X-Consul-Token': reader.secret } })).status,
    ).toBe(403);
    expect((await n.request('/v1/edge/acl?salt=xyz', { headers: { 'X-Consul-Token': agent.secret } })).status).toBe(
      400,
    );
    const res = await n.request(`/v1/edge/acl?salt=${SALT}`, { headers: { 'X-Consul-Token': agent.secret } });
    expect(res.status).toBe(200);
    const text = await res.text();
    // No secret leaves the servers: not the agent's, the reader's or the management token's.
    for (const secret of [agent.secret, reader.secret, mgmt['X-Consul-Token'] as string])
      expect(text).not.toContain(secret);
    expect(text).not.toContain('SecretID');
    const data = parseEdgeAclData(JSON.parse(text));
    expect(data.Enabled).toBe(true);
    expect(data.DefaultPolicy).toBe('deny');
    const held = data.Tokens.find((t) => t.AccessorID === reader.accessor);
    expect(held?.SecretHash).toBe(secretHash(parseSalt(SALT), reader.secret));
    // Another salt gives other hashes: one device's hashes say nothing about another's.
    const other = await n.request(`/v1/edge/acl?salt=${'ff'.repeat(16)}`, {
      headers: { 'X-Consul-Token': agent.secret },
    });
    const otherData = parseEdgeAclData(await other.json());
    expect(otherData.Tokens.find((t) => t.AccessorID === reader.accessor)?.SecretHash).not.toBe(held?.SecretHash);

    // An agent's resolver decides from the data alone, matching secrets by their hash.
    const resolver = new EdgeAclResolver(parseSalt(SALT));
    resolver.update(data);
    const who = resolver.resolve(
      n.store.read((tx) => tx),
      reader.secret,
      n.clock.now(),
    );
    expect(who.token?.AccessorID).toBe(reader.accessor);
    expect(who.authz.decide('key', 'cfg/a', 'read').allowed).toBe(true);
    expect(who.authz.decide('key', 'cfg/a', 'write').allowed).toBe(false);
    expect(() =>
      resolver.resolve(
        n.store.read((tx) => tx),
        'not-a-token',
        n.clock.now(),
      ),
    ).toThrow('ACL not found');
    // No token: the anonymous token, which the default policy (deny) leaves with nothing.
    expect(
      resolver
        .resolve(
          n.store.read((tx) => tx),
          undefined,
          0,
        )
        .authz.decide('key', 'cfg/a', 'read').allowed,
    ).toBe(false);
  });

  it('blocks until ACL data changes, then answers with the change', async () => {
    const { n, token } = await setup();
    const agent = await token('agent', AGENT_RULES);
    const h = { 'X-Consul-Token': agent.secret };
    const first = await n.request(`/v1/edge/acl?salt=${SALT}`, { headers: h });
    const index = Number(first.headers.get('X-Consul-Index'));
    let answered = false;
    const waiting = n.request(`/v1/edge/acl?salt=${SALT}&index=${index}&wait=30s`, { headers: h }).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false);
    // The helper writes the policy first: that change alone ends the wait.
    await token('later', 'key "x" { policy = "read" }');
    const res = await waiting;
    expect(Number(res.headers.get('X-Consul-Index'))).toBeGreaterThan(index);
    const data = parseEdgeAclData(await res.json());
    expect(data.Policies.map((p) => p.Name)).toContain('later');
  });

  it('says ACLs are off when they are, with no tokens', async () => {
    const n = createTestNode();
    const data = parseEdgeAclData(await (await n.request(`/v1/edge/acl?salt=${SALT}`)).json());
    expect([data.Enabled, data.Tokens.length]).toEqual([false, 0]);
  });
});

describe('edge write grants', () => {
  /** A writer, an agent and a grant for the writer through agent edge-1. */
  async function granted() {
    const s = await setup();
    const agent = await token2(s, 'agent', AGENT_RULES);
    const writer = await token2(s, 'writer', 'key_prefix "cfg/" { policy = "write" }');
    const res = await s.n.request('/v1/edge/grant?agent=edge-1', {
      method: 'PUT',
      headers: { 'X-Consul-Token': writer.secret, 'X-Konsul-Agent-Token': agent.secret },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { Grant: string; AccessorID: string; Agent: string; ExpiresAt: string };
    expect([body.AccessorID, body.Agent]).toEqual([writer.accessor, 'edge-1']);
    expect(Date.parse(body.ExpiresAt) - s.n.clock.now()).toBe(24 * 3600 * 1000);
    // The grant carries no secret.
    expect(JSON.stringify(body)).not.toContain(writer.secret);
    return { ...s, agent, writer, grant: body.Grant };
  }
  const token2 = (s: Awaited<ReturnType<typeof setup>>, name: string, rules: string) => s.token(name, rules);
  /** The agent replays a one-key transaction under `grant`. */
  const replay = (n: TestNode, agentSecret: string, grant: string, key = 'cfg/a') =>
    n.request('/v1/txn', {
      method: 'PUT',
      headers: { 'X-Consul-Token': agentSecret, [GRANT_HEADER]: grant },
      body: JSON.stringify([{ KV: { Verb: 'set', Key: key, Value: btoa('v') } }]),
    });

  it('a replay under a grant acts as its writer: it may do what the writer may, not what the agent may', async () => {
    const { n, mgmt, agent, grant } = await granted();
    const plain = await n.request('/v1/kv/cfg/a', {
      method: 'PUT',
      body: 'x',
      headers: { 'X-Consul-Token': agent.secret },
    });
    expect(plain.status).toBe(403);
    const res = await replay(n, agent.secret, grant);
    expect(res.status).toBe(200);
    const got = await n.request('/v1/kv/cfg/a?raw', { headers: mgmt });
    expect(await got.text()).toBe('v');
    // Only what the writer may: outside cfg/ the replay is refused as the writer.
    const outside = await replay(n, agent.secret, grant, 'other/a');
    expect(outside.status).toBe(409);
    expect(await outside.text()).toMatch(
      /Permission denied: token with AccessorID '[^']+' lacks permission 'key:write'/,
    );
  });

  it('refuses a replay whose writer lost the permission, or its token, since the grant was issued', async () => {
    const { n, mgmt, agent, writer, grant } = await granted();
    await n.request(`/v1/acl/policy/${writer.policy}`, {
      method: 'PUT',
      headers: mgmt,
      body: JSON.stringify({ Name: 'writer', Rules: 'key_prefix "cfg/" { policy = "read" }' }),
    });
    const narrowed = await replay(n, agent.secret, grant);
    expect(narrowed.status).toBe(409);
    expect(await narrowed.text()).toContain(`Permission denied: token with AccessorID '${writer.accessor}'`);
    await n.request(`/v1/acl/token/${writer.accessor}`, { method: 'DELETE', headers: mgmt });
    const gone = await replay(n, agent.secret, grant);
    expect(gone.status).toBe(403);
    expect(await gone.text()).toContain(`edge grant's writer (AccessorID '${writer.accessor}') no longer has a token`);
  });

  it('refuses an expired grant, one sent by another agent token, and grants not signed by the servers', async () => {
    const { n, agent, token, grant } = await granted();
    const other = await token('other-agent', AGENT_RULES);
    const stolen = await replay(n, other.secret, grant);
    expect(stolen.status).toBe(403);
    expect(await stolen.text()).toContain('edge grant was issued to another agent token');
    // An agent cannot mint one: a grant signed with any other key, or altered, is refused.
    const [head, , sig] = grant.split('.');
    const claims = JSON.parse(atob((grant.split('.')[1] as string).replace(/-/g, '+').replace(/_/g, '/'))) as object;
    const altered = `${head}.${btoa(JSON.stringify({ ...claims, sub: 'someone-else' })).replace(/=+$/, '')}.${sig}`;
    expect(await (await replay(n, agent.secret, altered)).text()).toMatch(/Permission denied: edge grant/);
    const forged = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('a key the agent made up, 32 bytes!'));
    const f = await replay(n, agent.secret, forged);
    expect(f.status).toBe(403);
    expect(await f.text()).toContain('edge grant has a bad signature');
    n.clock.advance(24 * 3600 * 1000 + 1000);
    const expired = await replay(n, agent.secret, grant);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('edge grant expired');
  });

  it("refuses a grant to an agent whose token lacks node:write on the agent's name", async () => {
    const { n, token } = await setup();
    const writer = await token('writer', 'key_prefix "cfg/" { policy = "write" }');
    const weak = await token('weak', 'acl = "read"\nnode "edge-2" { policy = "write" }');
    const res = await n.request('/v1/edge/grant?agent=edge-1', {
      method: 'PUT',
      headers: { 'X-Consul-Token': writer.secret, 'X-Konsul-Agent-Token': weak.secret },
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain(`the agent's token lacks permission 'node:write' on "edge-1"`);
    const bad = await n.request('/v1/edge/grant?agent=', {
      method: 'PUT',
      headers: { 'X-Consul-Token': writer.secret },
    });
    expect(bad.status).toBe(400);
  });
});
