import type { StateModule } from '../fsm/state-machine.js';
import {
  readAclAuthMethodDelete,
  readAclAuthMethodSet,
  readAclBindingRuleDelete,
  readAclBindingRuleSet,
  readAclBootstrap,
  readAclPolicyDelete,
  readAclPolicySet,
  readAclRoleDelete,
  readAclRoleSet,
  readAclTokenDelete,
  readAclTokenSet,
} from './commands.js';
import {
  aclAuthMethodDelete,
  aclAuthMethodSet,
  aclBindingRuleDelete,
  aclBindingRuleSet,
  aclBootstrap,
  aclPolicyDelete,
  aclPolicySet,
  aclRoleDelete,
  aclRoleSet,
  aclTokenDelete,
  aclTokenSet,
} from './ops.js';
import {
  ACL_AUTH_METHODS_TABLE,
  ACL_BINDING_RULES_TABLE,
  ACL_POLICIES_TABLE,
  ACL_POLICY_NAMES_TABLE,
  ACL_ROLE_NAMES_TABLE,
  ACL_ROLES_TABLE,
  ACL_TOKEN_SECRETS_TABLE,
  ACL_TOKENS_TABLE,
} from './types.js';
import { ACL_GRANT_KEYS_TABLE, grantKeyInit } from './grant.js';
import { aclReplicateHandler } from './replicate.js';

/**
 * The ACL module: policies, roles, tokens, auth methods, binding rules, the one-time bootstrap
 * and the edge grant signing key (grant.ts), all replicated. Each handler reads its command's
 * fields (CorruptError on a malformed one) before the operation writes anything.
 */
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
    ACL_GRANT_KEYS_TABLE,
  ],
  handlers: {
    'acl.bootstrap': { apply: (ctx, cmd) => aclBootstrap(ctx, readAclBootstrap(cmd)) },
    'acl.policy.set': { apply: (ctx, cmd) => aclPolicySet(ctx, readAclPolicySet(cmd)) },
    'acl.policy.delete': { apply: (ctx, cmd) => aclPolicyDelete(ctx, readAclPolicyDelete(cmd).id) },
    'acl.role.set': { apply: (ctx, cmd) => aclRoleSet(ctx, readAclRoleSet(cmd)) },
    'acl.role.delete': { apply: (ctx, cmd) => aclRoleDelete(ctx, readAclRoleDelete(cmd).id) },
    'acl.token.set': { apply: (ctx, cmd) => aclTokenSet(ctx, readAclTokenSet(cmd)) },
    'acl.token.delete': { apply: (ctx, cmd) => aclTokenDelete(ctx, readAclTokenDelete(cmd).accessorId) },
    'acl.auth-method.set': { apply: (ctx, cmd) => aclAuthMethodSet(ctx, readAclAuthMethodSet(cmd)) },
    'acl.auth-method.delete': { apply: (ctx, cmd) => aclAuthMethodDelete(ctx, readAclAuthMethodDelete(cmd).name) },
    'acl.binding-rule.set': { apply: (ctx, cmd) => aclBindingRuleSet(ctx, readAclBindingRuleSet(cmd)) },
    'acl.binding-rule.delete': { apply: (ctx, cmd) => aclBindingRuleDelete(ctx, readAclBindingRuleDelete(cmd).id) },
    'acl.grant-key.init': grantKeyInit,
    'acl.replicate': aclReplicateHandler,
  },
};
