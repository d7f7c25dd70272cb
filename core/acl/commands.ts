import { CorruptError } from '../errors.js';
import { type Command, field } from '../fsm/command.js';
import { type AclAuthMethod, type AclBindingRule, isJwks, type JwtConfig } from './auth-method.js';
import type { AclPolicy, AclRole } from './types.js';

/** A link as a request gives it: by ID, or by Name when the ID is absent or empty. */
export interface AclLinkInput {
  readonly ID?: string;
  readonly Name?: string;
}

/** Creates the first management token; refused once done. `now`: ms since epoch, the proposer's clock. */
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
/** Deletes a policy and every link to it. Result: false when there was none. */
export interface AclPolicyDeleteCommand {
  readonly type: 'acl.policy.delete';
  readonly id: string;
}
/** Creates (`create`) or replaces a role; its policy links are resolved when applied. */
export interface AclRoleSetCommand {
  readonly type: 'acl.role.set';
  readonly role: Pick<AclRole, 'ID' | 'Name' | 'Description'> & { readonly Policies: readonly AclLinkInput[] };
  readonly create: boolean;
}
/** Deletes a role and every link to it. Result: false when there was none. */
export interface AclRoleDeleteCommand {
  readonly type: 'acl.role.delete';
  readonly id: string;
}
/**
 * Creates (`create`) or updates a token; links are resolved when applied. An update keeps the
 * stored SecretID, CreateTime, ExpirationTime and AuthMethod. `now`: ms since epoch.
 */
export interface AclTokenSetCommand {
  readonly type: 'acl.token.set';
  readonly token: {
    readonly AccessorID: string;
    readonly SecretID: string;
    readonly Description: string;
    readonly Policies: readonly AclLinkInput[];
    readonly Roles: readonly AclLinkInput[];
    readonly Local: boolean;
    readonly ExpirationTime?: string;
    readonly AuthMethod?: string;
  };
  readonly create: boolean;
  readonly now: number;
}
/** Deletes a token (never the anonymous one). Result: false when there was none. */
export interface AclTokenDeleteCommand {
  readonly type: 'acl.token.delete';
  readonly accessorId: string;
}
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
/** Creates (`create`) or replaces a binding rule of an existing auth method. */
export interface AclBindingRuleSetCommand {
  readonly type: 'acl.binding-rule.set';
  readonly rule: Omit<AclBindingRule, 'CreateIndex' | 'ModifyIndex'>;
  readonly create: boolean;
}
/** Deletes a binding rule. Result: false when there was none. */
export interface AclBindingRuleDeleteCommand {
  readonly type: 'acl.binding-rule.delete';
  readonly id: string;
}

/** Every ACL command. */
export type AclCommand =
  | AclBootstrapCommand
  | AclPolicySetCommand
  | AclPolicyDeleteCommand
  | AclRoleSetCommand
  | AclRoleDeleteCommand
  | AclTokenSetCommand
  | AclTokenDeleteCommand
  | AclAuthMethodSetCommand
  | AclAuthMethodDeleteCommand
  | AclBindingRuleSetCommand
  | AclBindingRuleDeleteCommand;

// ---- typed field readers --------------------------------------------------------------------------
// Commands come from validated requests; a field of the wrong shape means corruption (CorruptError).

type Fields = Readonly<Record<string, unknown>>;

const isMap = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isStringMap = (v: unknown): v is Record<string, string> =>
  isMap(v) && Object.values(v).every((x) => typeof x === 'string');
/** Absent (undefined, or null as msgpack may give it) or of the shape `ok` accepts. */
const absentOr = (v: unknown, ok: (x: unknown) => boolean): boolean => v === undefined || v === null || ok(v);

/** Readers of one field of a map; `where` names the map in the CorruptError. */
const read = {
  map(o: Fields, name: string, where: string): Fields {
    const v = o[name];
    if (!isMap(v)) throw new CorruptError(`${where}: malformed ${name}`);
    return v;
  },
  string(o: Fields, name: string, where: string): string {
    const v = o[name];
    if (typeof v !== 'string') throw new CorruptError(`${where}: ${name} must be a string`);
    return v;
  },
  optionalString(o: Fields, name: string, where: string): string | undefined {
    const v = o[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new CorruptError(`${where}: ${name} must be a string`);
    return v;
  },
  boolean(o: Fields, name: string, where: string): boolean {
    const v = o[name];
    if (typeof v !== 'boolean') throw new CorruptError(`${where}: ${name} must be true or false`);
    return v;
  },
  strings(o: Fields, name: string, where: string): string[] {
    const v = o[name];
    if (!isStringList(v)) throw new CorruptError(`${where}: ${name} must be a list of strings`);
    return v;
  },
  links(o: Fields, name: string, where: string): AclLinkInput[] {
    const v = o[name];
    if (!Array.isArray(v)) throw new CorruptError(`${where}: ${name} must be a list of links`);
    return v.map((l: unknown, i) => {
      if (!isMap(l)) throw new CorruptError(`${where}: ${name}[${i}] must be an object`);
      const id = read.optionalString(l, 'ID', `${where}: ${name}[${i}]`);
      const linkName = read.optionalString(l, 'Name', `${where}: ${name}[${i}]`);
      return { ...(id !== undefined ? { ID: id } : {}), ...(linkName !== undefined ? { Name: linkName } : {}) };
    });
  },
};

/** A JWT auth method's Config as the route stores it (parseJwtConfig's output), checked field by field. */
function isJwtConfig(v: unknown): v is JwtConfig {
  return (
    isMap(v) &&
    absentOr(v['JWTValidationPubKeys'], isStringList) &&
    absentOr(v['JWKS'], isJwks) &&
    absentOr(v['BoundIssuer'], (x) => typeof x === 'string') &&
    absentOr(v['BoundAudiences'], isStringList) &&
    absentOr(v['ClaimMappings'], isStringMap) &&
    absentOr(v['ListClaimMappings'], isStringMap) &&
    absentOr(v['JWTSupportedAlgs'], isStringList) &&
    absentOr(v['ClockSkewLeeway'], (x) => typeof x === 'number')
  );
}

/** Reads an `acl.bootstrap` command. Throws CorruptError naming a malformed field. */
export function readAclBootstrap(cmd: Command): AclBootstrapCommand {
  return {
    type: 'acl.bootstrap',
    accessorId: field.string(cmd, 'accessorId'),
    secretId: field.string(cmd, 'secretId'),
    now: field.index(cmd, 'now'),
  };
}

/** Reads an `acl.policy.set` command. Throws CorruptError naming a malformed field. */
export function readAclPolicySet(cmd: Command): AclPolicySetCommand {
  const where = cmd.type;
  const p = read.map(cmd, 'policy', where);
  return {
    type: 'acl.policy.set',
    policy: {
      ID: read.string(p, 'ID', where),
      Name: read.string(p, 'Name', where),
      Description: read.string(p, 'Description', where),
      Rules: read.string(p, 'Rules', where),
      Datacenters: read.strings(p, 'Datacenters', where),
    },
    create: read.boolean(cmd, 'create', where),
  };
}

/** Reads an `acl.policy.delete` command. Throws CorruptError naming a malformed field. */
export function readAclPolicyDelete(cmd: Command): AclPolicyDeleteCommand {
  return { type: 'acl.policy.delete', id: field.string(cmd, 'id') };
}

/** Reads an `acl.role.set` command. Throws CorruptError naming a malformed field. */
export function readAclRoleSet(cmd: Command): AclRoleSetCommand {
  const where = cmd.type;
  const r = read.map(cmd, 'role', where);
  return {
    type: 'acl.role.set',
    role: {
      ID: read.string(r, 'ID', where),
      Name: read.string(r, 'Name', where),
      Description: read.string(r, 'Description', where),
      Policies: read.links(r, 'Policies', where),
    },
    create: read.boolean(cmd, 'create', where),
  };
}

/** Reads an `acl.role.delete` command. Throws CorruptError naming a malformed field. */
export function readAclRoleDelete(cmd: Command): AclRoleDeleteCommand {
  return { type: 'acl.role.delete', id: field.string(cmd, 'id') };
}

/** Reads an `acl.token.set` command. Throws CorruptError naming a malformed field. */
export function readAclTokenSet(cmd: Command): AclTokenSetCommand {
  const where = cmd.type;
  const t = read.map(cmd, 'token', where);
  const expiration = read.optionalString(t, 'ExpirationTime', where);
  const authMethod = read.optionalString(t, 'AuthMethod', where);
  return {
    type: 'acl.token.set',
    token: {
      AccessorID: read.string(t, 'AccessorID', where),
      SecretID: read.string(t, 'SecretID', where),
      Description: read.string(t, 'Description', where),
      Policies: read.links(t, 'Policies', where),
      Roles: read.links(t, 'Roles', where),
      Local: read.boolean(t, 'Local', where),
      ...(expiration !== undefined ? { ExpirationTime: expiration } : {}),
      ...(authMethod !== undefined ? { AuthMethod: authMethod } : {}),
    },
    create: read.boolean(cmd, 'create', where),
    now: field.index(cmd, 'now'),
  };
}

/** Reads an `acl.token.delete` command. Throws CorruptError naming a malformed field. */
export function readAclTokenDelete(cmd: Command): AclTokenDeleteCommand {
  return { type: 'acl.token.delete', accessorId: field.string(cmd, 'accessorId') };
}

/** Reads an `acl.auth-method.set` command (only type `jwt`). Throws CorruptError naming a malformed field. */
export function readAclAuthMethodSet(cmd: Command): AclAuthMethodSetCommand {
  const where = cmd.type;
  const m = read.map(cmd, 'method', where);
  if (m['Type'] !== 'jwt') throw new CorruptError(`${where}: Type must be "jwt"`);
  const config = m['Config'];
  if (!isJwtConfig(config)) throw new CorruptError(`${where}: malformed Config`);
  return {
    type: 'acl.auth-method.set',
    method: {
      Name: read.string(m, 'Name', where),
      Type: 'jwt',
      DisplayName: read.string(m, 'DisplayName', where),
      Description: read.string(m, 'Description', where),
      MaxTokenTTL: read.string(m, 'MaxTokenTTL', where),
      Config: config,
    },
    create: read.boolean(cmd, 'create', where),
  };
}

/** Reads an `acl.auth-method.delete` command. Throws CorruptError naming a malformed field. */
export function readAclAuthMethodDelete(cmd: Command): AclAuthMethodDeleteCommand {
  return { type: 'acl.auth-method.delete', name: field.string(cmd, 'name') };
}

/** Reads an `acl.binding-rule.set` command. Throws CorruptError naming a malformed field. */
export function readAclBindingRuleSet(cmd: Command): AclBindingRuleSetCommand {
  const where = cmd.type;
  const r = read.map(cmd, 'rule', where);
  const bindType = r['BindType'];
  if (bindType !== 'role' && bindType !== 'policy')
    throw new CorruptError(`${where}: BindType must be "role" or "policy"`);
  return {
    type: 'acl.binding-rule.set',
    rule: {
      ID: read.string(r, 'ID', where),
      Description: read.string(r, 'Description', where),
      AuthMethod: read.string(r, 'AuthMethod', where),
      Selector: read.string(r, 'Selector', where),
      BindType: bindType,
      BindName: read.string(r, 'BindName', where),
    },
    create: read.boolean(cmd, 'create', where),
  };
}

/** Reads an `acl.binding-rule.delete` command. Throws CorruptError naming a malformed field. */
export function readAclBindingRuleDelete(cmd: Command): AclBindingRuleDeleteCommand {
  return { type: 'acl.binding-rule.delete', id: field.string(cmd, 'id') };
}
