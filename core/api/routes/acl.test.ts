import { describe, expect, it } from 'vitest';
import { createTestNode } from '../../../testing/harness.js';

type Json = Record<string, unknown> & { SecretID?: string; AccessorID?: string; ID?: string };

async function call(
  node: ReturnType<typeof createTestNode>,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; text: string; json: () => Json }> {
  const res = await node.request(path, {
    method,
    headers: token ? { 'X-Consul-Token': token } : {},
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Json };
}

describe('ACL endpoints', () => {
  it('answer 401 while ACLs are off', async () => {
    const node = createTestNode();
    for (const [m, p] of [
      ['PUT', '/v1/acl/bootstrap'],
      ['GET', '/v1/acl/policies'],
      ['GET', '/v1/acl/token/self'],
      ['PUT', '/v1/acl/policy'],
    ] as const) {
      const r = await call(node, m, p, undefined, m === 'PUT' ? {} : undefined);
      expect([r.status, r.text.trim()]).toEqual([401, 'ACL support disabled']);
    }
  });

  it('bootstrap once, then manage policies, roles and tokens with the management token', async () => {
    const node = createTestNode({ acl: { enabled: true, defaultPolicy: 'deny' } });
    expect((await call(node, 'GET', '/v1/acl/policies')).status).toBe(403);
    const boot = await call(node, 'PUT', '/v1/acl/bootstrap');
    expect(boot.status).toBe(200);
    const root = boot.json();
    expect(root.Policies).toEqual([{ ID: '00000000-0000-0000-0000-000000000001', Name: 'global-management' }]);
    const again = await call(node, 'PUT', '/v1/acl/bootstrap');
    expect(again.status).toBe(403);
    expect(again.text).toMatch(/ACL bootstrap no longer allowed \(reset index: \d+\)/);
    const mgmt = root.SecretID as string;

    // Policies: HCL and JSON rules, validated; unique names; the builtin one is protected.
    const readKv = await call(node, 'PUT', '/v1/acl/policy', mgmt, {
      Name: 'read-kv',
      Rules: 'key_prefix "" { policy = "read" }',
    });
    expect(readKv.status).toBe(200);
    const readKvId = readKv.json().ID as string;
    const aclRead = await call(node, 'PUT', '/v1/acl/policy', mgmt, { Name: 'acl-read', Rules: '{"acl": "read"}' });
    expect(aclRead.status).toBe(200);
    expect((await call(node, 'PUT', '/v1/acl/policy', mgmt, { Name: 'read-kv', Rules: '' })).text).toMatch(
      /already exists/,
    );
    const badRules = await call(node, 'PUT', '/v1/acl/policy', mgmt, {
      Name: 'bad',
      Rules: 'key "a" {\n policy = "own" }',
    });
    expect([badRules.status, badRules.text]).toEqual([400, expect.stringMatching(/invalid policy "own"/)]);
    expect((await call(node, 'PUT', '/v1/acl/policy', mgmt, { Name: 'no spaces please' })).status).toBe(400);
    expect((await call(node, 'PUT', '/v1/acl/policy', mgmt, '[1]')).status).toBe(400);
    expect(
      (
        await call(node, 'PUT', '/v1/acl/policy/00000000-0000-0000-0000-000000000001', mgmt, {
          Name: 'global-management',
          Rules: 'key_prefix "" { policy = "deny" }',
        })
      ).status,
    ).toBe(400);
    expect((await call(node, 'DELETE', '/v1/acl/policy/00000000-0000-0000-0000-000000000001', mgmt)).status).toBe(400);
    expect((await call(node, 'GET', `/v1/acl/policy/${readKvId}`, mgmt)).json()).toMatchObject({
      Name: 'read-kv',
      Rules: 'key_prefix "" { policy = "read" }',
    });
    expect((await call(node, 'GET', '/v1/acl/policy/name/acl-read', mgmt)).json()).toMatchObject({
      Rules: '{"acl": "read"}',
    });
    expect((await call(node, 'GET', '/v1/acl/policy/nope', mgmt)).status).toBe(404);
    const list = (await call(node, 'GET', '/v1/acl/policies', mgmt)).json() as unknown as Json[];
    expect(list.map((p) => p['Name']).sort()).toEqual(['acl-read', 'global-management', 'read-kv']);
    expect(list.every((p) => !('Rules' in p))).toBe(true);
    const updated = await call(node, 'PUT', `/v1/acl/policy/${readKvId}`, mgmt, {
      Name: 'read-kv',
      Description: 'reads',
      Rules: 'key_prefix "" { policy = "read" }',
    });
    expect(updated.json()).toMatchObject({ Description: 'reads' });

    // Roles link policies by ID or Name; tokens link roles and policies.
    const role = await call(node, 'PUT', '/v1/acl/role', mgmt, { Name: 'auditor', Policies: [{ Name: 'acl-read' }] });
    expect(role.status).toBe(200);
    expect(
      (await call(node, 'PUT', '/v1/acl/role', mgmt, { Name: 'ghost', Policies: [{ Name: 'missing' }] })).text,
    ).toMatch(/cannot find policy "missing"/);
    const tok = await call(node, 'PUT', '/v1/acl/token', mgmt, {
      Description: 'auditor',
      Roles: [{ Name: 'auditor' }],
      Policies: [{ ID: readKvId }],
    });
    expect(tok.status).toBe(200);
    const auditor = tok.json();
    expect(auditor.Roles).toEqual([{ ID: role.json().ID, Name: 'auditor' }]);
    const secret = auditor.SecretID as string;

    // The auditor reads ACLs (secrets hidden) but cannot change them; token/self shows its own.
    const seen = await call(node, 'GET', `/v1/acl/token/${auditor.AccessorID}`, secret);
    expect(seen.json().SecretID).toBe('<hidden>');
    expect((await call(node, 'GET', `/v1/acl/token/${auditor.AccessorID}`, mgmt)).json().SecretID).toBe(secret);
    expect((await call(node, 'PUT', '/v1/acl/policy', secret, { Name: 'mine' })).status).toBe(403);
    expect((await call(node, 'GET', '/v1/acl/token/self', secret)).json().AccessorID).toBe(auditor.AccessorID);
    const tokens = (await call(node, 'GET', '/v1/acl/tokens', secret)).json() as unknown as Json[];
    expect(tokens.map((t) => t.SecretID)).toEqual(['<hidden>', '<hidden>', '<hidden>']);
    expect(tokens[0]?.AccessorID).toBe('00000000-0000-0000-0000-000000000002');

    // Tokens are read from the header, a bearer token, or ?token=; unknown ones are refused.
    const bearer = await node.request('/v1/acl/token/self', { headers: { Authorization: `Bearer ${secret}` } });
    expect(((await bearer.json()) as Json).AccessorID).toBe(auditor.AccessorID);
    expect((await call(node, 'GET', `/v1/acl/token/self?token=${secret}`)).json().AccessorID).toBe(auditor.AccessorID);
    const unknown = await call(node, 'GET', '/v1/acl/token/self', '5b1f1a33-0000-4000-8000-000000000000');
    expect([unknown.status, unknown.text.trim()]).toEqual([403, 'ACL not found']);
    expect((await call(node, 'GET', '/v1/acl/token/self')).json().AccessorID).toBe(
      '00000000-0000-0000-0000-000000000002',
    );

    // Expiry: a token stops working once its TTL has passed.
    const short = (
      await call(node, 'PUT', '/v1/acl/token', mgmt, { Policies: [{ Name: 'acl-read' }], ExpirationTTL: '2s' })
    ).json();
    expect((await call(node, 'GET', '/v1/acl/policies', short.SecretID)).status).toBe(200);
    node.clock.advance(2001);
    expect((await call(node, 'GET', '/v1/acl/policies', short.SecretID)).status).toBe(403);

    // Deleting a policy drops it from the roles and tokens that linked it.
    expect((await call(node, 'DELETE', `/v1/acl/policy/${readKvId}`, mgmt)).text.trim()).toBe('true');
    expect((await call(node, 'GET', `/v1/acl/token/${auditor.AccessorID}`, mgmt)).json().Policies).toEqual([]);
    // Deleting a role takes the auditor's ACL read away.
    expect((await call(node, 'DELETE', `/v1/acl/role/${role.json().ID}`, mgmt)).text.trim()).toBe('true');
    expect((await call(node, 'GET', '/v1/acl/policies', secret)).status).toBe(403);
    expect((await call(node, 'DELETE', '/v1/acl/token/00000000-0000-0000-0000-000000000002', mgmt)).status).toBe(400);
    expect((await call(node, 'DELETE', `/v1/acl/token/${auditor.AccessorID}`, mgmt)).text.trim()).toBe('true');
    expect((await call(node, 'GET', '/v1/acl/token/self', secret)).status).toBe(403);
  });

  it('refuses malformed tokens and links, naming the field', async () => {
    const node = createTestNode({ acl: { enabled: true, defaultPolicy: 'deny' } });
    const mgmt = (await call(node, 'PUT', '/v1/acl/bootstrap')).json().SecretID as string;
    const cases: Array<[unknown, RegExp]> = [
      [{ SecretID: 'not-a-uuid' }, /SecretID must be a UUID/],
      [{ AccessorID: 'x' }, /AccessorID must be a UUID/],
      [{ Policies: [{}] }, /needs an ID or a Name/],
      [{ Policies: 'all' }, /Policies must be a list/],
      [{ Roles: [{ Name: 'nope' }] }, /cannot find role "nope"/],
      [{ ExpirationTTL: 'soon' }, /ExpirationTTL "soon"/],
      [{ ExpirationTime: '2001-01-01T00:00:00Z' }, /in the future/],
      [{ Local: 'yes' }, /Local must be true or false/],
      [{ Description: 7 }, /Description must be a string/],
    ];
    for (const [body, message] of cases) {
      const r = await call(node, 'PUT', '/v1/acl/token', mgmt, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.text, JSON.stringify(body)).toMatch(message);
    }
    expect((await call(node, 'PUT', '/v1/acl/token/5b1f1a33-0000-4000-8000-000000000000', mgmt, {})).status).toBe(404);
  });
});
