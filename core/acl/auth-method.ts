import {
  createLocalJWKSet,
  decodeProtectedHeader,
  importSPKI,
  type JSONWebKeySet,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { compileFilter } from '../catalog/filter.js';
import { BadRequestError, PermissionDeniedError } from '../errors.js';

/** The JWT auth method's configuration, in Consul's field names. */
export interface JwtConfig {
  /** PEM public keys (SPKI) a token may be signed with. */
  readonly JWTValidationPubKeys?: readonly string[];
  /** A JSON Web Key Set given inline (the content of a JWKS file). */
  readonly JWKS?: JSONWebKeySet;
  readonly BoundIssuer?: string;
  readonly BoundAudiences?: readonly string[];
  /** Claim name → attribute name, usable in selectors as `value.<attr>`. */
  readonly ClaimMappings?: Readonly<Record<string, string>>;
  /** Claim name (a list) → attribute name, usable as `list.<attr>`. */
  readonly ListClaimMappings?: Readonly<Record<string, string>>;
  /** Algorithms accepted (default RS256); never `none`, never HMAC. */
  readonly JWTSupportedAlgs?: readonly string[];
  /** Leeway for exp, nbf and iat, in seconds (default 0). */
  readonly ClockSkewLeeway?: number;
}

/** An auth method (only type `jwt`). */
export interface AclAuthMethod {
  readonly Name: string;
  readonly Type: 'jwt';
  readonly DisplayName: string;
  readonly Description: string;
  /** Longest life of a token made by login, as a Go duration (e.g. "1h"); "" for no limit. */
  readonly MaxTokenTTL: string;
  readonly Config: JwtConfig;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** A binding rule: when `Selector` matches a login's claims, bind a role or policy named `BindName`. */
export interface AclBindingRule {
  readonly ID: string;
  readonly Description: string;
  readonly AuthMethod: string;
  readonly Selector: string;
  readonly BindType: 'role' | 'policy';
  /** May use `${value.attr}` from the claim mappings. */
  readonly BindName: string;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** Asymmetric algorithms only: an HMAC algorithm would let a public key act as a shared secret. */
const ALLOWED_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True for a JSON Web Key Set's shape: an object whose `keys` is a list of objects (the keys are not imported). */
export function isJwks(v: unknown): v is JSONWebKeySet {
  return isObj(v) && Array.isArray(v['keys']) && v['keys'].every(isObj);
}
const strList = (v: unknown, what: string): string[] | undefined => {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new BadRequestError(`Invalid Auth Method: ${what} must be a list of strings`);
  return v as string[];
};
const strMap = (v: unknown, what: string): Record<string, string> | undefined => {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v) || !Object.values(v).every((x) => typeof x === 'string' && /^[A-Za-z0-9_]+$/.test(x)))
    throw new BadRequestError(`Invalid Auth Method: ${what} must map claims to names of letters, digits and _`);
  return v as Record<string, string>;
};

/**
 * Validates a JWT auth method's Config; throws BadRequestError naming the field. Keys are checked by
 * importing them.
 */
export async function parseJwtConfig(raw: unknown): Promise<JwtConfig> {
  if (!isObj(raw)) throw new BadRequestError('Invalid Auth Method: Config must be an object');
  const algs = strList(raw['JWTSupportedAlgs'], 'JWTSupportedAlgs') ?? ['RS256'];
  for (const a of algs)
    if (!ALLOWED_ALGS.includes(a))
      throw new BadRequestError(
        `Invalid Auth Method: JWTSupportedAlgs: ${JSON.stringify(a)} is not allowed (use ${ALLOWED_ALGS.join(', ')})`,
      );
  const pems = strList(raw['JWTValidationPubKeys'], 'JWTValidationPubKeys');
  const rawJwks = raw['JWKS'];
  if (rawJwks !== undefined && (!isObj(rawJwks) || !Array.isArray(rawJwks['keys'])))
    throw new BadRequestError('Invalid Auth Method: JWKS must be a JSON Web Key Set ({"keys": [...]})');
  if ((pems?.length ?? 0) === 0 && rawJwks === undefined)
    throw new BadRequestError('Invalid Auth Method: give JWTValidationPubKeys or JWKS');
  if (pems) {
    for (const [i, pem] of pems.entries()) {
      if (
        !(await Promise.any(algs.map((a) => importSPKI(pem, a))).then(
          () => true,
          () => false,
        ))
      ) {
        throw new BadRequestError(
          `Invalid Auth Method: JWTValidationPubKeys[${i}] is not a public key for ${algs.join(', ')}`,
        );
      }
    }
  }
  let jwks: JSONWebKeySet | undefined;
  if (rawJwks !== undefined) {
    if (!isJwks(rawJwks) || rawJwks.keys.some((k) => 'd' in k || 'k' in k))
      throw new BadRequestError('Invalid Auth Method: JWKS must hold public keys only');
    jwks = rawJwks;
  }
  const audiences = strList(raw['BoundAudiences'], 'BoundAudiences');
  const issuer = raw['BoundIssuer'];
  if (issuer !== undefined && typeof issuer !== 'string')
    throw new BadRequestError('Invalid Auth Method: BoundIssuer must be a string');
  const leeway = raw['ClockSkewLeeway'];
  if (leeway !== undefined && (typeof leeway !== 'number' || leeway < 0 || leeway > 3600))
    throw new BadRequestError('Invalid Auth Method: ClockSkewLeeway must be 0 to 3600 seconds');
  const claims = strMap(raw['ClaimMappings'], 'ClaimMappings');
  const lists = strMap(raw['ListClaimMappings'], 'ListClaimMappings');
  return {
    ...(pems ? { JWTValidationPubKeys: pems } : {}),
    ...(jwks !== undefined ? { JWKS: jwks } : {}),
    ...(typeof issuer === 'string' && issuer !== '' ? { BoundIssuer: issuer } : {}),
    ...(audiences && audiences.length > 0 ? { BoundAudiences: audiences } : {}),
    ...(claims ? { ClaimMappings: claims } : {}),
    ...(lists ? { ListClaimMappings: lists } : {}),
    JWTSupportedAlgs: algs,
    ...(typeof leeway === 'number' ? { ClockSkewLeeway: leeway } : {}),
  };
}

/** The identity a verified JWT yields: mapped claims as selector variables. */
export interface LoginIdentity {
  readonly value: Record<string, string>;
  readonly list: Record<string, string[]>;
}

/**
 * Verifies a bearer JWT against the method: signature with one of its keys and algorithms only
 * (`none` and HMAC never), `exp`/`nbf` at `now` (ms) within the leeway, the bound issuer and an
 * audience among the bound ones. Returns the mapped claims. Every refusal is 403 with the reason;
 * the token is never repeated.
 */
export async function verifyLogin(method: AclAuthMethod, bearer: string, now: number): Promise<LoginIdentity> {
  const c = method.Config;
  const algs = c.JWTSupportedAlgs ?? ['RS256'];
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(bearer);
  } catch {
    throw new PermissionDeniedError('Permission denied: the bearer token is not a JWT');
  }
  if (typeof header.alg !== 'string' || !algs.includes(header.alg))
    throw new PermissionDeniedError(
      `Permission denied: JWT algorithm ${JSON.stringify(header.alg ?? null)} is not accepted by this auth method`,
    );
  const options = {
    algorithms: [...algs],
    currentDate: new Date(now),
    clockTolerance: c.ClockSkewLeeway ?? 0,
    ...(c.BoundIssuer ? { issuer: c.BoundIssuer } : {}),
    ...(c.BoundAudiences ? { audience: [...c.BoundAudiences] } : {}),
  };
  const keys: Array<JWTVerifyGetKey | CryptoKey> = [];
  if (c.JWKS) keys.push(createLocalJWKSet(c.JWKS));
  for (const pem of c.JWTValidationPubKeys ?? []) {
    try {
      keys.push(await importSPKI(pem, header.alg));
    } catch {
      // This key is not for the token's algorithm.
    }
  }
  let payload: JWTPayload | undefined;
  let reason = 'no key of this auth method verifies the signature';
  for (const key of keys) {
    try {
      payload = (await jwtVerify(bearer, key as never, options)).payload;
      break;
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code === 'ERR_JWT_EXPIRED') reason = 'the JWT has expired';
      else if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED')
        reason = `the JWT's ${(err as { claim?: string }).claim ?? 'claims'} claim does not match this auth method`;
      else if (code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' && code !== 'ERR_JWKS_NO_MATCHING_KEY')
        reason = 'the JWT does not verify';
    }
  }
  if (!payload) throw new PermissionDeniedError(`Permission denied: ${reason}`);
  const value: Record<string, string> = {};
  const list: Record<string, string[]> = {};
  for (const [claim, attr] of Object.entries(c.ClaimMappings ?? {})) {
    const v = payload[claim];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') value[attr] = String(v);
  }
  for (const [claim, attr] of Object.entries(c.ListClaimMappings ?? {})) {
    const v = payload[claim];
    if (Array.isArray(v)) list[attr] = v.filter((x) => typeof x === 'string' || typeof x === 'number').map(String);
  }
  return { value, list };
}

/** Validates a binding rule's selector (go-bexpr subset over `value.*` and `list.*`). */
export function checkSelector(selector: string): void {
  compileFilter(selector);
}

/** The roles and policies the rules bind for an identity (`${value.x}` filled in; unmatched names dropped). */
export function bindings(rules: readonly AclBindingRule[], id: LoginIdentity): { roles: string[]; policies: string[] } {
  const roles = new Set<string>();
  const policies = new Set<string>();
  for (const r of rules) {
    if (!compileFilter(r.Selector)(id)) continue;
    let ok = true;
    const name = r.BindName.replace(/\$\{value\.([A-Za-z0-9_]+)\}/g, (_, attr: string) => {
      const v = id.value[attr];
      if (v === undefined) ok = false;
      return v ?? '';
    });
    if (!ok || name === '') continue;
    (r.BindType === 'role' ? roles : policies).add(name);
  }
  return { roles: [...roles], policies: [...policies] };
}
