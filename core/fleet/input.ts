import { BadRequestError } from '../errors.js';
import { type FleetKind, type FleetLink, type FleetReport, MAX_FLEET_FIELD, MAX_FLEET_SCOPE } from './types.js';

/** A fleet member's name (an agent's id or node name, a device's name). */
export const FLEET_NAME = /^[A-Za-z0-9_.:@-]{1,128}$/;

const KINDS: readonly FleetKind[] = ['agent', 'device'];
const LINKS: readonly FleetLink[] = ['http', 'mqtt'];

/** Whether `name` may name a fleet member. */
export function isFleetName(name: string): boolean {
  return FLEET_NAME.test(name);
}

/** `name` when it may name a fleet member; otherwise a BadRequestError saying what a name may hold. */
export function fleetName(name: string): string {
  if (!isFleetName(name)) throw new BadRequestError('Invalid agent: 1 to 128 letters, digits and _ . : @ -');
  return name;
}

function text(raw: Record<string, unknown>, field: string, required: boolean): string {
  const v = raw[field];
  if (v === undefined || v === null) {
    if (required) throw new BadRequestError(`Invalid announcement: ${field} is missing`);
    return '';
  }
  if (typeof v !== 'string' || v.length > MAX_FLEET_FIELD || !v.isWellFormed())
    throw new BadRequestError(
      `Invalid announcement: ${field} must be a string of at most ${MAX_FLEET_FIELD} characters`,
    );
  return v;
}

function count(raw: Record<string, unknown>, field: string): number {
  const v = raw[field] ?? 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new BadRequestError(`Invalid announcement: ${field} must be a non-negative integer`);
  return v;
}

function list(raw: Record<string, unknown>, field: string): string[] {
  const v = raw[field] ?? [];
  if (
    !Array.isArray(v) ||
    v.length > MAX_FLEET_SCOPE ||
    v.some((x) => typeof x !== 'string' || x.length > 512 || !x.isWellFormed())
  )
    throw new BadRequestError(`Invalid announcement: ${field} must be a list of at most ${MAX_FLEET_SCOPE} strings`);
  return v as string[];
}

/**
 * Reads an agent's announcement (JSON as sent to PUT /v1/edge/agents/<id> or published on the
 * MQTT `agents/<id>` topic) for member `id` over `link`. Throws BadRequestError naming the field
 * that is wrong.
 */
export function parseReport(raw: unknown, id: string, link: FleetLink): FleetReport {
  fleetName(id);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new BadRequestError('Invalid announcement: expected a JSON object');
  const r = raw as Record<string, unknown>;
  if (r['ID'] !== undefined && r['ID'] !== id)
    throw new BadRequestError(`Invalid announcement: ID ${JSON.stringify(r['ID'])} is not the agent in the path`);
  const kind = (r['Kind'] ?? 'agent') as FleetKind;
  if (!KINDS.includes(kind)) throw new BadRequestError('Invalid announcement: Kind must be "agent" or "device"');
  if (!LINKS.includes(link)) throw new BadRequestError('Invalid announcement: Link must be "http" or "mqtt"');
  return {
    ID: id,
    Kind: kind,
    Runtime: text(r, 'Runtime', false),
    RuntimeVersion: text(r, 'RuntimeVersion', false),
    Version: text(r, 'Version', false),
    Arch: text(r, 'Arch', false),
    Datacenter: text(r, 'Datacenter', false),
    Prefixes: list(r, 'Prefixes'),
    Services: list(r, 'Services'),
    Link: link,
    ReplicaIndex: count(r, 'ReplicaIndex'),
    OutboxDepth: count(r, 'OutboxDepth'),
  };
}

/** What the servers know of a device from its MQTT traffic alone. */
export function deviceReport(id: string, datacenter: string): FleetReport {
  return {
    ID: id,
    Kind: 'device',
    Runtime: '',
    RuntimeVersion: '',
    Version: '',
    Arch: '',
    Datacenter: datacenter,
    Prefixes: [],
    Services: [],
    Link: 'mqtt',
    ReplicaIndex: 0,
    OutboxDepth: 0,
  };
}
