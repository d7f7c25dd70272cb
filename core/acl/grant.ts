import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { CorruptError, PermissionDeniedError } from '../errors.js';
import type { CommandHandler } from '../fsm/state-machine.js';
import { field } from '../fsm/command.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { Rng } from '../ports/rng.js';
import { decodeBase64, encodeBase64 } from '../util/base64.js';

/**
 * Edge write grants. A grant is a JWT (HS256) the servers sign for one writer (a token's
 * AccessorID) writing through one edge agent (its id, and the AccessorID of the agent's own
 * token). The agent keeps it and, while offline, queues that writer's writes with it; on replay the
 * servers check the signature, the lifetime, that the agent replaying is the one the grant names,
 * and the writer's permissions as they are then. The signing key lives only in the servers'
 * replicated state (never sent to agents), so an agent cannot mint grants. A grant holds no secret.
 */

/** Request header carrying a grant on a replayed transaction. */
export const GRANT_HEADER = 'X-Konsul-Grant';
/** Request header carrying the agent's own token when it asks for a grant (the writer's is X-Consul-Token). */
export const AGENT_TOKEN_HEADER = 'X-Konsul-Agent-Token';
/** StateStore table of the grant signing key (one row, `current`). */
export const ACL_GRANT_KEYS_TABLE = 'acl_grant_keys';
/** Default grant lifetime (ms): 24 hours. */
export const DEFAULT_GRANT_TTL_MS = 24 * 60 * 60 * 1000;
/** Bytes of the HMAC signing key. */
const KEY_BYTES = 32;
/** The audience every grant names, so no other JWT passes for one. */
const AUDIENCE = 'konsul-edge-grant';

/** The signing key as stored: an id (the JWT `kid`) and the key bytes in base64. */
export interface GrantKey {
  readonly KeyID: string;
  readonly Key: string;
  readonly CreateIndex: number;
}

/** What a grant says. Times in ms since the epoch. */
export interface GrantClaims {
  /** AccessorID of the writer's token. */
  readonly accessor: string;
  /** The agent's id (its fleet name). */
  readonly agent: string;
  /** AccessorID of the agent's own token: only a request with that token may replay under the grant. */
  readonly agentAccessor: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** Creates the signing key once: the first command wins, later ones leave it and return it. */
export interface GrantKeyInitCommand {
  readonly type: 'acl.grant-key.init';
  readonly keyId: string;
  readonly key: string;
}

/** The signing key in force, if one was made. */
export function currentGrantKey(tx: ReadTxn): GrantKey | undefined {
  return tx.get<GrantKey>(ACL_GRANT_KEYS_TABLE, 'current');
}

/** A new signing key's command, its bytes drawn from `rng` (the servers' is cryptographic). */
export function newGrantKeyCommand(rng: Rng, keyId: string): GrantKeyInitCommand {
  const bytes = new Uint8Array(KEY_BYTES);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rng.next() * 256) & 255;
  return { type: 'acl.grant-key.init', keyId, key: encodeBase64(bytes) };
}

/** Applies `acl.grant-key.init`: stores the key unless one exists; returns the key in force. */
export const grantKeyInit: CommandHandler = {
  apply(ctx, cmd) {
    const keyId = field.string(cmd, 'keyId');
    const key = field.string(cmd, 'key');
    if (decodeBase64(key)?.byteLength !== KEY_BYTES) throw new CorruptError('acl.grant-key.init: key is not 32 bytes');
    const old = currentGrantKey(ctx.tx);
    if (old) return old;
    const made: GrantKey = { KeyID: keyId, Key: key, CreateIndex: ctx.index };
    ctx.tx.put(ACL_GRANT_KEYS_TABLE, 'current', made);
    return made;
  },
};

function keyBytes(key: GrantKey): Uint8Array {
  const bytes = decodeBase64(key.Key);
  if (!bytes) throw new CorruptError('the grant signing key is not base64');
  return bytes;
}

/** Signs a grant with `key`. */
export function signGrant(key: GrantKey, c: GrantClaims): Promise<string> {
  return new SignJWT({ agent: c.agent, agent_accessor: c.agentAccessor })
    .setProtectedHeader({ alg: 'HS256', kid: key.KeyID, typ: 'JWT' })
    .setSubject(c.accessor)
    .setAudience(AUDIENCE)
    .setIssuedAt(Math.floor(c.issuedAt / 1000))
    .setExpirationTime(Math.floor(c.expiresAt / 1000))
    .sign(keyBytes(key));
}

/**
 * Verifies a grant against `key` at time `now` (ms): signature, audience and lifetime. Throws
 * PermissionDeniedError "Permission denied: edge grant …" saying what failed (never echoing the
 * grant).
 */
export async function verifyGrant(key: GrantKey | undefined, grant: string, now: number): Promise<GrantClaims> {
  const refuse = (why: string): never => {
    throw new PermissionDeniedError(`Permission denied: edge grant ${why}`);
  };
  if (!key) return refuse('cannot be checked: no grant was ever issued here');
  if (grant.length > 4096) return refuse('is too long');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(grant, keyBytes(key), {
      algorithms: ['HS256'],
      audience: AUDIENCE,
      currentDate: new Date(now),
      requiredClaims: ['sub', 'exp', 'iat'],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return refuse('expired');
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return refuse('has a bad signature');
    return refuse('is malformed or not signed by these servers');
  }
  const { sub, agent, agent_accessor: agentAccessor, iat, exp } = payload;
  if (
    typeof sub !== 'string' ||
    typeof agent !== 'string' ||
    typeof agentAccessor !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number'
  )
    return refuse('lacks its claims');
  return { accessor: sub, agent, agentAccessor, issuedAt: iat * 1000, expiresAt: exp * 1000 };
}
