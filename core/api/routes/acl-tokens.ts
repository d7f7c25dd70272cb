import { route } from '../registry.js';
import type { AclTokenSetCommand } from '../../acl/commands.js';
import { listTokens, tokenByAccessor } from '../../acl/queries.js';
import type { AclToken } from '../../acl/types.js';
import { AclDisabledError, BadRequestError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { Rng } from '../../ports/rng.js';
import { parseDuration } from '../../util/duration.js';
import { isUuid, randomUuid } from '../../util/uuid.js';
import { checkDatacenter } from '../query.js';
import { jsonResponse } from '../respond.js';
import { type AclRouteContext, optString, readAclBody, readLinks } from './acl-context.js';

const HIDDEN = '<hidden>';

/** A token as shown to a caller: the secret only to those who may write ACLs (or to its holder). */
function tokenJson(t: AclToken, showSecret: boolean): AclToken {
  return { ...t, SecretID: showSecret ? t.SecretID : HIDDEN };
}

/** Reads a token body; an update (`!create`) may change neither the SecretID nor the expiration. */
function parseToken(
  b: Record<string, unknown>,
  accessor: string,
  create: boolean,
  clock: Clock,
  rng: Rng,
): AclTokenSetCommand['token'] {
  const secret = optString(b, 'SecretID', 'Token');
  if (secret !== undefined && !create) throw new BadRequestError('Invalid Token: SecretID cannot be changed');
  if (secret !== undefined && !isUuid(secret)) throw new BadRequestError('Invalid Token: SecretID must be a UUID');
  const ttlText = optString(b, 'ExpirationTTL', 'Token');
  const at = optString(b, 'ExpirationTime', 'Token');
  let expiration: string | undefined;
  if (ttlText !== undefined && at !== undefined)
    throw new BadRequestError('Invalid Token: give ExpirationTTL or ExpirationTime, not both');
  if (ttlText !== undefined) {
    const ms = parseDuration(ttlText);
    if (ms === undefined || ms <= 0)
      throw new BadRequestError(`Invalid Token: ExpirationTTL ${JSON.stringify(ttlText)} is not a positive duration`);
    expiration = new Date(clock.now() + ms).toISOString();
  } else if (at !== undefined) {
    const t = Date.parse(at);
    if (Number.isNaN(t) || t <= clock.now())
      throw new BadRequestError('Invalid Token: ExpirationTime must be a time in the future');
    expiration = new Date(t).toISOString();
  }
  if (expiration !== undefined && !create) throw new BadRequestError('Invalid Token: the expiration cannot be changed');
  const local = b['Local'];
  if (local !== undefined && typeof local !== 'boolean')
    throw new BadRequestError('Invalid Token: Local must be true or false');
  return {
    AccessorID: accessor,
    SecretID: secret ?? randomUuid(rng),
    Description: optString(b, 'Description', 'Token') ?? '',
    Policies: readLinks(b, 'Policies', 'Token'),
    Roles: readLinks(b, 'Roles', 'Token'),
    Local: local === true,
    ...(expiration ? { ExpirationTime: expiration } : {}),
  };
}

/** Registers PUT /v1/acl/bootstrap: makes the first management token (needs no token; works once). */
export function registerAclBootstrapRoute(acl: AclRouteContext): void {
  const { app, deps } = acl;
  route(app, 'PUT', '/v1/acl/bootstrap', async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    if (!deps.acl.settings.enabled) throw new AclDisabledError();
    const token = await acl.submit<AclToken>({
      type: 'acl.bootstrap',
      accessorId: randomUuid(deps.rng),
      secretId: randomUuid(deps.rng),
      now: deps.clock.now(),
    });
    deps.logger.info('ACL bootstrapped', { accessor: token.AccessorID });
    return jsonResponse(JSON.stringify(token));
  });
}

/**
 * Registers the token endpoints: create (AccessorID and SecretID chosen or generated, expiry by
 * TTL or time), update, delete, read, list, and `token/self`. Secrets are shown only to callers
 * with `acl:write`; reads need `acl:read`, writes `acl:write`, `token/self` only a valid token.
 */
export function registerAclTokenRoutes(acl: AclRouteContext): void {
  const { app, deps } = acl;
  route(app, 'PUT', '/v1/acl/token', async (c) => {
    acl.need(c.req.raw, 'write');
    const b = await readAclBody(c.req.raw, 'Token');
    const accessor = optString(b, 'AccessorID', 'Token');
    if (accessor !== undefined && !isUuid(accessor))
      throw new BadRequestError('Invalid Token: AccessorID must be a UUID');
    return acl.answer({
      type: 'acl.token.set',
      token: parseToken(b, accessor ?? randomUuid(deps.rng), true, deps.clock, deps.rng),
      create: true,
      now: deps.clock.now(),
    });
  });
  // Registered before token/:id, which would otherwise take "self" for an AccessorID.
  route(app, 'GET', '/v1/acl/token/self', (c) => {
    const who = acl.identity(c.req.raw);
    return jsonResponse(JSON.stringify(who.token));
  });
  route(app, 'PUT', '/v1/acl/token/:id', async (c) => {
    acl.need(c.req.raw, 'write');
    const id = c.req.param('id');
    const b = await readAclBody(c.req.raw, 'Token');
    const bodyId = optString(b, 'AccessorID', 'Token');
    if (bodyId && bodyId !== id)
      throw new BadRequestError('Invalid Token: the AccessorID in the body does not match the URL');
    return acl.answer({
      type: 'acl.token.set',
      token: parseToken(b, id, false, deps.clock, deps.rng),
      create: false,
      now: deps.clock.now(),
    });
  });
  route(app, 'DELETE', '/v1/acl/token/:id', async (c) => {
    acl.need(c.req.raw, 'write');
    return acl.answer({ type: 'acl.token.delete', accessorId: c.req.param('id') });
  });
  route(app, 'GET', '/v1/acl/token/:id', (c) => {
    const who = acl.need(c.req.raw, 'read');
    const write = who.authz.decideScalar('acl', 'write').allowed;
    const id = c.req.param('id');
    return acl.readOne(
      c.req.raw,
      'token',
      id,
      (tx) => tokenByAccessor(tx, id),
      (t) => tokenJson(t, write),
    );
  });
  route(app, 'GET', '/v1/acl/tokens', (c) => {
    const who = acl.need(c.req.raw, 'read');
    const write = who.authz.decideScalar('acl', 'write').allowed;
    return acl.readList(c.req.raw, listTokens, (t) => tokenJson(t, write));
  });
}
