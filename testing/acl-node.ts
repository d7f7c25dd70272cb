import { createTestNode, type TestNode } from './harness.js';

/** An in-process node with ACLs on (default deny), bootstrapped, and a way to make tokens. */
export interface AclTestNode {
  readonly n: TestNode;
  /** The management token's header. */
  readonly mgmt: Record<string, string>;
  /** Makes policy `name` with `rules` and a token holding it: its secret, accessor and the policy's ID. */
  token(name: string, rules: string): Promise<{ secret: string; accessor: string; policy: string }>;
}

/** Builds an AclTestNode (the in-process harness, ACLs on with default deny, bootstrapped). */
export async function aclTestNode(): Promise<AclTestNode> {
  const n = createTestNode({ acl: { enabled: true, defaultPolicy: 'deny' } });
  const boot = (await (await n.request('/v1/acl/bootstrap', { method: 'PUT' })).json()) as { SecretID: string };
  const mgmt = { 'X-Consul-Token': boot.SecretID };
  const token = async (name: string, rules: string) => {
    const p = (await (
      await n.request('/v1/acl/policy', {
        method: 'PUT',
        headers: mgmt,
        body: JSON.stringify({ Name: name, Rules: rules }),
      })
    ).json()) as { ID: string };
    const t = (await (
      await n.request('/v1/acl/token', {
        method: 'PUT',
        headers: mgmt,
        body: JSON.stringify({ Policies: [{ ID: p.ID }] }),
      })
    ).json()) as { SecretID: string; AccessorID: string };
    return { secret: t.SecretID, accessor: t.AccessorID, policy: p.ID };
  };
  return { n, mgmt, token };
}
