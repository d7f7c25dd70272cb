import { route } from '../registry.js';
import type { Hono } from 'hono';
import { BadRequestError, MethodNotAllowedError } from '../../errors.js';
import { parseFlags, validateKey, validatePrefix, type KvCommand } from '../../kv/commands.js';
import { kvEntriesToJson } from '../../kv/json.js';
import { getEntry, listEntries, listKeys } from '../../kv/queries.js';
import type { Indexed } from '../../util/indexed.js';
import { KV_TABLE, type KvEntry } from '../../kv/types.js';
import type { ReadTxn } from '../../ports/state-store.js';
import type { WatchTarget } from '../../watch/watch-registry.js';
import { readBody } from '../body.js';
import { FILTERED_HEADER, filterReadable, requireAccess, requireKeyAllUnder } from '../authz.js';
import type { ApiDeps } from '../context.js';
import { checkDatacenter, consistentBarrier, hasParam, parseReadOptions, parseUintParam } from '../query.js';
import { jsonResponse, readHeaders } from '../respond.js';
import { blockingRead } from '../read.js';

const PATH_PREFIX = '/v1/kv/';
const METHODS = ['GET', 'PUT', 'DELETE'] as const;

/** Extracts and percent-decodes the key from a /v1/kv/<key> URL. */
function keyFromUrl(url: URL): string {
  const raw = url.pathname.slice(PATH_PREFIX.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequestError('Invalid key name: bad percent-encoding');
  }
}

/** Consul refuses combinations of mutually exclusive flags with 400. */
function rejectConflicting(url: URL, names: readonly string[]): void {
  const present = names.filter((n) => hasParam(url, n));
  if (present.length > 1) throw new BadRequestError(`Conflicting flags: ${present.join(', ')} cannot be combined`);
}

async function getKv(deps: ApiDeps, req: Request, url: URL): Promise<Response> {
  const key = keyFromUrl(url);
  const options = parseReadOptions(url, deps);
  await consistentBarrier(deps, options);
  const read = <T>(target: WatchTarget, run: (tx: ReadTxn) => Indexed<T>) =>
    blockingRead(deps, req, options, target, run);

  if (hasParam(url, 'keys')) {
    validatePrefix(key);
    const separator = url.searchParams.get('separator') ?? url.searchParams.get('seperator') ?? '';
    const r = await read({ table: KV_TABLE, prefix: key }, (tx) => listKeys(tx, key, separator));
    // Keys the token may not read are left out (a folder entry counts as its prefix).
    const { items, filtered } = filterReadable(deps, req, r.value, (k) => [['key', k]]);
    const headers = { ...readHeaders(deps, r.index, options), ...(filtered ? { [FILTERED_HEADER]: 'true' } : {}) };
    if (items.length === 0 && key !== '') return new Response(null, { status: 404, headers });
    return jsonResponse(JSON.stringify(items), 200, headers);
  }
  if (hasParam(url, 'recurse')) {
    validatePrefix(key);
    const r = await read({ table: KV_TABLE, prefix: key }, (tx) => listEntries(tx, key));
    const { items, filtered } = filterReadable(deps, req, r.value, (e) => [['key', e.key]]);
    const headers = { ...readHeaders(deps, r.index, options), ...(filtered ? { [FILTERED_HEADER]: 'true' } : {}) };
    if (items.length === 0) return new Response(null, { status: 404, headers });
    // Only what the token may read is opened (encrypted values: docs/SECRETS.md).
    return jsonResponse(kvEntriesToJson(await openEntries(deps, items)), 200, headers);
  }
  validateKey(key);
  requireAccess(deps, req, 'key', key, 'read');
  const r = await read({ table: KV_TABLE, key }, (tx) => getEntry(tx, key));
  const headers = readHeaders(deps, r.index, options);
  if (r.value === undefined) return new Response(null, { status: 404, headers });
  const [entry] = await openEntries(deps, [r.value]);
  if (hasParam(url, 'raw')) {
    // As Consul: never let a browser interpret a stored value.
    return new Response((entry as KvEntry).value as Uint8Array<ArrayBuffer>, {
      status: 200,
      headers: {
        ...headers,
        'Content-Type': 'text/plain',
        'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': 'sandbox',
      },
    });
  }
  return jsonResponse(kvEntriesToJson([entry as KvEntry]), 200, headers);
}

/** Entries with sealed values opened (docs/SECRETS.md); as stored when the node has no Secrets. */
function openEntries(deps: ApiDeps, entries: readonly KvEntry[]): Promise<KvEntry[]> | KvEntry[] {
  return deps.secrets ? deps.secrets.openEntries(entries) : (entries as KvEntry[]);
}

async function putKv(deps: ApiDeps, req: Request, url: URL): Promise<Response> {
  checkDatacenter(url, deps);
  const key = keyFromUrl(url);
  validateKey(key);
  rejectConflicting(url, ['cas', 'acquire', 'release']);
  requireAccess(deps, req, 'key', key, 'write');
  const flagsText = url.searchParams.get('flags');
  const flags = flagsText === null || flagsText === '' ? '0' : parseFlags(flagsText);
  const casText = url.searchParams.get('cas');
  const cas = casText === null ? undefined : parseUintParam(casText, 'cas index');
  const acquire = url.searchParams.get('acquire');
  const release = url.searchParams.get('release');
  if (acquire === '' || release === '')
    throw new BadRequestError(`Invalid session for ?${acquire === '' ? 'acquire' : 'release'}: missing session ID`);
  const value = await readBody(req, deps.limits.kvMaxValueBytes, deps.bodyReader);
  // As Consul: within a lock delay this server saw begin, an acquire is refused before it is proposed.
  if (acquire !== null && deps.lockDelays?.inDelay(key)) return jsonResponse('false');
  let command: KvCommand;
  if (acquire !== null) command = { type: 'kv.lock', key, value, flags, session: acquire, now: deps.clock.now() };
  else if (release !== null) command = { type: 'kv.unlock', key, value, flags, session: release };
  else command = cas === undefined ? { type: 'kv.set', key, value, flags } : { type: 'kv.cas', key, value, flags, cas };
  const { value: ok } = await deps.writer.submit<boolean>(command);
  return jsonResponse(ok ? 'true' : 'false');
}

async function deleteKv(deps: ApiDeps, req: Request, url: URL): Promise<Response> {
  checkDatacenter(url, deps);
  const key = keyFromUrl(url);
  rejectConflicting(url, ['recurse', 'cas']);
  let command: KvCommand;
  if (hasParam(url, 'recurse')) {
    validatePrefix(key);
    requireKeyAllUnder(deps, req, key, 'write');
    command = { type: 'kv.delete-tree', prefix: key };
  } else {
    validateKey(key);
    requireAccess(deps, req, 'key', key, 'write');
    const casText = url.searchParams.get('cas');
    command =
      casText === null
        ? { type: 'kv.delete', key }
        : { type: 'kv.delete-cas', key, cas: parseUintParam(casText, 'cas index') };
  }
  const { value: ok } = await deps.writer.submit<boolean>(command);
  return jsonResponse(ok ? 'true' : 'false');
}

/**
 * Registers Consul's KV endpoints: GET, PUT and DELETE /v1/kv/<key>. With ACLs on, a key read
 * needs key:read, a write key:write, a recursive delete write on everything under the prefix;
 * `keys` and `recurse` answers leave out what the token may not read.
 */
export function registerKvRoutes(app: Hono, deps: ApiDeps): void {
  route(app, 'ALL', `${PATH_PREFIX}*`, async (c) => {
    const req = c.req.raw;
    const url = new URL(req.url);
    switch (req.method) {
      case 'GET':
        return getKv(deps, req, url);
      case 'PUT':
        return putKv(deps, req, url);
      case 'DELETE':
        return deleteKv(deps, req, url);
      default:
        throw new MethodNotAllowedError(req.method, METHODS);
    }
  });
}
