/** StateStore table of policies, keyed by policy ID. */
export const ACL_POLICIES_TABLE = 'acl_policies';
/** StateStore table mapping a policy Name to its ID (Names are unique). */
export const ACL_POLICY_NAMES_TABLE = 'acl_policy_names';
/** StateStore table of roles, keyed by role ID. */
export const ACL_ROLES_TABLE = 'acl_roles';
/** StateStore table mapping a role Name to its ID (Names are unique). */
export const ACL_ROLE_NAMES_TABLE = 'acl_role_names';
/** StateStore table of tokens, keyed by AccessorID. */
export const ACL_TOKENS_TABLE = 'acl_tokens';
/** StateStore table mapping a token's SecretID to its AccessorID. */
export const ACL_TOKEN_SECRETS_TABLE = 'acl_token_secrets';
/** StateStore table of auth methods, keyed by Name. */
export const ACL_AUTH_METHODS_TABLE = 'acl_auth_methods';
/** StateStore table of binding rules, keyed by rule ID. */
export const ACL_BINDING_RULES_TABLE = 'acl_binding_rules';
/** Pseudo-table of change notifications (never carries records: tokens hold secrets). */
export const ACL_WATCH_TABLE = 'acl';
/** Table-index name of the policy list, for blocking queries. */
export const ACL_POLICIES_INDEX = 'acl-policies';
/** Table-index name of the role list, for blocking queries. */
export const ACL_ROLES_INDEX = 'acl-roles';
/** Table-index name of the token list, for blocking queries. */
export const ACL_TOKENS_INDEX = 'acl-tokens';
/** Table-index name of the auth method list, for blocking queries. */
export const ACL_AUTH_METHODS_INDEX = 'acl-auth-methods';
/** Table-index name of the binding rule list, for blocking queries. */
export const ACL_BINDING_RULES_INDEX = 'acl-binding-rules';
/** Meta name recording the index ACLs were bootstrapped at (0: not yet). */
export const ACL_BOOTSTRAP_META = 'acl-bootstrap';

/** ID of the builtin policy that grants everything, as in Consul. */
export const GLOBAL_MANAGEMENT_POLICY_ID = '00000000-0000-0000-0000-000000000001';
/** Name of the builtin policy that grants everything; it cannot be renamed. */
export const GLOBAL_MANAGEMENT_POLICY_NAME = 'global-management';
/** AccessorID of the anonymous token: used when a request carries none. */
export const ANONYMOUS_TOKEN_ID = '00000000-0000-0000-0000-000000000002';
/** SecretID of the anonymous token (not a credential: it grants what the anonymous token grants). */
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

/**
 * Where a kind of named record (policy or role) lives: records by ID in `table`, IDs by Name in
 * `names`, and the list's table index. `what` names the kind in error messages.
 */
export interface AclNamedKind {
  readonly what: 'Policy' | 'Role';
  readonly table: string;
  readonly names: string;
  readonly index: string;
}

/** Where policies live. */
export const ACL_POLICY_KIND: AclNamedKind = {
  what: 'Policy',
  table: ACL_POLICIES_TABLE,
  names: ACL_POLICY_NAMES_TABLE,
  index: ACL_POLICIES_INDEX,
};

/** Where roles live. */
export const ACL_ROLE_KIND: AclNamedKind = {
  what: 'Role',
  table: ACL_ROLES_TABLE,
  names: ACL_ROLE_NAMES_TABLE,
  index: ACL_ROLES_INDEX,
};
