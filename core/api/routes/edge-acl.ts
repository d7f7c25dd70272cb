import type { Hono } from 'hono';
import { edgeAclData, edgeAclIndex, parseSalt } from '../../acl/edge-replica.js';
import {
  AGENT_TOKEN_HEADER,
  currentGrantKey,
  DEFAULT_GRANT_TTL_MS,
  type GrantKey,
  GRANT_HEADER,
  newGrantKeyCommand,
  signGrant,
  verifyGrant,
} from '../../acl/grant.js';
import { tokenByAccessor } from '../../acl/queries.js';
import { ACL_WATCH_TABLE } from '../../acl/types.js';
import { AclDisabledError, PermissionDeniedError } from '../../errors.js';
import { fleetName } from '../../fleet/input.js';
import { randomUuid } from '../../util/uuid.js';
import { actAs, identityOf, requireScalar } from '../authz.js';
import type { ApiDeps, ServerApiDeps } from '../context.js';
import { indexedRead } from '../read.js';
import { route } from '../registry.js';
import { jsonResponse } from '../respond.js';

/** The request's agent token (AGENT_TOKEN_HEADER) as a request of its own, for identityOf. */
function agentRequest(req: Request, secret: string | null): Request {
  return new Request(new URL(req.url).origin, { headers: secret === null ? {} : { 'X-Consul-Token': secret } });
}

/**
 * Registers what edge agents need to check tokens themselves:
 * - GET /v1/edge/acl?salt=<32 hex> (blocking on the ACL tables; acl:read): the ACL data an agent
 *   replicates — whether ACLs are on, the default policy, every policy, role and token, each token's
 *   SecretID replaced by its HMAC-SHA-256 under the agent's salt (edgeAclData);
 * - PUT /v1/edge/grant?agent=<id>: a signed grant for the writer whose token the request carries
 *   (X-Consul-Token), writing through agent <id>, whose own token comes in X-Konsul-Agent-Token and
 *   must have node:write on <id> (the permission agents announce themselves with). Answers
 *   {Grant, AccessorID, Agent, IssuedAt, ExpiresAt}; the first grant ever makes the signing key.
 */
export function registerEdgeAclRoutes(app: Hono, deps: ServerApiDeps): void {
  route(app, 'GET', '/v1/edge/acl', (c) => {
    const salt = parseSalt(new URL(c.req.url).searchParams.get('salt'));
    requireScalar(deps, c.req.raw, 'acl', 'read');
    return indexedRead(
      deps,
      c.req.raw,
      { table: ACL_WATCH_TABLE, prefix: '' },
      (tx) => ({ index: edgeAclIndex(tx), value: edgeAclData(tx, deps.acl.settings, salt) }),
      (data) => data,
    );
  });

  route(app, 'PUT', '/v1/edge/grant', async (c) => {
    if (!deps.acl.settings.enabled) throw new AclDisabledError();
    const agent = fleetName(new URL(c.req.url).searchParams.get('agent') ?? '');
    const writer = identityOf(deps, c.req.raw);
    const agentReq = agentRequest(c.req.raw, c.req.header(AGENT_TOKEN_HEADER) ?? null);
    const agentWho = identityOf(deps, agentReq);
    if (!agentWho.authz.decide('node', agent, 'write').allowed)
      throw new PermissionDeniedError(
        `Permission denied: the agent's token lacks permission 'node:write' on ${JSON.stringify(agent)}`,
      );
    const key = await grantKey(deps);
    const now = deps.clock.now();
    const claims = {
      accessor: writer.token?.AccessorID ?? '',
      agent,
      agentAccessor: agentWho.token?.AccessorID ?? '',
      issuedAt: now,
      expiresAt: now + (deps.edgeGrantTtlMs ?? DEFAULT_GRANT_TTL_MS),
    };
    const grant = await signGrant(key, claims);
    return jsonResponse(
      JSON.stringify({
        Grant: grant,
        AccessorID: claims.accessor,
        Agent: agent,
        IssuedAt: new Date(claims.issuedAt).toISOString(),
        ExpiresAt: new Date(claims.expiresAt).toISOString(),
      }),
      200,
    );
  });
}

/** The signing key, made (once, cluster-wide: the first command wins) when none exists yet. */
async function grantKey(deps: ApiDeps): Promise<GrantKey> {
  const key = deps.store.read(currentGrantKey);
  if (key) return key;
  const made = await deps.writer.submit<GrantKey>(newGrantKeyCommand(deps.rng, randomUuid(deps.rng)));
  return made.value;
}

/**
 * When `req` carries a grant (GRANT_HEADER), checks it and makes the request act as the writer
 * it names: the signature and lifetime (verifyGrant), that the request's own token is the agent
 * token the grant was issued to, and that the writer's token still exists and has not expired.
 * The writer's permissions are then checked as they are now, like any request's. Throws
 * PermissionDeniedError saying which check failed. Does nothing without the header or with ACLs off.
 */
export async function actUnderGrant(deps: ApiDeps, req: Request): Promise<void> {
  const grant = req.headers.get(GRANT_HEADER);
  if (grant === null || !deps.acl.settings.enabled) return;
  const now = deps.clock.now();
  const claims = await verifyGrant(deps.store.read(currentGrantKey), grant, now);
  const sender = identityOf(deps, req);
  if (sender.token?.AccessorID !== claims.agentAccessor)
    throw new PermissionDeniedError('Permission denied: edge grant was issued to another agent token');
  const writer = deps.store.read((tx) => {
    const token = tokenByAccessor(tx, claims.accessor);
    if (!token || (token.ExpirationTime !== undefined && Date.parse(token.ExpirationTime) <= now)) return undefined;
    return deps.acl.identityOf(tx, token);
  });
  if (!writer)
    throw new PermissionDeniedError(
      `Permission denied: edge grant's writer (AccessorID '${claims.accessor}') no longer has a token`,
    );
  actAs(req, writer);
}
