import { readTableIndex } from '../fsm/meta.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';
import type { AclAuthMethod, AclBindingRule } from './auth-method.js';
import {
  ACL_AUTH_METHODS_INDEX,
  ACL_AUTH_METHODS_TABLE,
  ACL_BINDING_RULES_INDEX,
  ACL_BINDING_RULES_TABLE,
  ACL_BOOTSTRAP_META,
  ACL_POLICY_KIND,
  ACL_ROLE_KIND,
  ACL_TOKEN_SECRETS_TABLE,
  ACL_TOKENS_INDEX,
  ACL_TOKENS_TABLE,
  type AclNamedKind,
  type AclPolicy,
  type AclRole,
  type AclToken,
  ANONYMOUS_TOKEN_ID,
  ANONYMOUS_TOKEN_SECRET,
} from './types.js';

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
  <T>(k: AclNamedKind) =>
  (tx: ReadTxn, id: string): T | undefined =>
    tx.get<T>(k.table, id);
const byName =
  <T>(k: AclNamedKind) =>
  (tx: ReadTxn, name: string): T | undefined => {
    const id = tx.get<string>(k.names, name);
    return id === undefined ? undefined : tx.get<T>(k.table, id);
  };
const listAll =
  <T>(k: AclNamedKind) =>
  (tx: ReadTxn): Indexed<T[]> => {
    const value: T[] = [];
    for (const [, r] of tx.range<T>(k.table)) value.push(r);
    return { index: readTableIndex(tx, k.index), value };
  };

/** A policy by ID. */
export const getPolicy = byId<AclPolicy>(ACL_POLICY_KIND);
/** A policy by Name. */
export const policyByName = byName<AclPolicy>(ACL_POLICY_KIND);
/** Every policy, by ID order. Index: the policies' table index. */
export const listPolicies = listAll<AclPolicy>(ACL_POLICY_KIND);
/** A role by ID. */
export const getRole = byId<AclRole>(ACL_ROLE_KIND);
/** A role by Name. */
export const roleByName = byName<AclRole>(ACL_ROLE_KIND);
/** Every role, by ID order. Index: the roles' table index. */
export const listRoles = listAll<AclRole>(ACL_ROLE_KIND);

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
  return readTableIndex(tx, ACL_BOOTSTRAP_META);
}
