import { route } from '../registry.js';
import { bindings, verifyLogin } from '../../acl/auth-method.js';
import { policyByName, roleByName, getAuthMethod, listBindingRules } from '../../acl/queries.js';
import type { AclToken } from '../../acl/types.js';
import { AclDisabledError, BadRequestError, NotFoundError, PermissionDeniedError } from '../../errors.js';
import { parseDuration } from '../../util/duration.js';
import { randomUuid } from '../../util/uuid.js';
import { jsonResponse } from '../respond.js';
import { type AclRouteContext, optString, readAclBody } from './acl-context.js';

/**
 * Registers /v1/acl/login (POST or PUT): verifies a bearer JWT with an auth method and makes a
 * token with the roles and policies its binding rules give (403 when they give none; expiring
 * after the method's MaxTokenTTL). And /v1/acl/logout, which deletes the caller's token if login
 * made it (403 otherwise).
 */
export function registerAclLoginRoutes(acl: AclRouteContext): void {
  const { app, deps } = acl;
  const login = async (req: Request): Promise<Response> => {
    if (!deps.acl.settings.enabled) throw new AclDisabledError();
    const b = await readAclBody(req, 'Login');
    const name = optString(b, 'AuthMethod', 'Login');
    const bearer = optString(b, 'BearerToken', 'Login');
    if (!name || !bearer) throw new BadRequestError('Invalid Login: AuthMethod and BearerToken are required');
    const found = deps.store.read((tx) => ({
      method: getAuthMethod(tx, name),
      rules: listBindingRules(tx, name).value,
    }));
    if (!found.method) throw new NotFoundError(`ACL auth method not found: ${JSON.stringify(name)}`);
    const identity = await verifyLogin(found.method, bearer, deps.clock.now());
    const bound = bindings(found.rules, identity);
    // Names that do not exist (yet) bind nothing, as in Consul.
    const exists = deps.store.read((tx) => ({
      roles: bound.roles.filter((r) => roleByName(tx, r)),
      policies: bound.policies.filter((p) => policyByName(tx, p)),
    }));
    if (exists.roles.length === 0 && exists.policies.length === 0)
      throw new PermissionDeniedError(
        'Permission denied: no binding rule of this auth method gives this token a role or policy',
      );
    const ttl = found.method.MaxTokenTTL ? parseDuration(found.method.MaxTokenTTL) : undefined;
    const token = await acl.submit<AclToken>({
      type: 'acl.token.set',
      token: {
        AccessorID: randomUuid(deps.rng),
        SecretID: randomUuid(deps.rng),
        Description: `token created via login: ${name}`,
        Policies: exists.policies.map((Name) => ({ Name })),
        Roles: exists.roles.map((Name) => ({ Name })),
        Local: false,
        AuthMethod: name,
        ...(ttl ? { ExpirationTime: new Date(deps.clock.now() + ttl).toISOString() } : {}),
      },
      create: true,
      now: deps.clock.now(),
    });
    deps.logger.info('ACL login', { auth_method: name, accessor: token.AccessorID });
    return jsonResponse(JSON.stringify(token));
  };
  route(app, 'POST', '/v1/acl/login', (c) => login(c.req.raw));
  route(app, 'PUT', '/v1/acl/login', (c) => login(c.req.raw));

  const logout = async (req: Request): Promise<Response> => {
    const who = acl.identity(req);
    if (!who.token?.AuthMethod)
      throw new PermissionDeniedError('Permission denied: only tokens made by /v1/acl/login can log out');
    await acl.submit<boolean>({ type: 'acl.token.delete', accessorId: who.token.AccessorID });
    return new Response(null, { status: 200 });
  };
  route(app, 'POST', '/v1/acl/logout', (c) => logout(c.req.raw));
  route(app, 'PUT', '/v1/acl/logout', (c) => logout(c.req.raw));
}
