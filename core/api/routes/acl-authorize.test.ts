import { describe, expect, it } from 'vitest';
import { createTestNode } from '../../../testing/harness.js';

type Node = ReturnType<typeof createTestNode>;
type Answer = { Resource: string; Segment?: string; Access: string; Allow: boolean };

const PATH = '/v1/internal/acl/authorize';

async function authorize(node: Node, body: unknown, token?: string): Promise<{ status: number; text: string }> {
  const res = await node.request(PATH, {
    method: 'POST',
    headers: token ? { 'X-Consul-Token': token } : {},
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

/** A node with ACLs on (default `policy`), its management secret, and a token holding `rules`. */
async function withToken(
  rules: string,
  defaultPolicy: 'allow' | 'deny' = 'deny',
): Promise<{ node: Node; mgmt: string; secret: string }> {
  const node = createTestNode({ acl: { enabled: true, defaultPolicy } });
  const boot = await node.request('/v1/acl/bootstrap', { method: 'PUT' });
  const mgmt = ((await boot.json()) as { SecretID: string }).SecretID;
  const h = { 'X-Consul-Token': mgmt };
  const policy = await node.request('/v1/acl/policy', {
    method: 'PUT',
    headers: h,
    body: JSON.stringify({ Name: 'ui', Rules: rules }),
  });
  expect(policy.status).toBe(200);
  const token = await node.request('/v1/acl/token', {
    method: 'PUT',
    headers: h,
    body: JSON.stringify({ Policies: [{ Name: 'ui' }] }),
  });
  return { node, mgmt, secret: ((await token.json()) as { SecretID: string }).SecretID };
}

const RULES = [
  'key_prefix "app/" { policy = "read" }',
  'key "app/secret" { policy = "deny" }',
  'key_prefix "list/" { policy = "list" }',
  'key_prefix "mine/" { policy = "write" }',
  'key "mine/locked" { policy = "read" }',
  'service_prefix "" { policy = "write" }',
  'node "n1" { policy = "read" }',
  'agent_prefix "" { policy = "read" }',
  'operator = "read"',
  'keyring = "write"',
].join('\n');

describe('POST /v1/internal/acl/authorize', () => {
  it('answers 401 "ACL support disabled" while ACLs are off, as every ACL endpoint', async () => {
    const node = createTestNode();
    const r = await authorize(node, [{ Resource: 'key', Segment: 'a', Access: 'read' }]);
    expect([r.status, r.text.trim()]).toEqual([401, 'ACL support disabled']);
    expect((await authorize(node, [])).status).toBe(401);
  });

  it("answers each question for the request's token, in order, echoing it with Allow", async () => {
    const { node, secret } = await withToken(RULES);
    const asked: Array<[{ Resource: string; Segment?: string; Access: string }, boolean]> = [
      [{ Resource: 'key', Segment: 'app/a', Access: 'read' }, true],
      [{ Resource: 'key', Segment: 'app/a', Access: 'write' }, false],
      [{ Resource: 'key', Segment: 'app/secret', Access: 'read' }, false],
      // `list` needs a list (or write) rule: read does not grant it.
      [{ Resource: 'key', Segment: 'app/', Access: 'list' }, false],
      [{ Resource: 'key', Segment: 'list/x', Access: 'list' }, true],
      // write-prefix: write on every key under the segment (a read rule below withholds it).
      [{ Resource: 'key', Segment: 'mine/', Access: 'write-prefix' }, false],
      [{ Resource: 'key', Segment: 'mine/open/', Access: 'write-prefix' }, true],
      [{ Resource: 'service', Segment: 'web', Access: 'write' }, true],
      [{ Resource: 'node', Segment: 'n1', Access: 'read' }, true],
      [{ Resource: 'node', Segment: 'n1', Access: 'write' }, false],
      [{ Resource: 'node', Segment: 'n2', Access: 'read' }, false],
      [{ Resource: 'agent', Segment: 'n1', Access: 'read' }, true],
      [{ Resource: 'session', Segment: 'n1', Access: 'read' }, false],
      [{ Resource: 'event', Segment: 'deploy', Access: 'write' }, false],
      [{ Resource: 'query', Segment: 'q', Access: 'read' }, false],
      // Whole-resource rules ignore the segment.
      [{ Resource: 'operator', Access: 'read' }, true],
      [{ Resource: 'operator', Segment: 'ignored', Access: 'write' }, false],
      [{ Resource: 'keyring', Access: 'write' }, true],
      [{ Resource: 'acl', Access: 'read' }, false],
      [{ Resource: 'mesh', Access: 'read' }, false],
      [{ Resource: 'peering', Access: 'read' }, false],
      // The access level is matched without regard to case and echoed as sent.
      [{ Resource: 'service', Segment: 'web', Access: 'READ' }, true],
    ];
    const r = await authorize(
      node,
      asked.map(([q]) => q),
      secret,
    );
    expect(r.status).toBe(200);
    const answers = JSON.parse(r.text) as Answer[];
    expect(answers).toEqual(asked.map(([q, Allow]) => ({ ...q, Allow })));
    // An empty Segment is left out of the answer (Consul's omitempty).
    expect(answers[15]).toEqual({ Resource: 'operator', Access: 'read', Allow: true });
    expect(Object.keys(answers[0] as Answer)).toEqual(['Resource', 'Segment', 'Access', 'Allow']);
  });

  const title =
    'decides for the anonymous token without one, everything for a management token, refuses an unknown one';
  it(title, async () => {
    const { node, mgmt } = await withToken(RULES);
    const qs = [
      { Resource: 'acl', Access: 'write' },
      { Resource: 'key', Segment: 'app/a', Access: 'read' },
    ];
    const anonymous = await authorize(node, qs);
    expect(anonymous.status).toBe(200);
    expect((JSON.parse(anonymous.text) as Answer[]).map((a) => a.Allow)).toEqual([false, false]);
    const all = await authorize(node, qs, mgmt);
    expect((JSON.parse(all.text) as Answer[]).map((a) => a.Allow)).toEqual([true, true]);
    const unknown = await authorize(node, qs, '6f0f2a5e-0000-4000-8000-000000000000');
    expect([unknown.status, unknown.text.trim()]).toEqual([403, 'ACL not found']);
    expect(unknown.text).not.toContain('6f0f2a5e');
    // As Consul, an empty list is answered before the token is looked at.
    const empty = await authorize(node, [], '6f0f2a5e-0000-4000-8000-000000000000');
    expect([empty.status, empty.text]).toEqual([200, '[]']);
  });

  it('with default policy allow, grants all but ACL management to a token without rules for it', async () => {
    const { node, secret } = await withToken('key "app/secret" { policy = "deny" }', 'allow');
    const r = await authorize(
      node,
      [
        { Resource: 'acl', Access: 'read' },
        { Resource: 'key', Segment: 'app/a', Access: 'write' },
        { Resource: 'key', Segment: 'app/secret', Access: 'read' },
        { Resource: 'operator', Access: 'write' },
      ],
      secret,
    );
    expect((JSON.parse(r.text) as Answer[]).map((a) => a.Allow)).toEqual([false, true, false, true]);
  });

  it("refuses bad bodies, too many questions and unknown resources or access levels with Consul's texts", async () => {
    const { node, secret } = await withToken(RULES);
    const cases: Array<[unknown, number, RegExp | string]> = [
      ['', 400, /^Failed to decode request body: /],
      ['not json', 400, /^Failed to decode request body: /],
      [{ Resource: 'key' }, 400, /^Failed to decode request body: /],
      [[1], 400, /^Failed to decode request body: /],
      [[{ Resource: 7, Access: 'read' }], 400, /^Failed to decode request body: item 0: Resource must be a string$/],
      [
        Array.from({ length: 65 }, () => ({ Resource: 'key', Segment: 'a', Access: 'read' })),
        400,
        'Refusing to process more than 64 authorizations at once',
      ],
      [[{ Resource: 'x', Access: 'read' }], 400, 'Invalid ACL resource requested: "x"'],
      // Konsul has no intentions.
      [[{ Resource: 'intention', Segment: 'web', Access: 'read' }], 400, 'Invalid ACL resource requested: "intention"'],
      [
        [
          { Resource: 'key', Segment: 'a', Access: 'read' },
          { Resource: 'service', Segment: 'web', Access: 'list' },
        ],
        400,
        'Invalid access level for service resource: list',
      ],
      [[{ Resource: 'operator', Access: 'deny' }], 400, 'Invalid access level for operator resource: deny'],
      [[{ Resource: 'key', Segment: 'a' }], 400, 'Invalid access level for key resource: '],
      // A missing resource is "" (Go decodes a missing field as the zero value).
      [[{ Access: 'read' }], 400, 'Invalid ACL resource requested: ""'],
    ];
    for (const [body, status, text] of cases) {
      const r = await authorize(node, body, secret);
      const label = JSON.stringify(body).slice(0, 80);
      expect(r.status, label).toBe(status);
      if (typeof text === 'string') expect(r.text, label).toBe(`${text}\n`);
      else expect(r.text.trimEnd(), label).toMatch(text);
    }
    // Exactly 64 are fine; field names match without regard to case, as Go decodes them; null reads as [].
    const many = await authorize(
      node,
      Array.from({ length: 64 }, () => ({ resource: 'key', segment: 'app/a', access: 'read' })),
      secret,
    );
    expect(many.status).toBe(200);
    expect((JSON.parse(many.text) as Answer[]).every((a) => a.Allow && a.Resource === 'key')).toBe(true);
    expect(await authorize(node, 'null', secret)).toEqual({ status: 200, text: '[]' });
    // Another datacenter: no path to it (Konsul serves one).
    const dc = await node.request(`${PATH}?dc=dc2`, {
      method: 'POST',
      headers: { 'X-Consul-Token': secret },
      body: JSON.stringify([{ Resource: 'key', Segment: 'a', Access: 'read' }]),
    });
    expect(dc.status).toBe(500);
    // Only POST, as Consul registers it.
    const get = await node.request(PATH, { headers: { 'X-Consul-Token': secret } });
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
  });
});
