import { BadRequestError, CorruptError, NotFoundError, PermissionDeniedError } from '../errors.js';
import { bumpTableIndex, readTableIndex } from '../fsm/meta.js';
import type { ApplyContext, CommandHandler, StateModule } from '../fsm/state-machine.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';
import type { AclAuthMethod, AclBindingRule } from './auth-method.js';

/** ACL tables: records by id, and name/secret lookups. */
export const ACL_POLICIES_TABLE = 'acl_policies';
export const ACL_POLICY_NAMES_TABLE = 'acl_policy_names';
export const ACL_ROLES_TABLE = 'acl_roles';
export const ACL_ROLE_NAMES_TABLE = 'acl_role_names';
export const ACL_TOKENS_TABLE = 'acl_tokens';
export const ACL_TOKEN_SECRETS_TABLE = 'acl_token_secrets';
export const ACL_AUTH_METHODS_TABLE = 'acl_auth_methods';
export const ACL_BINDING_RULES_TABLE = 'acl_binding_rules';
/** Pseudo-table of change notifications (never carries records: tokens hold secrets). */
export const ACL_WATCH_TABLE = 'acl';
/** Table-index names for blocking queries on the lists. */
export const ACL_POLICIES_INDEX = 'acl-policies';
export const ACL_ROLES_INDEX = 'acl-roles';
export const ACL_TOKENS_INDEX = 'acl-tokens';
export const ACL_AUTH_METHODS_INDEX = 'acl-auth-methods';
export const ACL_BINDING_RULES_INDEX = 'acl-binding-rules';
/** Meta name recording the index ACLs were bootstrapped at (0: not yet). */
const BOOTSTRAP_META = 'acl-bootstrap';

/** The builtin policy that grants everything, as in Consul. */
export const GLOBAL_MANAGEMENT_POLICY_ID = '00000000-0000-0000-0000-000000000001';
export const GLOBAL_MANAGEMENT_POLICY_NAME = 'global-management';
/** The anonymous token: used when a request carries none. */
export const ANONYMOUS_TOKEN_ID = '00000000-0000-0000-0000-000000000002';
export const ANONYMOUS_TOKEN_SECRET = 'anonymous';

/** A link from a token or role to a policy or role. */
export interface AclLink {
  readonly ID: string;
  readonly Name: string;
}

/** A policy, in Consul's JSON shape. */
export interface AclPolicy {
  readonly ID: string;
  readonly Name: string;
  readonly Description: string;
  readonly Rules: string;
  readonly Datacenters: readonly string[];
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** A role: a named set of policies. */
export interface AclRole {
  readonly ID: string;
  readonly Name: string;
  readonly Description: string;
  readonly Policies: readonly AclLink[];
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** A token, in Consul's JSON shape. `SecretID` is the credential. */
export interface AclToken {
  readonly AccessorID: string;
  readonly SecretID: string;
  readonly Description: string;
  readonly Policies: readonly AclLink[];
  readonly Roles: readonly AclLink[];
  readonly Local: boolean;
  readonly CreateTime: string;
  /** RFC 3339; absent: never expires. */
  readonly ExpirationTime?: string;
  /** Set for tokens made by /v1/acl/login. */
  readonly AuthMethod?: string;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** Creates the first management token; refused once done. */
export interface AclBootstrapCommand {
  readonly type: 'acl.bootstrap';
  readonly accessorId: string;
  readonly secretId: string;
  readonly now: number;
}
/** Creates or replaces a policy (ID chosen by the proposer for a new one). */
export interface AclPolicySetCommand {
  readonly type: 'acl.policy.set';
  readonly policy: Pick<AclPolicy, 'ID' | 'Name' | 'Description' | 'Rules' | 'Datacenters'>;
  /** True to create: fails if the ID exists; false: the ID must exist. */
  readonly create: boolean;
}
export interface AclPolicyDeleteCommand {
  readonly type: 'acl.policy.delete';
  readonly id: string;
}
export interface AclRoleSetCommand {
  readonly type: 'acl.role.set';
  readonly role: Pick<AclRole, 'ID' | 'Name' | 'Description'> & {
    readonly Policies: readonly { readonly ID?: string; readonly Name?: string }[];
  };
  readonly create: boolean;
}
export interface AclRoleDeleteCommand {
  readonly type: 'acl.role.delete';
  readonly id: string;
}
export interface AclTokenSetCommand {
  readonly type: 'acl.token.set';
  readonly token: {
    readonly AccessorID: string;
    readonly SecretID: string;
    readonly Description: string;
    readonly Policies: readonly { readonly ID?: string; readonly Name?: string }[];
    readonly Roles: readonly { readonly ID?: string; readonly Name?: string }[];
    readonly Local: boolean;
    readonly ExpirationTime?: string;
    readonly AuthMethod?: string;
  };
  readonly create: boolean;
  readonly now: number;
}
export interface AclTokenDeleteCommand {
  readonly type: 'acl.token.delete';
  readonly accessorId: string;
}

const MANAGEMENT_POLICY = (index: number): AclPolicy => ({
  ID: GLOBAL_MANAGEMENT_POLICY_ID,
  Name: GLOBAL_MANAGEMENT_POLICY_NAME,
  Description: 'Builtin Policy that grants unlimited access',
  Rules: '',
  Datacenters: [],
  CreateIndex: index,
  ModifyIndex: index,
});

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string') throw new CorruptError(`${what} must be a string`);
  return v;
};

function notify(ctx: ApplyContext, index: string, key: string): void {
  bumpTableIndex(ctx.tx, index, ctx.index);
  ctx.changed({ table: ACL_WATCH_TABLE, key });
}

/** Resolves links by ID or Name to existing records; throws BadRequestError naming a missing one. */
function resolveLinks(
  tx: ReadTxn,
  links: readonly { readonly ID?: string; readonly Name?: string }[],
  kind: 'policy' | 'role',
): AclLink[] {
  const table = kind === 'policy' ? ACL_POLICIES_TABLE : ACL_ROLES_TABLE;
  const names = kind === 'policy' ? ACL_POLICY_NAMES_TABLE : ACL_ROLE_NAMES_TABLE;
  const out: AclLink[] = [];
  for (const l of links) {
    if (!isObj(l)) throw new CorruptError(`${kind} link must be an object`);
    const id =
      typeof l.ID === 'string' && l.ID !== ''
        ? l.ID
        : typeof l.Name === 'string'
          ? tx.get<string>(names, l.Name)
          : undefined;
    const rec = id === undefined ? undefined : tx.get<{ ID: string; Name: string }>(table, id);
    if (!rec) throw new BadRequestError(`cannot find ${kind} ${JSON.stringify(l.ID || l.Name || '')}`);
    if (!out.some((o) => o.ID === rec.ID)) out.push({ ID: rec.ID, Name: rec.Name });
  }
  return out;
}

function ensureManagementPolicy(ctx: ApplyContext): void {
  if (ctx.tx.get(ACL_POLICIES_TABLE, GLOBAL_MANAGEMENT_POLICY_ID)) return;
  ctx.tx.put(ACL_POLICIES_TABLE, GLOBAL_MANAGEMENT_POLICY_ID, MANAGEMENT_POLICY(ctx.index));
  ctx.tx.put(ACL_POLICY_NAMES_TABLE, GLOBAL_MANAGEMENT_POLICY_NAME, GLOBAL_MANAGEMENT_POLICY_ID);
  notify(ctx, ACL_POLICIES_INDEX, GLOBAL_MANAGEMENT_POLICY_ID);
}

const bootstrap: CommandHandler = {
  apply(ctx, cmd) {
    const c = cmd as unknown as AclBootstrapCommand;
    const accessor = str(c.accessorId, 'acl.bootstrap accessorId');
    const secret = str(c.secretId, 'acl.bootstrap secretId');
    const done = readTableIndex(ctx.tx, BOOTSTRAP_META);
    if (done > 0)
      throw new PermissionDeniedError(`Permission denied: ACL bootstrap no longer allowed (reset index: ${done})`);
    ensureManagementPolicy(ctx);
    const token: AclToken = {
      AccessorID: accessor,
      SecretID: secret,
      Description: 'Bootstrap Token (Global Management)',
      Policies: [{ ID: GLOBAL_MANAGEMENT_POLICY_ID, Name: GLOBAL_MANAGEMENT_POLICY_NAME }],
      Roles: [],
      Local: false,
      CreateTime: new Date(c.now).toISOString(),
      CreateIndex: ctx.index,
      ModifyIndex: ctx.index,
    };
    ctx.tx.put(ACL_TOKENS_TABLE, accessor, token);
    ctx.tx.put(ACL_TOKEN_SECRETS_TABLE, secret, accessor);
    bumpTableIndex(ctx.tx, BOOTSTRAP_META, ctx.index);
    notify(ctx, ACL_TOKENS_INDEX, accessor);
    return token;
  },
};

/** Where a kind of named record lives: records by ID, IDs by Name, the list's index. */
interface NamedKind {
  readonly what: 'Policy' | 'Role';
  readonly table: string;
  readonly names: string;
  readonly index: string;
}
const POLICY_KIND: NamedKind = {
  what: 'Policy',
  table: ACL_POLICIES_TABLE,
  names: ACL_POLICY_NAMES_TABLE,
  index: ACL_POLICIES_INDEX,
};
const ROLE_KIND: NamedKind = {
  what: 'Role',
  table: ACL_ROLES_TABLE,
  names: ACL_ROLE_NAMES_TABLE,
  index: ACL_ROLES_INDEX,
};

/**
 * Creates (`create`) or replaces a record with a unique Name: refuses an existing ID on create, a
 * missing one on update, and a Name another record holds; `build` makes the record from the old one.
 */
function setNamed<T extends { ID: string; Name: string }>(
  ctx: ApplyContext,
  k: NamedKind,
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
function deleteNamed(ctx: ApplyContext, k: NamedKind, id: string): boolean {
  const old = ctx.tx.get<{ Name: string }>(k.table, id);
  if (!old) return false;
  ctx.tx.delete(k.table, id);
  ctx.tx.delete(k.names, old.Name);
  notify(ctx, k.index, id);
  return true;
}

const policySet: CommandHandler = {
  apply(ctx, cmd) {
    const c = cmd as unknown as AclPolicySetCommand;
    if (!isObj(c.policy)) throw new CorruptError('acl.policy.set: malformed policy');
    const id = str(c.policy.ID, 'policy ID');
    const name = str(c.policy.Name, 'policy Name');
    if (id === GLOBAL_MANAGEMENT_POLICY_ID) {
      const old = ctx.tx.get<AclPolicy>(ACL_POLICIES_TABLE, id);
      if (c.policy.Rules !== old?.Rules || name !== GLOBAL_MANAGEMENT_POLICY_NAME)
        throw new BadRequestError(
          'Changing the Rules or Name of the builtin global-management policy is not permitted',
        );
    }
    return setNamed<AclPolicy>(ctx, POLICY_KIND, id, name, c.create, (old) => ({
      ID: id,
      Name: name,
      Description: str(c.policy.Description, 'policy Description'),
      Rules: str(c.policy.Rules, 'policy Rules'),
      Datacenters: Array.isArray(c.policy.Datacenters)
        ? c.policy.Datacenters.map((d) => str(d, 'policy Datacenters'))
        : [],
      CreateIndex: old?.CreateIndex ?? ctx.index,
      ModifyIndex: ctx.index,
    }));
  },
};

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

const policyDelete: CommandHandler = {
  apply(ctx, cmd) {
    const id = str((cmd as unknown as AclPolicyDeleteCommand).id, 'policy id');
    if (id === GLOBAL_MANAGEMENT_POLICY_ID)
      throw new BadRequestError('Delete of the builtin global-management policy is not permitted');
    const gone = deleteNamed(ctx, POLICY_KIND, id);
    if (gone) unlink(ctx, id, 'Policies');
    return gone;
  },
};

const roleSet: CommandHandler = {
  apply(ctx, cmd) {
    const c = cmd as unknown as AclRoleSetCommand;
    if (!isObj(c.role)) throw new CorruptError('acl.role.set: malformed role');
    const id = str(c.role.ID, 'role ID');
    const name = str(c.role.Name, 'role Name');
    return setNamed<AclRole>(ctx, ROLE_KIND, id, name, c.create, (old) => ({
      ID: id,
      Name: name,
      Description: str(c.role.Description, 'role Description'),
      Policies: resolveLinks(ctx.tx, Array.isArray(c.role.Policies) ? c.role.Policies : [], 'policy'),
      CreateIndex: old?.CreateIndex ?? ctx.index,
      ModifyIndex: ctx.index,
    }));
  },
};

const roleDelete: CommandHandler = {
  apply(ctx, cmd) {
    const id = str((cmd as unknown as AclRoleDeleteCommand).id, 'role id');
    const gone = deleteNamed(ctx, ROLE_KIND, id);
    if (gone) unlink(ctx, id, 'Roles');
    return gone;
  },
};

const tokenSet: CommandHandler = {
  apply(ctx, cmd) {
    const c = cmd as unknown as AclTokenSetCommand;
    if (!isObj(c.token)) throw new CorruptError('acl.token.set: malformed token');
    const accessor = str(c.token.AccessorID, 'token AccessorID');
    const old = ctx.tx.get<AclToken>(ACL_TOKENS_TABLE, accessor);
    // The anonymous token exists implicitly; updating it creates its record.
    if (c.create && old)
      throw new BadRequestError(`Invalid Token: AccessorID ${JSON.stringify(accessor)} is already in use`);
    if (!c.create && !old && accessor !== ANONYMOUS_TOKEN_ID)
      throw new NotFoundError(`Cannot find token ${JSON.stringify(accessor)}`);
    const secret =
      accessor === ANONYMOUS_TOKEN_ID
        ? ANONYMOUS_TOKEN_SECRET
        : (old?.SecretID ?? str(c.token.SecretID, 'token SecretID'));
    if (c.create) {
      const holder = ctx.tx.get<string>(ACL_TOKEN_SECRETS_TABLE, secret);
      if (holder !== undefined) throw new BadRequestError('Invalid Token: SecretID is already in use');
    }
    const token: AclToken = {
      AccessorID: accessor,
      SecretID: secret,
      Description: str(c.token.Description, 'token Description'),
      Policies: resolveLinks(ctx.tx, Array.isArray(c.token.Policies) ? c.token.Policies : [], 'policy'),
      Roles: resolveLinks(ctx.tx, Array.isArray(c.token.Roles) ? c.token.Roles : [], 'role'),
      Local: c.token.Local === true,
      CreateTime: old?.CreateTime ?? new Date(c.now).toISOString(),
      ...((old?.ExpirationTime ?? c.token.ExpirationTime)
        ? { ExpirationTime: old?.ExpirationTime ?? str(c.token.ExpirationTime, 'token ExpirationTime') }
        : {}),
      ...((old?.AuthMethod ?? c.token.AuthMethod)
        ? { AuthMethod: old?.AuthMethod ?? str(c.token.AuthMethod, 'token AuthMethod') }
        : {}),
      CreateIndex: old?.CreateIndex ?? ctx.index,
      ModifyIndex: ctx.index,
    };
    ctx.tx.put(ACL_TOKENS_TABLE, accessor, token);
    ctx.tx.put(ACL_TOKEN_SECRETS_TABLE, secret, accessor);
    notify(ctx, ACL_TOKENS_INDEX, accessor);
    return token;
  },
};

const tokenDelete: CommandHandler = {
  apply(ctx, cmd) {
    const accessor = str((cmd as unknown as AclTokenDeleteCommand).accessorId, 'token accessorId');
    if (accessor === ANONYMOUS_TOKEN_ID) throw new BadRequestError('Deletion of the anonymous token is not permitted');
    const old = ctx.tx.get<AclToken>(ACL_TOKENS_TABLE, accessor);
    if (!old) return false;
    ctx.tx.delete(ACL_TOKENS_TABLE, accessor);
    ctx.tx.delete(ACL_TOKEN_SECRETS_TABLE, old.SecretID);
    notify(ctx, ACL_TOKENS_INDEX, accessor);
    return true;
  },
};

/** Creates or replaces an auth method (by Name). */
export interface AclAuthMethodSetCommand {
  readonly type: 'acl.auth-method.set';
  readonly method: Omit<AclAuthMethod, 'CreateIndex' | 'ModifyIndex'>;
  readonly create: boolean;
}
/** Deletes an auth method with its binding rules and the tokens it made. */
export interface AclAuthMethodDeleteCommand {
  readonly type: 'acl.auth-method.delete';
  readonly name: string;
}
export interface AclBindingRuleSetCommand {
  readonly type: 'acl.binding-rule.set';
  readonly rule: Omit<AclBindingRule, 'CreateIndex' | 'ModifyIndex'>;
  readonly create: boolean;
}
export interface AclBindingRuleDeleteCommand {
  readonly type: 'acl.binding-rule.delete';
  readonly id: string;
}

const authMethodSet: CommandHandler = {
  apply(ctx, cmd) {
    const c = cmd as unknown as AclAuthMethodSetCommand;
    if (!isObj(c.method)) throw new CorruptError('acl.auth-method.set: malformed method');
    const name = str(c.method.Name, 'auth method Name');
    const old = ctx.tx.get<AclAuthMethod>(ACL_AUTH_METHODS_TABLE, name);
    if (c.create && old)
      throw new BadRequestError(`Invalid Auth Method: an auth method named ${JSON.stringify(name)} already exists`);
    if (!c.create && !old) throw new NotFoundError(`Cannot find auth method ${JSON.stringify(name)}`);
    const method: AclAuthMethod = { ...c.method, CreateIndex: old?.CreateIndex ?? ctx.index, ModifyIndex: ctx.index };
    ctx.tx.put(ACL_AUTH_METHODS_TABLE, name, method);
    notify(ctx, ACL_AUTH_METHODS_INDEX, `method:${name}`);
    return method;
  },
};

const authMethodDelete: CommandHandler = {
  apply(ctx, cmd) {
    const name = str((cmd as unknown as AclAuthMethodDeleteCommand).name, 'auth method name');
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
  },
};

const bindingRuleSet: CommandHandler = {
  apply(ctx, cmd) {
    const c = cmd as unknown as AclBindingRuleSetCommand;
    if (!isObj(c.rule)) throw new CorruptError('acl.binding-rule.set: malformed rule');
    const id = str(c.rule.ID, 'binding rule ID');
    const old = ctx.tx.get<AclBindingRule>(ACL_BINDING_RULES_TABLE, id);
    if (c.create && old) throw new BadRequestError(`Invalid Binding Rule: ID ${JSON.stringify(id)} already exists`);
    if (!c.create && !old) throw new NotFoundError(`Cannot find binding rule ${JSON.stringify(id)}`);
    if (!ctx.tx.get(ACL_AUTH_METHODS_TABLE, str(c.rule.AuthMethod, 'binding rule AuthMethod')))
      throw new BadRequestError(`Invalid Binding Rule: auth method ${JSON.stringify(c.rule.AuthMethod)} not found`);
    const rule: AclBindingRule = { ...c.rule, CreateIndex: old?.CreateIndex ?? ctx.index, ModifyIndex: ctx.index };
    ctx.tx.put(ACL_BINDING_RULES_TABLE, id, rule);
    notify(ctx, ACL_BINDING_RULES_INDEX, id);
    return rule;
  },
};

const bindingRuleDelete: CommandHandler = {
  apply(ctx, cmd) {
    const id = str((cmd as unknown as AclBindingRuleDeleteCommand).id, 'binding rule id');
    if (!ctx.tx.get(ACL_BINDING_RULES_TABLE, id)) return false;
    ctx.tx.delete(ACL_BINDING_RULES_TABLE, id);
    notify(ctx, ACL_BINDING_RULES_INDEX, id);
    return true;
  },
};

/** The ACL module: policies, roles, tokens and the one-time bootstrap, all replicated. */
export const aclModule: StateModule = {
  tables: [
    ACL_POLICIES_TABLE,
    ACL_POLICY_NAMES_TABLE,
    ACL_ROLES_TABLE,
    ACL_ROLE_NAMES_TABLE,
    ACL_TOKENS_TABLE,
    ACL_TOKEN_SECRETS_TABLE,
    ACL_AUTH_METHODS_TABLE,
    ACL_BINDING_RULES_TABLE,
  ],
  handlers: {
    'acl.bootstrap': bootstrap,
    'acl.policy.set': policySet,
    'acl.policy.delete': policyDelete,
    'acl.role.set': roleSet,
    'acl.role.delete': roleDelete,
    'acl.token.set': tokenSet,
    'acl.token.delete': tokenDelete,
    'acl.auth-method.set': authMethodSet,
    'acl.auth-method.delete': authMethodDelete,
    'acl.binding-rule.set': bindingRuleSet,
    'acl.binding-rule.delete': bindingRuleDelete,
  },
};

// ---- queries --------------------------------------------------------------------------------------

/** The anonymous token as it stands (its record once updated, otherwise the implicit one). */
export function anonymousToken(tx: ReadTxn): AclToken {
  return (
    tx.get<AclToken>(ACL_TOKENS_TABLE, ANONYMOUS_TOKEN_ID) ?? {
      AccessorID: ANONYMOUS_TOKEN_ID,
      SecretID: ANONYMOUS_TOKEN_SECRET,
      Description: 'Anonymous Token',
      Policies: [],
      Roles: [],
      Local: false,
      CreateTime: new Date(0).toISOString(),
      CreateIndex: 0,
      ModifyIndex: 0,
    }
  );
}

/** The token whose SecretID is `secret`, if any (the anonymous one for "anonymous"). */
export function tokenBySecret(tx: ReadTxn, secret: string): AclToken | undefined {
  if (secret === ANONYMOUS_TOKEN_SECRET) return anonymousToken(tx);
  const accessor = tx.get<string>(ACL_TOKEN_SECRETS_TABLE, secret);
  return accessor === undefined ? undefined : tx.get<AclToken>(ACL_TOKENS_TABLE, accessor);
}

/** A token by AccessorID (the anonymous one included). */
export function tokenByAccessor(tx: ReadTxn, accessor: string): AclToken | undefined {
  return accessor === ANONYMOUS_TOKEN_ID ? anonymousToken(tx) : tx.get<AclToken>(ACL_TOKENS_TABLE, accessor);
}

/** Every token, the anonymous one first. Index: the tokens' table index. */
export function listTokens(tx: ReadTxn): Indexed<AclToken[]> {
  const value = [anonymousToken(tx)];
  for (const [id, t] of tx.range<AclToken>(ACL_TOKENS_TABLE)) if (id !== ANONYMOUS_TOKEN_ID) value.push(t);
  return { index: readTableIndex(tx, ACL_TOKENS_INDEX), value };
}

const byId =
  <T>(k: NamedKind) =>
  (tx: ReadTxn, id: string): T | undefined =>
    tx.get<T>(k.table, id);
const byName =
  <T>(k: NamedKind) =>
  (tx: ReadTxn, name: string): T | undefined => {
    const id = tx.get<string>(k.names, name);
    return id === undefined ? undefined : tx.get<T>(k.table, id);
  };
const listAll =
  <T>(k: NamedKind) =>
  (tx: ReadTxn): Indexed<T[]> => {
    const value: T[] = [];
    for (const [, r] of tx.range<T>(k.table)) value.push(r);
    return { index: readTableIndex(tx, k.index), value };
  };

/** A policy by ID. */
export const getPolicy = byId<AclPolicy>(POLICY_KIND);
/** A policy by Name. */
export const policyByName = byName<AclPolicy>(POLICY_KIND);
/** Every policy, by ID order. Index: the policies' table index. */
export const listPolicies = listAll<AclPolicy>(POLICY_KIND);
/** A role by ID. */
export const getRole = byId<AclRole>(ROLE_KIND);
/** A role by Name. */
export const roleByName = byName<AclRole>(ROLE_KIND);
/** Every role, by ID order. Index: the roles' table index. */
export const listRoles = listAll<AclRole>(ROLE_KIND);

/** An auth method by name. */
export function getAuthMethod(tx: ReadTxn, name: string): AclAuthMethod | undefined {
  return tx.get<AclAuthMethod>(ACL_AUTH_METHODS_TABLE, name);
}

/** Every auth method. Index: the auth methods' table index. */
export function listAuthMethods(tx: ReadTxn): Indexed<AclAuthMethod[]> {
  const value: AclAuthMethod[] = [];
  for (const [, m] of tx.range<AclAuthMethod>(ACL_AUTH_METHODS_TABLE)) value.push(m);
  return { index: readTableIndex(tx, ACL_AUTH_METHODS_INDEX), value };
}

/** A binding rule by ID. */
export function getBindingRule(tx: ReadTxn, id: string): AclBindingRule | undefined {
  return tx.get<AclBindingRule>(ACL_BINDING_RULES_TABLE, id);
}

/** Binding rules, of one auth method when `method` is given. Index: the rules' table index. */
export function listBindingRules(tx: ReadTxn, method?: string): Indexed<AclBindingRule[]> {
  const value: AclBindingRule[] = [];
  for (const [, r] of tx.range<AclBindingRule>(ACL_BINDING_RULES_TABLE))
    if (method === undefined || r.AuthMethod === method) value.push(r);
  return { index: readTableIndex(tx, ACL_BINDING_RULES_INDEX), value };
}

/** The index ACLs were bootstrapped at, or 0. */
export function bootstrapIndex(tx: ReadTxn): number {
  return readTableIndex(tx, BOOTSTRAP_META);
}
