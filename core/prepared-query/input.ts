import { Fields } from '../catalog/input.js';
import { BadRequestError, KonsulError, RefusedError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { compileTemplate } from './template.js';
import {
  isTemplate,
  MAX_QUERY_LIST_ENTRIES,
  MAX_QUERY_NAME_CHARS,
  type PreparedQueryInput,
  type QueryFailoverTarget,
  REDACTED_TOKEN,
} from './types.js';

/** Consul's node metadata rules (ValidateNodeMetadata, with the `consul-` prefix allowed). */
const META_KEY = /^[a-zA-Z0-9_-]+$/;
const META_KEY_MAX_CHARS = 128;
const META_VALUE_MAX_CHARS = 512;

function bounded<T>(list: T, size: number, where: string): T {
  if (size > MAX_QUERY_LIST_ENTRIES)
    throw new BadRequestError(`Request decode failed: ${where} has more than ${MAX_QUERY_LIST_ENTRIES} entries`);
  return list;
}

function nullableStrings(f: Fields, name: string, where: string): string[] | null {
  if (!f.has(name)) return null;
  const list = f.strings(name);
  return bounded(list, list.length, `${where}.${name}`);
}

function nullableMap(f: Fields, name: string, where: string): Record<string, string> | null {
  if (!f.has(name)) return null;
  const map = f.stringMap(name);
  return bounded(map, Object.keys(map).length, `${where}.${name}`);
}

/**
 * Decodes a prepared query body (create or update) into its stored shape, reading field names
 * case-insensitively as Consul does; the ID is `id` (the URL's, for an update), or the body's when
 * `id` is undefined (a create, which must not give one). Throws BadRequestError (400,
 * "Request decode failed: …") for a body that is not a query: wrong JSON types, too many list
 * entries, a name longer than MAX_QUERY_NAME_CHARS, a Failover.NearestN that is not a safe
 * integer, and fields Konsul does not serve (Connect, Peer, SamenessGroup, a Failover target's
 * Peer). Fields it does not know are ignored. Rules of the query itself are checked by
 * validateQuery.
 */
export function decodeQuery(body: unknown, id: string | undefined): PreparedQueryInput {
  try {
    const q = new Fields(body, 'query');
    const t = new Fields(q.raw('Template'), 'Template');
    const s = new Fields(q.raw('Service'), 'Service');
    const fo = new Fields(s.raw('Failover'), 'Service.Failover');
    const dns = new Fields(q.raw('DNS'), 'DNS');
    const name = q.str('Name');
    if (name.length > MAX_QUERY_NAME_CHARS)
      throw new BadRequestError(`Name is longer than ${MAX_QUERY_NAME_CHARS} characters`);
    for (const unsupported of ['Peer', 'SamenessGroup'])
      if (s.str(unsupported) !== '')
        throw new BadRequestError(`Service.${unsupported} is not supported (Konsul has no cluster peering)`);
    if (s.bool('Connect')) throw new BadRequestError('Service.Connect is not supported (Konsul has no service mesh)');
    let targets: QueryFailoverTarget[] | null = null;
    const rawTargets = fo.raw('Targets');
    if (rawTargets !== undefined && rawTargets !== null) {
      if (!Array.isArray(rawTargets)) throw new BadRequestError('Service.Failover.Targets must be an array');
      bounded(rawTargets, rawTargets.length, 'Service.Failover.Targets');
      targets = rawTargets.map((raw, i) => {
        const where = `Service.Failover.Targets[${i}]`;
        const target = new Fields(raw, where);
        if (target.str('Peer') !== '')
          throw new BadRequestError(`${where}.Peer is not supported (Konsul has no cluster peering)`);
        return { Peer: '', Datacenter: target.str('Datacenter') };
      });
    }
    const nearest = fo.raw('NearestN');
    if (nearest !== undefined && nearest !== null && (typeof nearest !== 'number' || !Number.isSafeInteger(nearest)))
      throw new BadRequestError('Service.Failover.NearestN must be an integer');
    return {
      ID: id ?? q.str('ID'),
      Name: name,
      Session: q.str('Session'),
      Token: q.str('Token'),
      Template: { Type: t.str('Type'), Regexp: t.str('Regexp'), RemoveEmptyTags: t.bool('RemoveEmptyTags') },
      Service: {
        Service: s.str('Service'),
        Failover: {
          NearestN: typeof nearest === 'number' ? nearest : 0,
          Datacenters: nullableStrings(fo, 'Datacenters', 'Service.Failover'),
          Targets: targets,
        },
        OnlyPassing: s.bool('OnlyPassing'),
        IgnoreCheckIDs: nullableStrings(s, 'IgnoreCheckIDs', 'Service'),
        Near: s.str('Near'),
        Tags: nullableStrings(s, 'Tags', 'Service'),
        NodeMeta: nullableMap(s, 'NodeMeta', 'Service'),
        ServiceMeta: nullableMap(s, 'ServiceMeta', 'Service'),
        Peer: '',
        Connect: false,
      },
      DNS: { TTL: dns.str('TTL') },
    };
  } catch (err) {
    if (err instanceof BadRequestError) throw new BadRequestError(`Request decode failed: ${err.message}`);
    throw err;
  }
}

/** Go's message for a DNS TTL it cannot parse, or a negative one (in nanoseconds, as Consul prints it). */
function dnsTtlProblem(ttl: string): string | undefined {
  if (ttl === '') return undefined;
  const negative = ttl.startsWith('-');
  const ms = parseDuration(negative ? ttl.slice(1) : ttl);
  if (ms === undefined) return `Bad DNS TTL '${ttl}': time: invalid duration ${JSON.stringify(ttl)}`;
  if (negative && ms > 0) return `DNS TTL '${-Math.round(ms * 1e6)}', must be >=0`;
  return undefined;
}

function metaProblem(meta: Readonly<Record<string, string>> | null): string | undefined {
  for (const [k, v] of Object.entries(meta ?? {})) {
    if (k === '') return 'Key cannot be blank';
    if (!META_KEY.test(k)) return `Key contains invalid characters`;
    if (k.length > META_KEY_MAX_CHARS) return `Key is too long (limit: ${META_KEY_MAX_CHARS} characters)`;
    if (v.length > META_VALUE_MAX_CHARS) return `Value is too long (limit: ${META_VALUE_MAX_CHARS} characters)`;
  }
  return undefined;
}

/**
 * Checks the rules Consul's servers check before a create or update (parseQuery, then the
 * template compile): a query needs a name, a template or a session; a Service to look up; no
 * redacted token pasted back; NearestN >= 0, and Failover.Targets not combined with NearestN or
 * Datacenters; valid NodeMeta; a DNS TTL that is a non-negative Go duration; a template that
 * compiles. Datacenters are not checked (as Consul: unknown ones are skipped when failing over).
 * Throws RefusedError (500, as Consul answers; "Invalid prepared query: …" or "failed compiling
 * template: …").
 */
export function validateQuery(q: PreparedQueryInput): void {
  const invalid = (what: string): never => {
    throw new RefusedError(`Invalid prepared query: ${what}`);
  };
  if (q.Name === '' && !isTemplate(q) && q.Session === '') invalid('Must be bound to a session');
  if (q.Token === REDACTED_TOKEN)
    invalid(`Bad Token '${q.Token}', it looks like a query definition with a redacted token was submitted`);
  if (q.Service.Service === '') invalid('Must provide a Service name to query');
  const failover = q.Service.Failover;
  if (failover.NearestN < 0) invalid(`Bad NearestN '${failover.NearestN}', must be >= 0`);
  if ((failover.NearestN !== 0 || (failover.Datacenters ?? []).length !== 0) && (failover.Targets ?? []).length !== 0)
    invalid('Targets cannot be populated with NearestN or Datacenters');
  const meta = metaProblem(q.Service.NodeMeta);
  if (meta) invalid(meta);
  const ttl = dnsTtlProblem(q.DNS.TTL);
  if (ttl) invalid(ttl);
  if (isTemplate(q)) {
    try {
      compileTemplate(q);
    } catch (err) {
      if (err instanceof KonsulError) throw err;
      throw new RefusedError(`failed compiling template: ${(err as Error).message}`);
    }
  }
}
