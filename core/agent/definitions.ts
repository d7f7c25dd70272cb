import { Fields, capOutput, parseService, parseStatus, validId } from '../catalog/input.js';
import type { ServiceInput } from '../catalog/state-machine.js';
import type { HealthStatus } from '../catalog/types.js';
import { BadRequestError } from '../errors.js';

/** How a check gets its status. 'ttl' and the probes are Consul's kinds. */
export type CheckKind = 'ttl' | 'http' | 'tcp' | 'udp' | 'grpc' | 'script' | 'alias';

/** A check the agent runs, as registered through the agent API (durations in ms). */
export interface CheckDefinition {
  readonly CheckID: string;
  readonly Name: string;
  readonly ServiceID: string;
  readonly Notes: string;
  readonly Status: HealthStatus;
  readonly kind: CheckKind;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly ttlMs: number;
  readonly HTTP?: string;
  readonly Method: string;
  readonly Header: Readonly<Record<string, readonly string[]>>;
  readonly Body: string;
  readonly TLSSkipVerify: boolean;
  readonly TCP?: string;
  readonly UDP?: string;
  readonly GRPC?: string;
  readonly GRPCUseTLS: boolean;
  readonly Args: readonly string[];
  readonly AliasNode?: string;
  readonly AliasService?: string;
  readonly SuccessBeforePassing: number;
  readonly FailuresBeforeCritical: number;
  /** Deregister the check's service after it stayed critical this long (0: never). */
  readonly deregisterCriticalAfterMs: number;
}

/** A service registered with the agent, and its check definitions. */
export interface AgentServiceDefinition {
  readonly service: ServiceInput;
  readonly checks: readonly CheckDefinition[];
}

const DEFAULT_TIMEOUT_MS = 10_000;
const SCRIPT_TIMEOUT_MS = 30_000;
const MIN_INTERVAL_MS = 1_000;

function headers(f: Fields): Record<string, string[]> {
  const v = f.raw('Header');
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw new BadRequestError('Invalid Check.Header: must be an object of string arrays');
  const out: Record<string, string[]> = {};
  for (const [k, vals] of Object.entries(v)) {
    if (!Array.isArray(vals) || !vals.every((x) => typeof x === 'string'))
      throw new BadRequestError(`Invalid Check.Header.${k}: must be an array of strings`);
    out[k] = vals as string[];
  }
  return out;
}

/**
 * Parses a check definition. `defaults` gives the id, name and service when the check comes with
 * a service registration. Throws BadRequestError naming the problem.
 */
export function parseCheckDefinition(
  obj: unknown,
  where: string,
  defaults: { CheckID?: string; Name?: string; ServiceID?: string } = {},
): CheckDefinition {
  const f = new Fields(obj, where);
  const id = f.str('CheckID') || f.str('ID') || defaults.CheckID || f.str('Name');
  if (!id) throw new BadRequestError(`Missing ${where} name`);
  const args = f.has('Args') ? f.strings('Args') : f.strings('ScriptArgs');
  const kinds: Array<[CheckKind, boolean]> = [
    ['ttl', f.has('TTL')],
    ['http', f.has('HTTP')],
    ['tcp', f.has('TCP')],
    ['udp', f.has('UDP')],
    ['grpc', f.has('GRPC')],
    ['script', args.length > 0],
    ['alias', f.has('AliasService') || f.has('AliasNode')],
  ];
  const chosen = kinds.filter(([, on]) => on).map(([k]) => k);
  if (chosen.length !== 1) {
    throw new BadRequestError(
      `Invalid ${where}: must have exactly one of TTL, HTTP, TCP, UDP, GRPC, Args or AliasService/AliasNode`,
    );
  }
  const kind = chosen[0] as CheckKind;
  const interval = f.duration('Interval');
  const probe = kind !== 'ttl' && kind !== 'alias';
  if (probe && interval === undefined)
    throw new BadRequestError(`Invalid ${where}: Interval is required for ${kind.toUpperCase()} checks`);
  const ttl = f.duration('TTL') ?? 0;
  if (kind === 'ttl' && ttl <= 0) throw new BadRequestError(`Invalid ${where}.TTL: must be positive`);
  return {
    CheckID: validId(id, `${where}.CheckID`),
    Name: f.str('Name') || defaults.Name || id,
    ServiceID: f.str('ServiceID') || defaults.ServiceID || '',
    Notes: f.str('Notes'),
    Status: f.has('Status') ? parseStatus(f.str('Status'), `${where}.Status`) : 'critical',
    kind,
    intervalMs: probe ? Math.max(MIN_INTERVAL_MS, interval as number) : (interval ?? 0),
    timeoutMs: f.duration('Timeout') ?? (kind === 'script' ? SCRIPT_TIMEOUT_MS : DEFAULT_TIMEOUT_MS),
    ttlMs: ttl,
    ...(f.has('HTTP') ? { HTTP: f.str('HTTP') } : {}),
    Method: f.str('Method') || 'GET',
    Header: headers(f),
    Body: f.str('Body'),
    TLSSkipVerify: f.bool('TLSSkipVerify'),
    ...(f.has('TCP') ? { TCP: f.str('TCP') } : {}),
    ...(f.has('UDP') ? { UDP: f.str('UDP') } : {}),
    ...(f.has('GRPC') ? { GRPC: f.str('GRPC') } : {}),
    GRPCUseTLS: f.bool('GRPCUseTLS'),
    Args: args,
    ...(f.has('AliasNode') ? { AliasNode: f.str('AliasNode') } : {}),
    ...(f.has('AliasService') ? { AliasService: f.str('AliasService') } : {}),
    SuccessBeforePassing: f.int('SuccessBeforePassing', 0, 0, 1000),
    FailuresBeforeCritical: f.int('FailuresBeforeCritical', 0, 0, 1000),
    deregisterCriticalAfterMs: f.duration('DeregisterCriticalServiceAfter') ?? 0,
  };
}

/**
 * Parses /v1/agent/service/register: the service and its `Check` (id `service:<id>`) or
 * `Checks` (ids `service:<id>:1`, `:2`, …).
 */
export function parseAgentService(obj: unknown): AgentServiceDefinition {
  const service = parseService(obj, 'service');
  const f = new Fields(obj, 'service');
  const checks: CheckDefinition[] = [];
  const base = { ServiceID: service.ID, Name: `Service '${service.Service}' check` };
  if (f.has('Check'))
    checks.push(parseCheckDefinition(f.raw('Check'), 'Check', { ...base, CheckID: `service:${service.ID}` }));
  const list = f.raw('Checks');
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) throw new BadRequestError('Invalid Checks: must be an array');
    list.forEach((c, i) =>
      checks.push(parseCheckDefinition(c, `Checks[${i}]`, { ...base, CheckID: `service:${service.ID}:${i + 1}` })),
    );
  }
  return { service, checks };
}

/** Output for a status update from the API, capped. */
export function updateOutput(output: string): string {
  return capOutput(output);
}
