import { CorruptError } from '../errors.js';
import type { ApplyContext, CommandHandler } from '../fsm/state-machine.js';
import type { ReadTxn } from '../ports/state-store.js';
import {
  aclPolicyDelete,
  aclPolicySet,
  aclRoleDelete,
  aclRoleSet,
  aclTokenDelete,
  aclTokenSet,
  ensureManagementPolicy,
} from './ops.js';
import { listPolicies, listRoles, listTokens, policyByName, roleByName } from './queries.js';
import {
  ACL_POLICIES_INDEX,
  ACL_ROLES_INDEX,
  ACL_TOKENS_INDEX,
  type AclPolicy,
  type AclRole,
  type AclToken,
  ANONYMOUS_TOKEN_ID,
  GLOBAL_MANAGEMENT_POLICY_ID,
} from './types.js';
import { readTableIndex } from '../fsm/meta.js';
import { OverlayTxn } from '../fsm/overlay-txn.js';
import type { Change } from '../watch/change.js';

/** Most tokens one replication carries (the primary refuses to send more). */
export const MAX_REPLICATED_TOKENS = 20_000;
/** Most policies, and most roles, one replication carries. */
export const MAX_REPLICATED_OBJECTS = 10_000;

/**
 * The primary datacenter's ACL data as a secondary replicates it (GET /v1/internal/acl/replicate):
 * every policy and role, and every global (non-Local) token with its secret. `Index` is the
 * highest of the primary's three table indexes.
 */
export interface AclReplicationData {
  readonly Index: number;
  readonly Policies: readonly AclPolicy[];
  readonly Roles: readonly AclRole[];
  readonly Tokens: readonly AclToken[];
}

/** What the primary sends: its policies, roles and global tokens. */
export function aclReplicationData(tx: ReadTxn): AclReplicationData {
  return {
    Index: Math.max(
      1,
      readTableIndex(tx, ACL_POLICIES_INDEX),
      readTableIndex(tx, ACL_ROLES_INDEX),
      readTableIndex(tx, ACL_TOKENS_INDEX),
    ),
    Policies: listPolicies(tx).value.slice(0, MAX_REPLICATED_OBJECTS),
    Roles: listRoles(tx).value.slice(0, MAX_REPLICATED_OBJECTS),
    Tokens: listTokens(tx)
      .value.filter((t) => !t.Local)
      .slice(0, MAX_REPLICATED_TOKENS),
  };
}

/** Replaces a secondary's copy of the primary's ACL data with `data` (see aclReplicate). */
export interface AclReplicateCommand {
  readonly type: 'acl.replicate';
  readonly data: AclReplicationData;
  readonly now: number;
}

const sameLinks = (a: readonly { ID: string }[], b: readonly { ID: string }[]): boolean =>
  a.length === b.length && a.every((l, i) => l.ID === b[i]?.ID);

/**
 * Makes a secondary datacenter's policies, roles and global tokens those of `data`: new and
 * changed ones are written, those the primary no longer has are deleted (a name held by another
 * ID here gives way). Local tokens stay. Unchanged objects are not touched (their ModifyIndex
 * stays). Returns the counts of what changed.
 */
export function aclReplicate(
  ctx: ApplyContext,
  data: AclReplicationData,
  now: number,
): { policies: number; roles: number; tokens: number } {
  const changed = { policies: 0, roles: 0, tokens: 0 };
  const policyIds = new Set(data.Policies.map((p) => p.ID));
  for (const old of listPolicies(ctx.tx).value)
    if (!policyIds.has(old.ID) && old.ID !== GLOBAL_MANAGEMENT_POLICY_ID && aclPolicyDelete(ctx, old.ID))
      changed.policies++;
  for (const p of data.Policies) {
    // The builtin management policy is the same in every datacenter (and may not be rewritten):
    // made here as a bootstrap makes it, if this datacenter never had it.
    if (p.ID === GLOBAL_MANAGEMENT_POLICY_ID) {
      ensureManagementPolicy(ctx);
      continue;
    }
    const here = listPolicies(ctx.tx).value.find((x) => x.ID === p.ID);
    if (here && here.Name === p.Name && here.Rules === p.Rules && here.Description === p.Description) continue;
    const clash = policyByName(ctx.tx, p.Name);
    if (clash && clash.ID !== p.ID) aclPolicyDelete(ctx, clash.ID);
    aclPolicySet(ctx, { type: 'acl.policy.set', policy: p, create: !here });
    changed.policies++;
  }
  const roleIds = new Set(data.Roles.map((r) => r.ID));
  for (const old of listRoles(ctx.tx).value) if (!roleIds.has(old.ID) && aclRoleDelete(ctx, old.ID)) changed.roles++;
  for (const r of data.Roles) {
    const here = listRoles(ctx.tx).value.find((x) => x.ID === r.ID);
    if (here && here.Name === r.Name && here.Description === r.Description && sameLinks(here.Policies, r.Policies))
      continue;
    const clash = roleByName(ctx.tx, r.Name);
    if (clash && clash.ID !== r.ID) aclRoleDelete(ctx, clash.ID);
    aclRoleSet(ctx, { type: 'acl.role.set', role: r, create: !here });
    changed.roles++;
  }
  const tokenIds = new Set(data.Tokens.map((t) => t.AccessorID));
  for (const old of listTokens(ctx.tx).value)
    if (!old.Local && old.AccessorID !== ANONYMOUS_TOKEN_ID && !tokenIds.has(old.AccessorID)) {
      aclTokenDelete(ctx, old.AccessorID);
      changed.tokens++;
    }
  const here = new Map(listTokens(ctx.tx).value.map((t) => [t.AccessorID, t] as const));
  for (const t of data.Tokens) {
    const old = here.get(t.AccessorID);
    if (
      old &&
      old.SecretID === t.SecretID &&
      old.Description === t.Description &&
      old.ExpirationTime === t.ExpirationTime &&
      sameLinks(old.Policies, t.Policies) &&
      sameLinks(old.Roles, t.Roles)
    )
      continue;
    // A token is copied whole (its secret and expiry too): the old copy goes first.
    if (old && old.AccessorID !== ANONYMOUS_TOKEN_ID) aclTokenDelete(ctx, old.AccessorID);
    aclTokenSet(ctx, {
      type: 'acl.token.set',
      token: {
        AccessorID: t.AccessorID,
        SecretID: t.SecretID,
        Description: t.Description,
        Policies: t.Policies,
        Roles: t.Roles,
        Local: false,
        ...(t.ExpirationTime ? { ExpirationTime: t.ExpirationTime } : {}),
        ...(t.AuthMethod ? { AuthMethod: t.AuthMethod } : {}),
      },
      create: t.AccessorID !== ANONYMOUS_TOKEN_ID,
      now,
    });
    changed.tokens++;
  }
  return changed;
}

/** Applies `acl.replicate` (checking the command's shape first: CorruptError when malformed). */
export const aclReplicateHandler: CommandHandler = {
  apply(ctx, cmd) {
    const data = cmd['data'] as AclReplicationData | undefined;
    const now = cmd['now'];
    if (
      typeof data !== 'object' ||
      data === null ||
      !Array.isArray(data.Policies) ||
      !Array.isArray(data.Roles) ||
      !Array.isArray(data.Tokens) ||
      typeof now !== 'number'
    )
      throw new CorruptError('acl.replicate: malformed command');
    // All or nothing: written through an overlay, committed only when every step held.
    const overlay = new OverlayTxn(ctx.tx);
    const changes: Change[] = [];
    const counts = aclReplicate({ tx: overlay, index: ctx.index, changed: (c) => changes.push(c) }, data, now);
    overlay.commit();
    for (const c of changes) ctx.changed(c);
    return counts;
  },
};
