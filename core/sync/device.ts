import { decodeProtectedHeader, errors as joseErrors, importJWK, importSPKI, type JWK, jwtVerify } from 'jose';
import { ConfigError } from '../errors.js';
import { validateKey } from '../kv/commands.js';
import { decodeBase64 } from '../util/base64.js';

/** Signature algorithms a device key may use (no `none`, no mixing of key kinds). */
export const DEVICE_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256', 'HS256'] as const;
export type DeviceAlgorithm = (typeof DEVICE_ALGORITHMS)[number];

/** One device key as configured: what it may write and which checks it may heartbeat. */
export interface DeviceKeyConfig {
  readonly kid: string;
  readonly alg: DeviceAlgorithm;
  /** KV prefixes writes may touch. */
  readonly kv: readonly string[];
  /** Checks the device may report, as "node/checkId" ("node/*": any check of that node). */
  readonly checks: readonly string[];
}

/** A device key ready to verify with. */
export interface DeviceKey extends DeviceKeyConfig {
  readonly key: CryptoKey | Uint8Array;
}

/** Why a device message was refused (each one is counted). */
export type RejectReason = 'malformed' | 'unsigned' | 'unknown-key' | 'bad-signature' | 'expired' | 'unauthorized';

/** A KV write from a device. */
export interface DeviceWrite {
  readonly rid: string;
  readonly op: 'set' | 'cas' | 'delete' | 'delete-cas';
  readonly key: string;
  readonly value: Uint8Array;
  readonly flags: number;
  readonly cas: number;
}

/** A TTL-check heartbeat from a device. */
export interface DeviceHeartbeat {
  readonly rid: string;
  readonly node: string;
  readonly check: string;
  readonly status: 'passing' | 'warning' | 'critical';
  readonly output: string;
  /** How long the status holds without another heartbeat (ms; 0: until changed). */
  readonly ttlMs: number;
}

/** The result of checking a device message. */
export type DeviceVerdict<T> =
  | { readonly ok: true; readonly kid: string; readonly message: T }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string; readonly rid?: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses the device key file: `{"keys": [{kid, alg, kv: [...], checks: [...], and one of
 * publicKey (SPKI PEM), jwk (public JWK), secret (base64, HS256 only)}]}`. Throws ConfigError
 * naming the entry at fault; key material never appears in messages.
 */
export async function loadDeviceKeys(json: unknown): Promise<Map<string, DeviceKey>> {
  if (!isObj(json) || !Array.isArray(json['keys'])) throw new ConfigError('device keys: expected {"keys": [...]}');
  const out = new Map<string, DeviceKey>();
  for (const [i, k] of (json['keys'] as unknown[]).entries()) {
    const where = `device keys[${i}]`;
    if (!isObj(k) || typeof k['kid'] !== 'string' || k['kid'] === '') throw new ConfigError(`${where}: missing kid`);
    const alg = k['alg'];
    if (!(DEVICE_ALGORITHMS as readonly unknown[]).includes(alg))
      throw new ConfigError(`${where}: alg must be one of ${DEVICE_ALGORITHMS.join(', ')}`);
    const kv = k['kv'] ?? [];
    const checks = k['checks'] ?? [];
    if (!Array.isArray(kv) || !kv.every((p) => typeof p === 'string'))
      throw new ConfigError(`${where}: kv must be a list of prefixes`);
    if (!Array.isArray(checks) || !checks.every((p) => typeof p === 'string'))
      throw new ConfigError(`${where}: checks must be a list of "node/check"`);
    let key: CryptoKey | Uint8Array;
    try {
      if (alg === 'HS256') {
        const secret = typeof k['secret'] === 'string' ? decodeBase64(k['secret']) : undefined;
        if (!secret || secret.byteLength < 32)
          throw new ConfigError(`${where}: HS256 needs "secret", base64 of at least 32 bytes`);
        key = secret;
      } else if (typeof k['publicKey'] === 'string') {
        key = await importSPKI(k['publicKey'], alg as string);
      } else if (isObj(k['jwk'])) {
        if ('d' in k['jwk']) throw new ConfigError(`${where}: jwk must be a public key (it has "d")`);
        key = (await importJWK(k['jwk'] as JWK, alg as string)) as CryptoKey;
      } else {
        throw new ConfigError(`${where}: needs publicKey (PEM) or jwk`);
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`${where}: the key does not import for ${String(alg)}`);
    }
    if (out.has(k['kid'])) throw new ConfigError(`${where}: duplicate kid ${JSON.stringify(k['kid'])}`);
    out.set(k['kid'], {
      kid: k['kid'],
      alg: alg as DeviceAlgorithm,
      kv: kv as string[],
      checks: checks as string[],
      key,
    });
  }
  return out;
}

const RID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Verifies a compact JWS from a device: a known `kid`, the key's algorithm only, a valid
 * signature, an `exp` claim not passed at `now` (ms), then the claims. The message's own fields
 * are checked by `parse`, which returns undefined when malformed.
 */
async function verify<T>(
  token: string,
  keys: ReadonlyMap<string, DeviceKey>,
  now: number,
  parse: (claims: Record<string, unknown>) => T | undefined,
): Promise<DeviceVerdict<T>> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return { ok: false, reason: 'malformed', detail: 'not a JWT (compact JWS)' };
  }
  if (header.alg === undefined || header.alg === 'none')
    return { ok: false, reason: 'unsigned', detail: 'the JWT is not signed' };
  const key = typeof header.kid === 'string' ? keys.get(header.kid) : undefined;
  if (!key) return { ok: false, reason: 'unknown-key', detail: `unknown key id ${JSON.stringify(header.kid ?? null)}` };
  let claims: Record<string, unknown>;
  try {
    const r = await jwtVerify(token, key.key, {
      algorithms: [key.alg],
      requiredClaims: ['exp'],
      currentDate: new Date(now),
      clockTolerance: 5,
    });
    claims = r.payload as Record<string, unknown>;
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired', detail: 'the JWT has expired' };
    if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JOSEAlgNotAllowed) {
      return { ok: false, reason: 'bad-signature', detail: 'signature or algorithm does not match the key' };
    }
    return { ok: false, reason: 'malformed', detail: `the JWT does not verify: ${(err as Error).message}` };
  }
  const message = parse(claims);
  const rid = typeof claims['rid'] === 'string' ? claims['rid'] : undefined;
  if (message === undefined)
    return {
      ok: false,
      reason: 'malformed',
      detail: 'claims do not describe a valid message',
      ...(rid ? { rid } : {}),
    };
  return { ok: true, kid: key.kid, message };
}

function parseWrite(c: Record<string, unknown>, maxValueBytes: number): DeviceWrite | undefined {
  const { rid, op, key } = c;
  if (typeof rid !== 'string' || !RID.test(rid)) return undefined;
  if (op !== 'set' && op !== 'cas' && op !== 'delete' && op !== 'delete-cas') return undefined;
  if (typeof key !== 'string') return undefined;
  try {
    validateKey(key);
  } catch {
    return undefined;
  }
  let value = new Uint8Array(0);
  if (c['value'] !== undefined) {
    const decoded = typeof c['value'] === 'string' ? decodeBase64(c['value']) : undefined;
    if (!decoded || decoded.byteLength > maxValueBytes) return undefined;
    value = decoded as Uint8Array<ArrayBuffer>;
  }
  const int = (v: unknown): number | undefined =>
    v === undefined ? 0 : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  const flags = int(c['flags']);
  const cas = int(c['cas']);
  if (flags === undefined || cas === undefined) return undefined;
  return { rid, op, key, value, flags, cas };
}

function parseHeartbeat(
  c: Record<string, unknown>,
  parseTtl: (text: string) => number | undefined,
): DeviceHeartbeat | undefined {
  const { rid, node, check, status } = c;
  if (rid !== undefined && (typeof rid !== 'string' || !RID.test(rid))) return undefined;
  if (typeof node !== 'string' || node === '' || typeof check !== 'string' || check === '') return undefined;
  if (status !== 'passing' && status !== 'warning' && status !== 'critical') return undefined;
  const output = c['output'] === undefined ? '' : c['output'];
  if (typeof output !== 'string' || output.length > 4096) return undefined;
  let ttlMs = 0;
  if (c['ttl'] !== undefined) {
    const t = typeof c['ttl'] === 'string' ? parseTtl(c['ttl']) : undefined;
    if (t === undefined || t < 1000 || t > 86_400_000) return undefined;
    ttlMs = t;
  }
  return { rid: (rid as string | undefined) ?? '', node, check, status, output, ttlMs };
}

/** Verifies a device KV write and checks the key's permission for its key. */
export async function verifyDeviceWrite(
  token: string,
  keys: ReadonlyMap<string, DeviceKey>,
  now: number,
  maxValueBytes: number,
): Promise<DeviceVerdict<DeviceWrite>> {
  const v = await verify(token, keys, now, (c) => parseWrite(c, maxValueBytes));
  if (!v.ok) return v;
  const key = keys.get(v.kid) as DeviceKey;
  if (!key.kv.some((p) => v.message.key.startsWith(p))) {
    return {
      ok: false,
      reason: 'unauthorized',
      detail: `key ${JSON.stringify(v.kid)} may not write ${JSON.stringify(v.message.key)}`,
      rid: v.message.rid,
    };
  }
  return v;
}

/** Verifies a device heartbeat and checks the key's permission for its check. */
export async function verifyDeviceHeartbeat(
  token: string,
  keys: ReadonlyMap<string, DeviceKey>,
  now: number,
  parseTtl: (text: string) => number | undefined,
): Promise<DeviceVerdict<DeviceHeartbeat>> {
  const v = await verify(token, keys, now, (c) => parseHeartbeat(c, parseTtl));
  if (!v.ok) return v;
  const key = keys.get(v.kid) as DeviceKey;
  const name = `${v.message.node}/${v.message.check}`;
  if (!key.checks.some((p) => p === name || (p.endsWith('/*') && name.startsWith(p.slice(0, -1))))) {
    return {
      ok: false,
      reason: 'unauthorized',
      detail: `key ${JSON.stringify(v.kid)} may not report check ${JSON.stringify(name)}`,
      rid: v.message.rid,
    };
  }
  return v;
}
