import { PermissionDeniedError } from '../errors.js';
import type { ReadTxn } from '../ports/state-store.js';
import { Authorizer, type DefaultPolicy } from './authorizer.js';
import { parseRules, type PolicyRules } from './rules.js';
import { getPolicy, getRole, tokenBySecret } from './queries.js';
import { type AclToken, GLOBAL_MANAGEMENT_POLICY_ID } from './types.js';

/** How ACLs are configured on this server. */
export interface AclSettings {
  readonly enabled: boolean;
  readonly defaultPolicy: DefaultPolicy;
}

/** Who a request acts as: its token (undefined with ACLs off) and what that token may do. */
export interface AclIdentity {
  readonly token: AclToken | undefined;
  readonly authz: Authorizer;
}

/** Largest token secret read from a request (longer ones are refused as not found). */
const MAX_SECRET_LENGTH = 256;

/**
 * The token secret a request carries: `X-Consul-Token`, else `Authorization: Bearer <secret>`,
 * else `?token=`. Undefined when none (the anonymous token applies).
 */
export function requestSecret(req: Request, url: URL): string | undefined {
  const header = req.headers.get('x-consul-token');
  if (header !== null && header !== '') return header;
  const auth = req.headers.get('authorization');
  if (auth !== null) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const q = url.searchParams.get('token');
  return q === null || q === '' ? undefined : q;
}

/**
 * Resolves token secrets to identities. Parsed policy rules are cached by policy ID and
 * ModifyIndex (at most `maxCached` policies; the oldest entry goes first).
 */
export class AclResolver {
  private readonly cache = new Map<string, { modifyIndex: number; rules: PolicyRules }>();
  private readonly allowAll = new Authorizer([], 'allow', true);

  constructor(
    readonly settings: AclSettings,
    private readonly maxCached = 4096,
  ) {}

  private rulesOf(tx: ReadTxn, policyId: string): PolicyRules | undefined {
    const p = getPolicy(tx, policyId);
    if (!p) return undefined;
    const hit = this.cache.get(policyId);
    if (hit && hit.modifyIndex === p.ModifyIndex) return hit.rules;
    let rules: PolicyRules;
    try {
      rules = parseRules(p.Rules);
    } catch {
      // Rules are checked when a policy is written; a policy that no longer parses grants nothing.
      rules = parseRules('');
    }
    this.cache.delete(policyId);
    this.cache.set(policyId, { modifyIndex: p.ModifyIndex, rules });
    if (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value as string);
    return rules;
  }

  /** The identity of `token`: its policies and its roles' policies. */
  identityOf(tx: ReadTxn, token: AclToken): AclIdentity {
    const ids = new Set(token.Policies.map((p) => p.ID));
    for (const r of token.Roles) for (const p of getRole(tx, r.ID)?.Policies ?? []) ids.add(p.ID);
    const management = ids.has(GLOBAL_MANAGEMENT_POLICY_ID);
    const rules: PolicyRules[] = [];
    for (const id of ids) {
      const r = this.rulesOf(tx, id);
      if (r) rules.push(r);
    }
    return { token, authz: new Authorizer(rules, this.settings.defaultPolicy, management) };
  }

  /**
   * Who a request acts as. With ACLs off: everyone may do everything. Otherwise the token named
   * by `secret` (the anonymous token when undefined); an unknown or expired secret is refused
   * with 403 "ACL not found" — the secret itself is never repeated.
   */
  resolve(tx: ReadTxn, secret: string | undefined, now: number): AclIdentity {
    if (!this.settings.enabled) return { token: undefined, authz: this.allowAll };
    const token =
      secret !== undefined && secret.length > MAX_SECRET_LENGTH ? undefined : tokenBySecret(tx, secret ?? 'anonymous');
    if (!token || (token.ExpirationTime !== undefined && Date.parse(token.ExpirationTime) <= now))
      throw new PermissionDeniedError('ACL not found');
    return this.identityOf(tx, token);
  }
}
