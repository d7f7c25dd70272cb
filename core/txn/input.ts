import { Fields, parseCatalogCheck, parseService, validNodeName } from '../catalog/input.js';
import type { NodeInput } from '../catalog/state-machine.js';
import { BadRequestError, TooLargeError } from '../errors.js';
import { parseFlags, validateKey, validatePrefix } from '../kv/commands.js';
import { decodeBase64 } from '../util/base64.js';
import { CATALOG_VERBS, type CatalogVerb, KV_VERBS, type KvVerb, type TxnOp } from './types.js';

/** Bounds of a transaction request. */
export interface TxnLimits {
  /** Most operations in one transaction (default 128, as Consul); more: 413. */
  readonly maxOps: number;
  /** Largest KV value (bytes); larger: 413. */
  readonly maxValueBytes: number;
}

const EMPTY = new Uint8Array(0);

function index(f: Fields, where: string): number {
  const v = f.raw('Index') ?? f.raw('ModifyIndex');
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new BadRequestError(`Invalid ${where}.Index: must be a non-negative integer`);
  return v;
}

function verb<V extends string>(f: Fields, where: string, allowed: readonly V[]): V {
  const v = f.str('Verb');
  if (!(allowed as readonly string[]).includes(v)) {
    throw new BadRequestError(`Invalid ${where}.Verb ${JSON.stringify(v)}: use one of ${allowed.join(', ')}`);
  }
  return v as V;
}

function kvOp(obj: unknown, where: string, limits: TxnLimits): TxnOp {
  const f = new Fields(obj, where);
  const v = verb<KvVerb>(f, where, KV_VERBS);
  const key = f.str('Key');
  if (v === 'get-tree' || v === 'delete-tree') validatePrefix(key);
  else {
    try {
      validateKey(key);
    } catch (err) {
      throw new BadRequestError(`Invalid ${where}.Key: ${(err as Error).message}`);
    }
  }
  let value: Uint8Array = EMPTY;
  const raw = f.raw('Value');
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== 'string') throw new BadRequestError(`Invalid ${where}.Value: must be a base64 string`);
    const bytes = decodeBase64(raw);
    if (!bytes) throw new BadRequestError(`Invalid ${where}.Value: not valid base64`);
    if (bytes.byteLength > limits.maxValueBytes) {
      // Consul's text (agent/txn_endpoint.go).
      throw new TooLargeError(
        `Value for key ${JSON.stringify(key)} is too large (${bytes.byteLength} > ${limits.maxValueBytes} bytes)`,
      );
    }
    value = bytes;
  }
  const flagsRaw = f.raw('Flags');
  let flags = '0';
  if (flagsRaw !== undefined && flagsRaw !== null) {
    if (typeof flagsRaw !== 'number' || !Number.isSafeInteger(flagsRaw) || flagsRaw < 0)
      throw new BadRequestError(`Invalid ${where}.Flags: must be a non-negative integer`);
    flags = parseFlags(String(flagsRaw));
  }
  const session = f.str('Session');
  if ((v === 'lock' || v === 'unlock') && session === '') {
    throw new BadRequestError(`Invalid ${where}: verb ${v} needs a Session`);
  }
  return { kind: 'kv', verb: v, key, value, flags, index: index(f, where), session };
}

function nodeInput(obj: unknown, where: string, datacenter: string): NodeInput {
  const f = new Fields(obj, where);
  const dc = f.str('Datacenter');
  if (dc && dc !== datacenter)
    throw new BadRequestError(
      `Invalid ${where}.Datacenter ${JSON.stringify(dc)}: this is ${JSON.stringify(datacenter)}`,
    );
  return {
    ID: f.str('ID'),
    Node: validNodeName(f.str('Node'), `${where}.Node`),
    Address: f.str('Address'),
    TaggedAddresses: f.stringMap('TaggedAddresses'),
    Meta: f.stringMap('Meta'),
  };
}

function catalogOp(kind: 'Node' | 'Service' | 'Check', obj: unknown, where: string, datacenter: string): TxnOp {
  const f = new Fields(obj, where);
  const v = verb<CatalogVerb>(f, where, CATALOG_VERBS);
  if (kind === 'Node') {
    const node = nodeInput(f.raw('Node'), `${where}.Node`, datacenter);
    return { kind: 'node', verb: v, node, index: index(new Fields(f.raw('Node'), `${where}.Node`), `${where}.Node`) };
  }
  if (kind === 'Service') {
    const node = validNodeName(f.str('Node'), `${where}.Node`);
    const sf = new Fields(f.raw('Service'), `${where}.Service`);
    // get and delete name the instance by ID only; writes need a whole definition.
    const service =
      v === 'get' || v === 'delete' || v === 'delete-cas'
        ? {
            ID: sf.str('ID') || sf.str('Service'),
            Service: sf.str('Service'),
            Tags: [],
            Address: '',
            TaggedAddresses: {},
            Meta: {},
            Port: 0,
            Weights: { Passing: 1, Warning: 1 },
            EnableTagOverride: false,
          }
        : parseService(f.raw('Service'), `${where}.Service`);
    if (!service.ID) throw new BadRequestError(`Invalid ${where}.Service: missing ID`);
    return { kind: 'service', verb: v, node, service, index: index(sf, `${where}.Service`) };
  }
  const cf = new Fields(f.raw('Check'), `${where}.Check`);
  const node = validNodeName(cf.str('Node'), `${where}.Check.Node`);
  const check = parseCatalogCheck(f.raw('Check'), `${where}.Check`);
  return { kind: 'check', verb: v, node, check, index: index(cf, `${where}.Check`) };
}

/**
 * Parses a /v1/txn body: a JSON array of operations, each an object with exactly one of KV, Node,
 * Service or Check. Throws BadRequestError (400) for anything malformed and TooLargeError (413)
 * for too many operations or too large a value.
 */
export function parseTxn(body: unknown, limits: TxnLimits, datacenter: string): TxnOp[] {
  if (!Array.isArray(body))
    throw new BadRequestError('Failed to parse body: a transaction is a JSON array of operations');
  if (body.length === 0) throw new BadRequestError('Failed to parse body: a transaction needs at least one operation');
  if (body.length > limits.maxOps) {
    throw new TooLargeError(`Transaction contains too many operations (${body.length} > ${limits.maxOps})`);
  }
  return body.map((item, i) => {
    const where = `operation ${i}`;
    if (!item || typeof item !== 'object' || Array.isArray(item))
      throw new BadRequestError(`Invalid ${where}: must be an object`);
    const kinds = Object.keys(item).filter(
      (k) => (item as Record<string, unknown>)[k] !== null && (item as Record<string, unknown>)[k] !== undefined,
    );
    if (kinds.length !== 1)
      throw new BadRequestError(`Invalid ${where}: must have exactly one of KV, Node, Service, Check`);
    const kind = kinds[0] as string;
    const value = (item as Record<string, unknown>)[kind];
    switch (kind.toLowerCase()) {
      case 'kv':
        return kvOp(value, `${where}.KV`, limits);
      case 'node':
        return catalogOp('Node', value, `${where}.Node`, datacenter);
      case 'service':
        return catalogOp('Service', value, `${where}.Service`, datacenter);
      case 'check':
        return catalogOp('Check', value, `${where}.Check`, datacenter);
      default:
        throw new BadRequestError(
          `Invalid ${where}: unknown operation type ${JSON.stringify(kind)} (use KV, Node, Service or Check)`,
        );
    }
  });
}
