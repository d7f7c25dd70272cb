import { BadRequestError } from '../errors.js';
import { CHAOS_KINDS, CHAOS_LIMITS, type ChaosKind, type ChaosLimits, type ChaosSpec, LINK_KINDS } from './types.js';

/** A server's node name, as --node-name accepts it. */
export const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** The fields a start request may hold. */
const FIELDS = ['Kind', 'Server', 'Peers', 'DelayMs', 'JitterMs', 'LossPercent', 'DurationSeconds'] as const;

/** Which kinds each optional field applies to. */
const APPLIES_TO: Readonly<Record<string, ReadonlySet<ChaosKind>>> = {
  Peers: LINK_KINDS,
  DelayMs: new Set(['latency']),
  JitterMs: new Set(['latency']),
  LossPercent: new Set(['loss']),
  DurationSeconds: new Set(['latency', 'loss', 'partition', 'pause-apply']),
};

/** "latency, loss and partition". */
function listed(kinds: ReadonlySet<ChaosKind>): string {
  const all = [...kinds];
  return all.length === 1 ? (all[0] as string) : `${all.slice(0, -1).join(', ')} and ${all[all.length - 1]}`;
}

/** An integer field in [min, max], or BadRequestError naming it. */
function intField(value: unknown, name: string, min: number, max: number, unit: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new BadRequestError(
      `${name} must be an integer from ${min} to ${max} (${unit}), not ${JSON.stringify(value)}`,
    );
  return value;
}

/** A node name field, or BadRequestError naming it. */
function nameField(value: unknown, name: string): string {
  if (typeof value !== 'string' || !NODE_NAME.test(value))
    throw new BadRequestError(`${name} must be a server's node name, not ${JSON.stringify(value)}`);
  return value;
}

/**
 * Validates the JSON body of PUT /v1/operator/chaos (already parsed) into a ChaosSpec:
 * `{"Kind", "Server"?, "Peers"?, "DelayMs"?, "JitterMs"?, "LossPercent"?, "DurationSeconds"}`.
 * Kind is one of CHAOS_KINDS; DelayMs (latency, required) 1..maxDelayMs; JitterMs (latency)
 * 0..maxJitterMs; LossPercent (loss, required) 1..100; DurationSeconds 1..maxDurationSeconds,
 * required for every kind but step-down (which takes none); Peers (latency, loss, partition)
 * 1..maxPeers distinct node names; Server a node name. Throws BadRequestError naming the field
 * for anything else: a missing or out-of-range value, a field the kind does not take, an
 * unknown field. Whether the names are servers of the cluster is the controller's to check.
 */
export function parseChaosSpec(body: unknown, limits: ChaosLimits = CHAOS_LIMITS): ChaosSpec {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadRequestError('Request body must be a JSON object such as {"Kind": "latency", ...}');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b))
    if (!(FIELDS as readonly string[]).includes(key))
      throw new BadRequestError(`Unknown field ${JSON.stringify(key)} (fields: ${FIELDS.join(', ')})`);
  const kind = b['Kind'];
  if (typeof kind !== 'string' || !(CHAOS_KINDS as readonly string[]).includes(kind))
    throw new BadRequestError(`Kind must be one of ${CHAOS_KINDS.join(', ')}, not ${JSON.stringify(kind ?? null)}`);
  const k = kind as ChaosKind;
  for (const [field, kinds] of Object.entries(APPLIES_TO))
    if (b[field] !== undefined && !kinds.has(k))
      throw new BadRequestError(`${field} applies to ${listed(kinds)} only, not to ${k}`);

  const spec: { -readonly [P in keyof ChaosSpec]: ChaosSpec[P] } = { kind: k };
  if (b['Server'] !== undefined) spec.server = nameField(b['Server'], 'Server');
  if (b['Peers'] !== undefined) {
    const peers = b['Peers'];
    if (!Array.isArray(peers) || peers.length === 0 || peers.length > limits.maxPeers)
      throw new BadRequestError(`Peers must be a list of 1 to ${limits.maxPeers} node names (omit it for every peer)`);
    const names = peers.map((p) => nameField(p, 'Peers'));
    if (new Set(names).size !== names.length) throw new BadRequestError('Peers must not name a server twice');
    spec.peers = names;
  }
  if (k === 'latency') {
    if (b['DelayMs'] === undefined) throw new BadRequestError('DelayMs is required for latency');
    spec.delayMs = intField(b['DelayMs'], 'DelayMs', 1, limits.maxDelayMs, 'milliseconds');
    spec.jitterMs =
      b['JitterMs'] === undefined ? 0 : intField(b['JitterMs'], 'JitterMs', 0, limits.maxJitterMs, 'milliseconds');
  }
  if (k === 'loss') {
    if (b['LossPercent'] === undefined) throw new BadRequestError('LossPercent is required for loss');
    spec.lossPercent = intField(b['LossPercent'], 'LossPercent', 1, 100, 'percent');
  }
  if (k !== 'step-down') {
    if (b['DurationSeconds'] === undefined) throw new BadRequestError(`DurationSeconds is required for ${k}`);
    spec.durationMs = intField(b['DurationSeconds'], 'DurationSeconds', 1, limits.maxDurationSeconds, 'seconds') * 1000;
  }
  return spec;
}
