import { BadRequestError, NotFoundError, PermissionDeniedError } from '../errors.js';
import { bumpTableIndex, readTableIndex } from '../fsm/meta.js';
import type { ApplyContext } from '../fsm/state-machine.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { AclAuthMethod, AclBindingRule } from './auth-method.js';
import type {
  AclAuthMethodSetCommand,
  AclBindingRuleSetCommand,
  AclBootstrapCommand,
  AclLinkInput,
  AclPolicySetCommand,
  AclRoleSetCommand,
  AclTokenSetCommand,
} from './commands.js';
import {
  ACL_AUTH_METHODS_INDEX,
  ACL_AUTH_METHODS_TABLE,
  ACL_BINDING_RULES_INDEX,
  ACL_BINDING_RULES_TABLE,
  ACL_BOOTSTRAP_META,
  ACL_POLICIES_INDEX,
  ACL_POLICIES_TABLE,
  ACL_POLICY_KIND,
  ACL_POLICY_NAMES_TABLE,
  ACL_ROLE_KIND,
  ACL_ROLES_INDEX,
  ACL_ROLES_TABLE,
  ACL_TOKEN_SECRETS_TABLE,
  ACL_TOKENS_INDEX,
  ACL_TOKENS_TABLE,
  ACL_WATCH_TABLE,
  type AclLink,
  type AclNamedKind,
  type AclPolicy,
  type AclRole,
  type AclToken,
  ANONYMOUS_TOKEN_ID,
  ANONYMOUS_TOKEN_SECRET,
  GLOBAL_MANAGEMENT_POLICY_ID,
  GLOBAL_MANAGEMENT_POLICY_NAME,
} from './types.js';

const MANAGEMENT_POLICY = (index: number): AclPolicy => ({
  ID: GLOBAL_MANAGEMENT_POLICY_ID,
  Name: GLOBAL_MANAGEMENT_POLICY_NAME,
  Description: 'Builtin Policy that grants unlimited access',
  Rules: '',
  Datacenters: [],
  CreateIndex: index,
  ModifyIndex: index,
});

function notify(ctx: ApplyContext, index: string, key: string): void {
  bumpTableIndex(ctx.tx, index, ctx.index);
  ctx.changed({ table: ACL_WATCH_TABLE, key });
}

/** Resolves links by ID or Name to existing records; throws BadRequestError naming a missing one. */
function resolveLinks(tx: ReadTxn, links: readonly AclLinkInput[], kind: 'policy' | 'role'): AclLink[] {
  const { table, names } = kind === 'policy' ? ACL_POLICY_KIND : ACL_ROLE_KIND;
  const out: AclLink[] = [];
  for (const l of links) {
    const id =
      l.ID !== undefined && l.ID !== '' ? l.ID : l.Name !== undefined ? tx.get<string>(names, l.Name) : undefined;
    const rec = id === undefined ? undefined : tx.get<{ ID: string; Name: string }>(table, id);
    if (!rec) throw new BadRequestError(`cannot find ${kind} ${JSON.stringify(l.ID || l.Name || '')}`);
    if (!out.some((o) => o.ID === rec.ID)) out.push({ ID: rec.ID, Name: rec.Name });
  }
  return out;
}

/** Creates the builtin global-management policy when this datacenter does not have it yet (idempotent). */
export function ensureManagementPolicy(ctx: ApplyContext): void {
  if (ctx.tx.get(ACL_POLICIES_TABLE, GLOBAL_MANAGEMENT_POLICY_ID)) return;
  ctx.tx.put(ACL_POLICIES_TABLE, GLOBAL_MANAGEMENT_POLICY_ID, MANAGEMENT_POLICY(ctx.index));
  ctx.tx.put(ACL_POLICY_NAMES_TABLE, GLOBAL_MANAGEMENT_POLICY_NAME, GLOBAL_MANAGEMENT_POLICY_ID);
  notify(ctx, ACL_POLICIES_INDEX, GLOBAL_MANAGEMENT_POLICY_ID);
}

/**
 * Bootstraps ACLs: creates the builtin global-management policy if missing and the first
 * management token. Returns the token. Throws PermissionDeniedError once ACLs were bootstrapped.
 */
export function aclBootstrap(ctx: ApplyContext, cmd: AclBootstrapCommand): AclToken {
  const done = readTableIndex(ctx.tx, ACL_BOOTSTRAP_META);
  if (done > 0)
    throw new PermissionDeniedError(`Permission denied: ACL bootstrap no longer allowed (reset index: ${done})`);
  ensureManagementPolicy(ctx);
  const token: AclToken = {
    AccessorID: cmd.accessorId,
    SecretID: cmd.secretId,
    Description: 'Bootstrap Token (Global Management)',
    Policies: [{ ID: GLOBAL_MANAGEMENT_POLICY_ID, Name: GLOBAL_MANAGEMENT_POLICY_NAME }],
    Roles: [],
    Local: false,
    CreateTime: new Date(cmd.now).toISOString(),
    CreateIndex: ctx.index,
    ModifyIndex: ctx.index,
  };
  ctx.tx.put(ACL_TOKENS_TABLE, cmd.accessorId, token);
  ctx.tx.put(ACL_TOKEN_SECRETS_TABLE, cmd.secretId, cmd.accessorId);
  bumpTableIndex(ctx.tx, ACL_BOOTSTRAP_META, ctx.index);
  notify(ctx, ACL_TOKENS_INDEX, cmd.accessorId);
  return token;
}

/**
 * Creates (`create`) or replaces a record with a unique Name: refuses an existing ID on create, a
 * missing one on update, and a Name another record holds; `build` makes the record from the old one.
 */
function setNamed<T extends { ID: string; Name: string }>(
  ctx: ApplyContext,
  k: AclNamedKind,
  id: string,
  name: string,
  create: boolean,
  build: (old: T | undefined) => T,
): T {
  const old = ctx.tx.get<T>(k.table, id);
  if (create && old)
    throw new BadRequestError(
      `Invalid ${k.what}: a ${k.what.toLowerCase()} with ID ${JSON.stringify(id)} already exists`,
    );
  if (!create && !old) throw new NotFoundError(`Cannot find ${k.what.toLowerCase()} ${JSON.stringify(id)}`);
  const owner = ctx.tx.get<string>(k.names, name);
  if (owner !== undefined && owner !== id)
    throw new BadRequestError(`Invalid ${k.what}: A ${k.what} with Name ${JSON.stringify(name)} already exists`);
  const rec = build(old);
  if (old && old.Name !== name) ctx.tx.delete(k.names, old.Name);
  ctx.tx.put(k.table, id, rec);
  ctx.tx.put(k.names, name, id);
  notify(ctx, k.index, id);
  return rec;
}

/** Deletes a named record and its name; false when there was none. */
function deleteNamed(ctx: ApplyContext, k: AclNamedKind, id: string): boolean {
  const old = ctx.tx.get<{ Name: string }>(k.table, id);
  if (!old) return false;
  ctx.tx.delete(k.table, id);
  ctx.tx.delete(k.names, old.Name);
  notify(ctx, k.index, id);
  return true;
}

/** Removes `id` from the links of every token and role (Consul drops dangling links the same way). */
function unlink(ctx: ApplyContext, id: string, field: 'Policies' | 'Roles'): void {
  const tokens: AclToken[] = [];
  for (const [, t] of ctx.tx.range<AclToken>(ACL_TOKENS_TABLE)) if (t[field].some((l) => l.ID === id)) tokens.push(t);
  for (const t of tokens)
    ctx.tx.put(ACL_TOKENS_TABLE, t.AccessorID, {
      ...t,
      [field]: t[field].filter((l) => l.ID !== id),
      ModifyIndex: ctx.index,
    });
  if (tokens.length > 0) bumpTableIndex(ctx.tx, ACL_TOKENS_INDEX, ctx.index);
  if (field !== 'Policies') return;
  const roles: AclRole[] = [];
  for (const [, r] of ctx.tx.range<AclRole>(ACL_ROLES_TABLE)) if (r.Policies.some((l) => l.ID === id)) roles.push(r);
  for (const r of roles)
    ctx.tx.put(ACL_ROLES_TABLE, r.ID, {
      ...r,
      Policies: r.Policies.filter((l) => l.ID !== id),
      ModifyIndex: ctx.index,
    });
  if (roles.length > 0) bumpTableIndex(ctx.tx, ACL_ROLES_INDEX, ctx.index);
}

/**
 * Creates or replaces a policy (see setNamed for the ID and Name rules). The builtin
 * global-management policy keeps its Name and Rules (BadRequestError otherwise). Returns the policy.
 */
export function aclPolicySet(ctx: ApplyContext, cmd: AclPolicySetCommand): AclPolicy {
  const p = cmd.policy;
  if (p.ID === GLOBAL_MANAGEMENT_POLICY_ID) {
    const old = ctx.tx.get<AclPolicy>(ACL_POLICIES_TABLE, p.ID);
    if (p.Rules !== old?.Rules || p.Name !== GLOBAL_MANAGEMENT_POLICY_NAME)
      throw new BadRequestError('Changing the Rules or Name of the builtin global-management policy is not permitted');
  }
  return setNamed<AclPolicy>(ctx, ACL_POLICY_KIND, p.ID, p.Name, cmd.create, (old) => ({
    ID: p.ID,
    Name: p.Name,
    Description: p.Description,
    Rules: p.Rules,
    Datacenters: p.Datacenters,
    CreateIndex: old?.CreateIndex ?? ctx.index,
    ModifyIndex: ctx.index,
  }));
}

/**
 * Deletes a policy and drops it from every token and role. Returns false when there was none.
 * The builtin global-management policy is refused (BadRequestError).
 */
export function aclPolicyDelete(ctx: ApplyContext, id: string): boolean {
  if (id === GLOBAL_MANAGEMENT_POLICY_ID)
    throw new BadRequestError('Delete of the builtin global-management policy is not permitted');
  const gone = deleteNamed(ctx, ACL_POLICY_KIND, id);
  if (gone) unlink(ctx, id, 'Policies');
  return gone;
}

/**
 * Creates or replaces a role (see setNamed for the ID and Name rules), resolving its policy links
 * (BadRequestError naming a missing one). Returns the role.
 */
export function aclRoleSet(ctx: ApplyContext, cmd: AclRoleSetCommand): AclRole {
  const r = cmd.role;
  return setNamed<AclRole>(ctx, ACL_ROLE_KIND, r.ID, r.Name, cmd.create, (old) => ({
    ID: r.ID,
    Name: r.Name,
    Description: r.Description,
    Policies: resolveLinks(ctx.tx, r.Policies, 'policy'),
    CreateIndex: old?.CreateIndex ?? ctx.index,
    ModifyIndex: ctx.index,
  }));
}

/** Deletes a role and drops it from every token. Returns false when there was none. */
export function aclRoleDelete(ctx: ApplyContext, id: string): boolean {
  const gone = deleteNamed(ctx, ACL_ROLE_KIND, id);
  if (gone) unlink(ctx, id, 'Roles');
  return gone;
}

/**
 * Creates (`create`: BadRequestError if the AccessorID or SecretID is in use) or updates
 * (NotFoundError if missing) a token, resolving its links (BadRequestError naming a missing one).
 * An update keeps SecretID, CreateTime, ExpirationTime and AuthMethod. The anonymous token exists
 * implicitly: updating it creates its record, with its fixed secret. Returns the token.
 */
export function aclTokenSet(ctx: ApplyContext, cmd: AclTokenSetCommand): AclToken {
  const t = cmd.token;
  const accessor = t.AccessorID;
  const old = ctx.tx.get<AclToken>(ACL_TOKENS_TABLE, accessor);
  if (cmd.create && old)
    throw new BadRequestError(`Invalid Token: AccessorID ${JSON.stringify(accessor)} is already in use`);
  if (!cmd.create && !old && accessor !== ANONYMOUS_TOKEN_ID)
    throw new NotFoundError(`Cannot find token ${JSON.stringify(accessor)}`);
  const secret = accessor === ANONYMOUS_TOKEN_ID ? ANONYMOUS_TOKEN_SECRET : (old?.SecretID ?? t.SecretID);
  if (cmd.create) {
    const holder = ctx.tx.get<string>(ACL_TOKEN_SECRETS_TABLE, secret);
    if (holder !== undefined) throw new BadRequestError('Invalid Token: SecretID is already in use');
  }
  const expiration = old?.ExpirationTime ?? t.ExpirationTime;
  const authMethod = old?.AuthMethod ?? t.AuthMethod;
  const token: AclToken = {
    AccessorID: accessor,
    SecretID: secret,
    Description: t.Description,
    Policies: resolveLinks(ctx.tx, t.Policies, 'policy'),
    Roles: resolveLinks(ctx.tx, t.Roles, 'role'),
    Local: t.Local,
    CreateTime: old?.CreateTime ?? new Date(cmd.now).toISOString(),
    ...(expiration ? { ExpirationTime: expiration } : {}),
    ...(authMethod ? { AuthMethod: authMethod } : {}),
    CreateIndex: old?.CreateIndex ?? ctx.index,
    ModifyIndex: ctx.index,
  };
  ctx.tx.put(ACL_TOKENS_TABLE, accessor, token);
  ctx.tx.put(ACL_TOKEN_SECRETS_TABLE, secret, accessor);
  notify(ctx, ACL_TOKENS_INDEX, accessor);
  return token;
}

/**
 * Deletes a token and its secret. Returns false when there was none. The anonymous token is
 * refused (BadRequestError).
 */
export function aclTokenDelete(ctx: ApplyContext, accessor: string): boolean {
  if (accessor === ANONYMOUS_TOKEN_ID) throw new BadRequestError('Deletion of the anonymous token is not permitted');
  const old = ctx.tx.get<AclToken>(ACL_TOKENS_TABLE, accessor);
  if (!old) return false;
  ctx.tx.delete(ACL_TOKENS_TABLE, accessor);
  ctx.tx.delete(ACL_TOKEN_SECRETS_TABLE, old.SecretID);
  notify(ctx, ACL_TOKENS_INDEX, accessor);
  return true;
}

/**
 * Creates (`create`: BadRequestError if the Name is taken) or replaces (NotFoundError if missing)
 * an auth method. Returns the stored method.
 */
export function aclAuthMethodSet(ctx: ApplyContext, cmd: AclAuthMethodSetCommand): AclAuthMethod {
  const name = cmd.method.Name;
  const old = ctx.tx.get<AclAuthMethod>(ACL_AUTH_METHODS_TABLE, name);
  if (cmd.create && old)
    throw new BadRequestError(`Invalid Auth Method: an auth method named ${JSON.stringify(name)} already exists`);
  if (!cmd.create && !old) throw new NotFoundError(`Cannot find auth method ${JSON.stringify(name)}`);
  const method: AclAuthMethod = { ...cmd.method, CreateIndex: old?.CreateIndex ?? ctx.index, ModifyIndex: ctx.index };
  ctx.tx.put(ACL_AUTH_METHODS_TABLE, name, method);
  notify(ctx, ACL_AUTH_METHODS_INDEX, `method:${name}`);
  return method;
}

/**
 * Deletes an auth method together with its binding rules and the tokens it made. Returns false
 * when there was none.
 */
export function aclAuthMethodDelete(ctx: ApplyContext, name: string): boolean {
  if (!ctx.tx.get(ACL_AUTH_METHODS_TABLE, name)) return false;
  ctx.tx.delete(ACL_AUTH_METHODS_TABLE, name);
  const rules: string[] = [];
  for (const [id, r] of ctx.tx.range<AclBindingRule>(ACL_BINDING_RULES_TABLE))
    if (r.AuthMethod === name) rules.push(id);
  for (const id of rules) ctx.tx.delete(ACL_BINDING_RULES_TABLE, id);
  const tokens: AclToken[] = [];
  for (const [, t] of ctx.tx.range<AclToken>(ACL_TOKENS_TABLE)) if (t.AuthMethod === name) tokens.push(t);
  for (const t of tokens) {
    ctx.tx.delete(ACL_TOKENS_TABLE, t.AccessorID);
    ctx.tx.delete(ACL_TOKEN_SECRETS_TABLE, t.SecretID);
  }
  bumpTableIndex(ctx.tx, ACL_BINDING_RULES_INDEX, ctx.index);
  bumpTableIndex(ctx.tx, ACL_TOKENS_INDEX, ctx.index);
  notify(ctx, ACL_AUTH_METHODS_INDEX, `method:${name}`);
  return true;
}

/**
 * Creates (`create`: BadRequestError if the ID exists) or replaces (NotFoundError if missing) a
 * binding rule; its auth method must exist (BadRequestError). Returns the stored rule.
 */
export function aclBindingRuleSet(ctx: ApplyContext, cmd: AclBindingRuleSetCommand): AclBindingRule {
  const id = cmd.rule.ID;
  const old = ctx.tx.get<AclBindingRule>(ACL_BINDING_RULES_TABLE, id);
  if (cmd.create && old) throw new BadRequestError(`Invalid Binding Rule: ID ${JSON.stringify(id)} already exists`);
  if (!cmd.create && !old) throw new NotFoundError(`Cannot find binding rule ${JSON.stringify(id)}`);
  if (!ctx.tx.get(ACL_AUTH_METHODS_TABLE, cmd.rule.AuthMethod))
    throw new BadRequestError(`Invalid Binding Rule: auth method ${JSON.stringify(cmd.rule.AuthMethod)} not found`);
  const rule: AclBindingRule = { ...cmd.rule, CreateIndex: old?.CreateIndex ?? ctx.index, ModifyIndex: ctx.index };
  ctx.tx.put(ACL_BINDING_RULES_TABLE, id, rule);
  notify(ctx, ACL_BINDING_RULES_INDEX, id);
  return rule;
}

/** Deletes a binding rule. Returns false when there was none. */
export function aclBindingRuleDelete(ctx: ApplyContext, id: string): boolean {
  if (!ctx.tx.get(ACL_BINDING_RULES_TABLE, id)) return false;
  ctx.tx.delete(ACL_BINDING_RULES_TABLE, id);
  notify(ctx, ACL_BINDING_RULES_INDEX, id);
  return true;
}
