import { BadRequestError, RefusedError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { utf8Length } from '../util/keys.js';
import type { CheckInput, NodeInput, ServiceInput } from './state-machine.js';
import { DEFAULT_WEIGHTS, HEALTH_STATUSES, type HealthStatus, MAX_CHECK_OUTPUT_BYTES, type Weights } from './types.js';

/** A JSON object read with case-insensitive field names, as Consul's Go decoder does. */
export class Fields {
  private readonly map = new Map<string, unknown>();
  constructor(
    obj: unknown,
    private readonly where: string,
  ) {
    if (obj === undefined || obj === null) return;
    if (typeof obj !== 'object' || Array.isArray(obj)) throw new BadRequestError(`${where} must be a JSON object`);
    for (const [k, v] of Object.entries(obj)) this.map.set(k.toLowerCase(), v);
  }
  has(name: string): boolean {
    const v = this.map.get(name.toLowerCase());
    return v !== undefined && v !== null;
  }
  raw(name: string): unknown {
    return this.map.get(name.toLowerCase());
  }
  private bad(name: string, want: string): never {
    throw new BadRequestError(`Invalid ${this.where}.${name}: must be ${want}`);
  }
  str(name: string, fallback = ''): string {
    const v = this.raw(name);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string') return this.bad(name, 'a string');
    return v;
  }
  int(name: string, fallback = 0, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(name);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      return this.bad(name, `an integer in ${min}..${max}`);
    return v;
  }
  bool(name: string, fallback = false): boolean {
    const v = this.raw(name);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') return this.bad(name, 'a boolean');
    return v;
  }
  strings(name: string): string[] {
    const v = this.raw(name);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return this.bad(name, 'an array of strings');
    return v as string[];
  }
  stringMap(name: string): Record<string, string> {
    const v = this.raw(name);
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string'))
      return this.bad(name, 'an object of strings');
    // A copy: fromEntries keeps a `__proto__` key as data, and copies of equal key sets share one
    // hidden class (a spread gives each its own on Node 20).
    return Object.fromEntries(Object.entries(v as Record<string, string>));
  }
  duration(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined || v === null || v === '') return undefined;
    const ms = typeof v === 'string' ? parseDuration(v) : typeof v === 'number' && v >= 0 ? v / 1e6 : undefined;
    if (ms === undefined) return this.bad(name, 'a duration such as "10s"');
    return ms;
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Validates a node name (letters, digits, "-", "_", "."; no "/"). */
export function validNodeName(name: string, where: string): string {
  if (!NAME.test(name))
    throw new BadRequestError(`Invalid ${where}: ${JSON.stringify(name)} (use letters, digits, "-", "_" or ".")`);
  return name;
}

/** Validates a service or check id: non-empty, at most 256 bytes, no "/" at the start. */
export function validId(id: string, where: string): string {
  if (id.length === 0 || utf8Length(id) > 256 || !id.isWellFormed())
    throw new BadRequestError(`Invalid ${where}: ${JSON.stringify(id)}`);
  return id;
}

function weights(f: Fields): Weights {
  const w = new Fields(f.raw('Weights'), 'Weights');
  if (!f.has('Weights')) return DEFAULT_WEIGHTS;
  return { Passing: w.int('Passing', 1, 1, 65535), Warning: w.int('Warning', 1, 0, 65535) };
}

function taggedServiceAddresses(f: Fields): ServiceInput['TaggedAddresses'] {
  const v = f.raw('TaggedAddresses');
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw new BadRequestError('Invalid Service.TaggedAddresses: must be an object');
  const out: Record<string, { Address: string; Port: number }> = {};
  for (const [k, a] of Object.entries(v)) {
    const af = new Fields(a, `TaggedAddresses.${k}`);
    out[k] = { Address: af.str('Address'), Port: af.int('Port', 0, 0, 65535) };
  }
  return out;
}

/** Parses a service definition (catalog NodeService or agent registration). */
export function parseService(obj: unknown, where = 'Service'): ServiceInput {
  const f = new Fields(obj, where);
  const name = f.str('Service') || f.str('Name');
  if (!name) throw new BadRequestError(`Missing ${where} name`);
  validId(name, `${where} name`);
  return {
    ID: validId(f.str('ID') || name, `${where} ID`),
    Service: name,
    Tags: f.strings('Tags'),
    Address: f.str('Address'),
    TaggedAddresses: taggedServiceAddresses(f),
    Meta: f.stringMap('Meta'),
    Port: f.int('Port', 0, 0, 65535),
    Weights: weights(f),
    EnableTagOverride: f.bool('EnableTagOverride'),
  };
}

/** Parses a status, refusing anything but passing, warning and critical. */
export function parseStatus(s: string, where: string): HealthStatus {
  if (!(HEALTH_STATUSES as readonly string[]).includes(s))
    throw new BadRequestError(`Invalid ${where}: ${JSON.stringify(s)} (use passing, warning or critical)`);
  return s as HealthStatus;
}

/** Caps check output at 4 KiB of UTF-8, as Consul does. */
export function capOutput(output: string): string {
  if (utf8Length(output) <= MAX_CHECK_OUTPUT_BYTES) return output;
  let s = output.slice(0, MAX_CHECK_OUTPUT_BYTES);
  while (utf8Length(s) > MAX_CHECK_OUTPUT_BYTES - 30) s = s.slice(0, -64);
  return `${s.isWellFormed() ? s : s.slice(0, -1)} ... (output truncated)`;
}

/** Parses a catalog check (a result, not a definition to run). */
export function parseCatalogCheck(obj: unknown, where: string): CheckInput {
  const f = new Fields(obj, where);
  const id = f.str('CheckID') || f.str('ID') || f.str('Name');
  return {
    CheckID: validId(id, `${where}.CheckID`),
    Name: f.str('Name') || id,
    Status: f.has('Status') ? parseStatus(f.str('Status'), `${where}.Status`) : 'critical',
    Notes: f.str('Notes'),
    Output: capOutput(f.str('Output')),
    ServiceID: f.str('ServiceID'),
    Type: f.str('Type'),
  };
}

/**
 * Consul's RegisterRequest, parsed into a node, an optional service and checks. Throws
 * BadRequestError for a field that cannot be decoded, RefusedError (500, as Consul) when the node
 * or its address is missing.
 */
export function parseRegisterRequest(body: unknown): {
  node: NodeInput;
  skipNodeUpdate: boolean;
  service?: ServiceInput;
  checks: CheckInput[];
} {
  const f = new Fields(body, 'body');
  const node = f.str('Node');
  // Consul's Catalog.Register refuses these on its servers: 500 with these texts.
  if (!node) throw new RefusedError('Must provide node');
  const address = f.str('Address');
  if (!address && !f.bool('SkipNodeUpdate'))
    throw new RefusedError('Must provide address if SkipNodeUpdate is not set');
  const checks: CheckInput[] = [];
  if (f.has('Check')) checks.push(parseCatalogCheck(f.raw('Check'), 'Check'));
  const list = f.raw('Checks');
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) throw new BadRequestError('Invalid Checks: must be an array');
    list.forEach((c, i) => checks.push(parseCatalogCheck(c, `Checks[${i}]`)));
  }
  const service = f.has('Service') ? parseService(f.raw('Service')) : undefined;
  return {
    node: {
      ID: f.str('ID'),
      Node: validNodeName(node, 'Node'),
      Address: address,
      TaggedAddresses: f.stringMap('TaggedAddresses'),
      Meta: f.stringMap('NodeMeta'),
    },
    skipNodeUpdate: f.bool('SkipNodeUpdate'),
    ...(service ? { service } : {}),
    checks,
  };
}
