import { Fields, validId, validNodeName } from '../catalog/input.js';
import { BadRequestError, RefusedError } from '../errors.js';
import { formatGoDuration, parseDuration } from '../util/duration.js';
import {
  DEFAULT_LOCK_DELAY_MS,
  MAX_LOCK_DELAY_MS,
  SERF_CHECK_ID,
  type ServiceCheckRef,
  SESSION_TTL_MAX_MS,
  SESSION_TTL_MIN_MS,
  type SessionBehavior,
  type SessionInput,
} from './types.js';

/** Longest session name, and most checks one session may bind to. */
const MAX_NAME_BYTES = 256;
const MAX_BOUND_CHECKS = 64;

/**
 * Parses a lock delay as Consul does: a duration string ("15s"), or a number that is seconds
 * when below 1000 and nanoseconds otherwise. Returns milliseconds.
 */
function lockDelayMs(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return DEFAULT_LOCK_DELAY_MS;
  let ms: number | undefined;
  if (typeof raw === 'string') ms = parseDuration(raw);
  else if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) ms = raw < 1000 ? raw * 1000 : raw / 1e6;
  if (ms === undefined)
    throw new BadRequestError(`Invalid LockDelay: ${JSON.stringify(raw)} (use a duration such as "15s")`);
  if (ms > MAX_LOCK_DELAY_MS)
    throw new BadRequestError(`Invalid LockDelay: ${JSON.stringify(raw)} is longer than the maximum of 60s`);
  return Math.floor(ms);
}

/**
 * Parses and range-checks a TTL: '' or "0" (none), or a duration between `minMs` (Consul's
 * session_ttl_min, default 10s) and 24h. Returns [text as given, ms]. A TTL that is not a string
 * is a BadRequestError (Consul cannot decode the body: 400); a string that is no duration, or one
 * out of range, is a RefusedError (500) with Consul's exact text, which Patroni parses:
 * `Invalid Session TTL '<ns>', must be between [<min>=<max>]`, the bounds as Go durations.
 */
export function parseSessionTtl(raw: unknown, minMs = SESSION_TTL_MIN_MS): [string, number] {
  if (raw === undefined || raw === null || raw === '') return ['', 0];
  if (typeof raw !== 'string')
    throw new BadRequestError('Request decode failed: Session.TTL must be a duration string such as "30s"');
  const ms = parseDuration(raw);
  if (ms === undefined)
    throw new RefusedError(`Session TTL '${raw}' invalid: time: invalid duration ${JSON.stringify(raw)}`);
  if (ms === 0) return ['', 0];
  if (ms < minMs || ms > SESSION_TTL_MAX_MS) {
    const bounds = `${formatGoDuration(Math.round(minMs * 1e6))}=${formatGoDuration(SESSION_TTL_MAX_MS * 1e6)}`;
    throw new RefusedError(`Invalid Session TTL '${Math.round(ms * 1e6)}', must be between [${bounds}]`);
  }
  return [raw, ms];
}

function serviceChecks(f: Fields): ServiceCheckRef[] | null {
  const v = f.raw('ServiceChecks');
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v))
    throw new BadRequestError('Invalid Session.ServiceChecks: must be an array of {"ID": ...} objects');
  return v.map((item, i) => {
    const c = new Fields(item, `Session.ServiceChecks[${i}]`);
    return { ID: validId(c.str('ID'), `Session.ServiceChecks[${i}].ID`), Namespace: c.str('Namespace') };
  });
}

/**
 * Parses a /v1/session/create body into a session (without ID) the way Consul fills defaults:
 * Node is the serving agent's node, Behavior "release", LockDelay 15s, and with no checks given at
 * all the node's serfHealth check. TTLs below `ttlMinMs` are refused. `Checks` (deprecated) is read as NodeChecks.
 * Throws BadRequestError naming a field that cannot be decoded, and RefusedError (500, as Consul)
 * for a TTL or Behavior its servers refuse (see parseSessionTtl).
 */
export function parseSessionCreate(
  body: unknown,
  agentNode: string,
  ttlMinMs = SESSION_TTL_MIN_MS,
): Omit<SessionInput, 'ID'> {
  const f = new Fields(body ?? {}, 'Session');
  const name = f.str('Name');
  if (!name.isWellFormed() || new TextEncoder().encode(name).byteLength > MAX_NAME_BYTES) {
    throw new BadRequestError(`Invalid Session.Name: at most ${MAX_NAME_BYTES} bytes of valid Unicode`);
  }
  const node = validNodeName(f.str('Node') || agentNode, 'Session.Node');
  const behavior = (f.str('Behavior') || 'release') as SessionBehavior;
  if (behavior !== 'release' && behavior !== 'delete') {
    throw new RefusedError(`Invalid Behavior setting '${behavior}'`);
  }
  const [ttl] = parseSessionTtl(f.raw('TTL'), ttlMinMs);
  const given = f.has('NodeChecks') || f.has('ServiceChecks') || f.has('Checks');
  const nodeChecks = given ? [...new Set([...f.strings('NodeChecks'), ...f.strings('Checks')])] : [SERF_CHECK_ID];
  for (const [i, id] of nodeChecks.entries()) validId(id, `Session.NodeChecks[${i}]`);
  const svcChecks = serviceChecks(f);
  if (nodeChecks.length + (svcChecks?.length ?? 0) > MAX_BOUND_CHECKS) {
    throw new BadRequestError(`Invalid Session: at most ${MAX_BOUND_CHECKS} checks may be bound to a session`);
  }
  return {
    Name: name,
    Node: node,
    LockDelay: lockDelayMs(f.raw('LockDelay')) * 1e6,
    Behavior: behavior,
    TTL: ttl,
    NodeChecks: nodeChecks,
    ServiceChecks: svcChecks,
  };
}
