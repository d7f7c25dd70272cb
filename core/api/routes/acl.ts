import type { Hono } from 'hono';
import type { ApiDeps } from '../context.js';
import { registerAclAuthMethodRoutes } from './acl-auth-methods.js';
import { registerAclAuthorizeRoute } from './acl-authorize.js';
import { aclRouteContext } from './acl-context.js';
import { registerAclLoginRoutes } from './acl-login.js';
import { registerAclPolicyRoutes } from './acl-policies.js';
import { registerAclBootstrapRoute, registerAclTokenRoutes } from './acl-tokens.js';

/**
 * Registers Consul's ACL endpoints: bootstrap, policies, roles, auth methods, binding rules,
 * login/logout and tokens (create, read, update, delete, list, `token/self`), and the Web UI's
 * POST /v1/internal/acl/authorize (what the caller's token may do). Reads need `acl:read`, writes
 * `acl:write` (bootstrap, login and authorize need nothing; bootstrap works once). With ACLs off
 * every endpoint answers 401 "ACL support disabled".
 */
export function registerAclRoutes(app: Hono, deps: ApiDeps): void {
  const acl = aclRouteContext(app, deps);
  registerAclBootstrapRoute(acl);
  registerAclPolicyRoutes(acl);
  registerAclAuthMethodRoutes(acl);
  registerAclLoginRoutes(acl);
  registerAclTokenRoutes(acl);
  registerAclAuthorizeRoute(app, deps);
}
