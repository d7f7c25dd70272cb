import { entryStatus, getNode, type HealthEntry, serviceHealth, serviceNameIgnoringCase } from '../catalog/queries.js';
import { healthWeight, shuffleByHealth } from '../catalog/shuffle.js';
import type { CatalogNode } from '../catalog/types.js';
import { ConfigError } from '../errors.js';
import { orderQueryResults, queryInstances } from '../prepared-query/execute.js';
import { resolveQuery } from '../prepared-query/queries.js';
import type { Rng } from '../ports/rng.js';
import type { ReadTxn } from '../ports/state-store.js';
import { parseDuration } from '../util/duration.js';
import { formatIp, hexOfIp, ipOfHex, isDnsName, type ParsedIp, parseIp } from './addr.js';

/** Record types the resolver answers. */
export type DnsType = 'A' | 'AAAA' | 'SRV' | 'TXT' | 'SOA' | 'ANY';

/** One resource record (wire encoding is the server's job). */
export type DnsRecord =
  | { readonly type: 'A' | 'AAAA'; readonly name: string; readonly ttl: number; readonly data: string }
  | {
      readonly type: 'SRV';
      readonly name: string;
      readonly ttl: number;
      readonly data: { priority: number; weight: number; port: number; target: string };
    }
  | { readonly type: 'TXT'; readonly name: string; readonly ttl: number; readonly data: string[] }
  | {
      readonly type: 'SOA';
      readonly name: string;
      readonly ttl: number;
      readonly data: {
        mname: string;
        rname: string;
        serial: number;
        refresh: number;
        retry: number;
        expire: number;
        minimum: number;
      };
    };

/** The resolver's answer: response code and the three record sections. */
export interface DnsAnswer {
  /** SERVFAIL only for a question about another datacenter none of whose servers answered. */
  readonly rcode: 'NOERROR' | 'NXDOMAIN' | 'REFUSED' | 'SERVFAIL';
  readonly answers: DnsRecord[];
  readonly additionals: DnsRecord[];
  readonly authorities: DnsRecord[];
  /**
   * When present (same length as `answers`): how many records of `additionals`, in order, belong
   * to each answer, so a response cut to its first k answers keeps exactly the additional records
   * of those k. Absent: the additional section does not follow the answers' order.
   */
  readonly additionalsPerAnswer?: readonly number[];
}

/** Resolver settings. TTLs in seconds. */
export interface DnsOptions {
  /** The domain served, lower case without dots at the ends (Consul: "consul"). */
  readonly domain: string;
  readonly datacenter: string;
  readonly serviceTtl: number;
  readonly nodeTtl: number;
  readonly rng: Rng;
  /**
   * Most A/AAAA records in the answer section of a service answer (Consul's
   * dns_config.a_record_limit): the first this many distinct addresses of the weighted shuffle.
   * 0 or absent: no limit. SRV records are never limited by it (as in Consul); a UDP answer can
   * still be cut shorter, with TC set, when it does not fit. An integer 0..65535.
   */
  readonly aRecordLimit?: number;
  /**
   * What DNS clients may see (with ACLs on: the anonymous token's service:read and node:read);
   * absent: everything. Names that may not be read are answered like unknown ones.
   */
  readonly access?: (tx: ReadTxn) => { canRead(resource: 'service' | 'node', name: string): boolean };
}

/** Largest accepted `aRecordLimit` (more A records than this never fit in a DNS message). */
export const MAX_A_RECORD_LIMIT = 65535;

/**
 * Checks the settings a caller chose (the rest are typed): `aRecordLimit` must be an integer in
 * 0..MAX_A_RECORD_LIMIT, TTLs integers in 0..2^31-1.
 * @throws ConfigError naming the bad field.
 */
export function validateDnsOptions(o: DnsOptions): void {
  const intIn = (name: string, v: number | undefined, max: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > max))
      throw new ConfigError(`DNS option ${name} must be an integer in 0..${max}, got ${String(v)}`);
  };
  intIn('aRecordLimit', o.aRecordLimit, MAX_A_RECORD_LIMIT);
  intIn('serviceTtl', o.serviceTtl, 2 ** 31 - 1);
  intIn('nodeTtl', o.nodeTtl, 2 ** 31 - 1);
}

type Empty = (rcode: DnsAnswer['rcode']) => DnsAnswer;

/**
 * Answers a question about `<node>.node[.<dc>].<domain>`, `[<tag>.]<service>.service[.<dc>].<domain>`,
 * `_<service>._<tag>.service[.<dc>].<domain>` (RFC 2782; `_tcp` means any tag),
 * `<query>.query[.<dc>].<domain>` (a prepared query by name or ID, see preparedQueryLookup) or
 * `<hex>.addr[.<dc>].<domain>` (an address in hex, as SRV targets name it) from the catalog.
 * Records are named after the question (lower case). Only instances without a critical check are
 * answered, in a weighted random order (`shuffleByHealth`: an instance comes first in proportion
 * to its Weights.Passing or Weights.Warning; weight 0 last); SRV weights come from the same
 * Weights, and every SRV record has its own records in the additional section (see `srvTarget`).
 * A service answer holds at most `aRecordLimit` A/AAAA records when that is set. Unknown names are NXDOMAIN;
 * known names without records of the asked type are NOERROR with no answers (with an SOA for
 * negative caching); names outside the domain are REFUSED.
 */
export function resolve(tx: ReadTxn, qname: string, qtype: DnsType, o: DnsOptions): DnsAnswer {
  const soa = soaRecord(o);
  const empty: Empty = (rcode) => ({
    rcode,
    answers: [],
    additionals: [],
    authorities: rcode === 'REFUSED' ? [] : [soa],
  });
  const q = readName(qname, o);
  switch (q.kind) {
    case 'refused':
      return empty('REFUSED');
    case 'apex':
      return qtype === 'SOA' || qtype === 'ANY'
        ? { rcode: 'NOERROR', answers: [soa], additionals: [], authorities: [] }
        : empty('NOERROR');
    case 'addr':
      return addrLookup(q.labels[0] as string, q.recordName, qtype, o, empty);
    case 'query':
      return preparedQueryLookup(tx, q.labels, q.recordName, qtype, o, empty);
    case 'other-dc':
      return empty('NXDOMAIN');
    case 'node':
      return nodeLookup(tx, q.labels, q.recordName, qtype, o, empty);
    case 'service':
      return serviceLookup(tx, q.labels, q.recordName, qtype, o, empty);
  }
}

/**
 * The datacenter a node, service or prepared query question names when it is not this one
 * (`<…>.service.<dc>`, `<…>.node.<dc>`, `<query>.query.<dc>`: the query that datacenter has),
 * else undefined: such a question is answered by a server of that datacenter.
 */
export function remoteDatacenterOf(qname: string, o: Pick<DnsOptions, 'domain' | 'datacenter'>): string | undefined {
  const name = qname.toLowerCase().replace(/\.$/, '');
  if (!name.endsWith(`.${o.domain}`)) return undefined;
  const labels = name.slice(0, -(o.domain.length + 1)).split('.');
  const kind = labels[labels.length - 2];
  const dc = labels[labels.length - 1] as string;
  if (labels.length < 3 || (kind !== 'node' && kind !== 'service' && kind !== 'query')) return undefined;
  return dc === o.datacenter.toLowerCase() ? undefined : dc;
}

/**
 * The domain's SOA record: the answer to an SOA question about the domain itself, and the
 * authority record of NXDOMAIN answers and of answers without records (for negative caching).
 */
export function soaRecord(o: DnsOptions): DnsRecord {
  return {
    type: 'SOA',
    name: `${o.domain}.`,
    ttl: 0,
    data: {
      mname: `ns.${o.domain}.`,
      rname: `hostmaster.${o.domain}.`,
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: 0,
    },
  };
}

/**
 * A question name as `resolve` reads it: lower case, without the final dot and the domain.
 * `labels` are what comes before the kind label (`node`, `service`, `query`: the labels before the
 * datacenter; `addr`: the hex label), `recordName` the name answers carry (the question in lower
 * case with the final dot).
 */
type ReadName =
  | { readonly kind: 'refused' | 'apex' | 'other-dc' }
  | { readonly kind: 'addr' | 'node' | 'service' | 'query'; readonly labels: string[]; readonly recordName: string };

/** Reads `qname` (see ReadName): outside the domain 'refused', another datacenter 'other-dc'. */
function readName(qname: string, o: DnsOptions): ReadName {
  const name = qname.toLowerCase().replace(/\.$/, '');
  const domain = o.domain;
  if (name !== domain && !name.endsWith(`.${domain}`)) return { kind: 'refused' };
  let labels = name === domain ? [] : name.slice(0, -(domain.length + 1)).split('.');
  if (labels.length === 0) return { kind: 'apex' };
  const recordName = `${name}.`;
  // "<hex>.addr[.<dc>]": Consul ignores the datacenter of an address name.
  if (labels[1] === 'addr' && labels.length <= 3) return { kind: 'addr', labels: labels.slice(0, 1), recordName };
  // "<…>.node" / "<…>.service", optionally followed by the datacenter.
  let kind: 'node' | 'service';
  let dc: string | undefined;
  const last = labels[labels.length - 1] as string;
  const before = labels[labels.length - 2];
  if (last === 'node' || last === 'service') {
    kind = last;
    labels = labels.slice(0, -1);
  } else if (before === 'node' || before === 'service') {
    kind = before;
    dc = last;
    labels = labels.slice(0, -2);
  } else {
    return { kind: 'query', labels, recordName };
  }
  if (dc !== undefined && dc !== o.datacenter.toLowerCase()) return { kind: 'other-dc' };
  return { kind, labels, recordName };
}

/** The A or AAAA record for `addr` named `name`, or undefined when `addr` is not an IP address. */
export function addressRecord(name: string, addr: string | ParsedIp, ttl: number): DnsRecord | undefined {
  const ip = typeof addr === 'string' ? parseIp(addr) : addr;
  if (!ip) return undefined;
  return { type: ip.family === 4 ? 'A' : 'AAAA', name, ttl, data: formatIp(ip) };
}

/** Whether a record of type `t` answers a question of type `qtype`. */
const answersType = (t: DnsRecord['type'], qtype: DnsType): boolean => qtype === 'ANY' || t === qtype;

/**
 * `<hex>.addr…`: the address itself, with the node TTL. A question of another type gets it in the
 * additional section (as Consul does); a label that is not 8 or 32 hex digits is NXDOMAIN.
 */
function addrLookup(hex: string, recordName: string, qtype: DnsType, o: DnsOptions, empty: Empty): DnsAnswer {
  const ip = ipOfHex(hex);
  if (!ip) return empty('NXDOMAIN');
  const record = addressRecord(recordName, ip, o.nodeTtl) as DnsRecord;
  const inAnswer = answersType(record.type, qtype);
  return {
    rcode: 'NOERROR',
    answers: inAnswer ? [record] : [],
    additionals: inAnswer ? [] : [record],
    authorities: [],
  };
}

function nodeLookup(
  tx: ReadTxn,
  labels: string[],
  recordName: string,
  qtype: DnsType,
  o: DnsOptions,
  empty: Empty,
): DnsAnswer {
  if (labels.length !== 1) return empty('NXDOMAIN');
  const wanted = labels[0] as string;
  const node = getNode(tx, wanted).value ?? findNodeCaseInsensitive(tx, wanted);
  if (!node || (o.access && !o.access(tx).canRead('node', node.Node))) return empty('NXDOMAIN');
  const answers: DnsRecord[] = [];
  const address = addressRecord(recordName, node.Address, o.nodeTtl);
  if (address && answersType(address.type, qtype)) answers.push(address);
  if (qtype === 'TXT' || qtype === 'ANY') {
    const txt = Object.entries(node.Meta).map(([k, v]) => `${k}=${v}`);
    if (txt.length > 0) answers.push({ type: 'TXT', name: recordName, ttl: o.nodeTtl, data: txt });
  }
  return {
    rcode: 'NOERROR',
    answers,
    additionals: [],
    authorities: answers.length === 0 ? (empty('NOERROR').authorities as DnsRecord[]) : [],
  };
}

function findNodeCaseInsensitive(tx: ReadTxn, name: string): CatalogNode | undefined {
  for (const [k, n] of tx.range<CatalogNode>('catalog_nodes')) if (k.toLowerCase() === name) return n;
  return undefined;
}

/** An SRV target and the records that resolve it (the SRV record's additional records). */
export interface SrvTarget {
  readonly target: string;
  readonly extra: DnsRecord[];
}

/**
 * Where an SRV record for instance `e` points, as Consul decides it:
 * - service Address is an IP: `<hex>.addr.<dc>.<domain>.` with an A/AAAA record for it, so
 *   instances on one node with different addresses stay apart;
 * - service Address empty: the node, `<node>.node.<dc>.<domain>.` with the node's address (or,
 *   when the node's address is a hostname, that hostname as below);
 * - service Address a hostname: the node as above when the hostname is the question itself (a
 *   service that names its own DNS name), otherwise the hostname, with its A/AAAA records when it
 *   lies inside the domain (there are no recursors, so an outside name gets none).
 * Undefined when there is nothing to point at (no address at all, or a name that cannot be
 * written as a DNS name); the instance then gets no SRV record. `recordName` is the question's
 * (see `resolve`). A hostname inside the domain is looked up with `inDomain` (its lower-case
 * form with the final dot), which returns its A and AAAA records (see `hostLookup`); that is the
 * only part of the target that depends on more than `e`, `recordName` and `o`.
 */
export function srvTarget(
  e: HealthEntry,
  recordName: string,
  o: DnsOptions,
  inDomain: (lowerHost: string) => readonly DnsRecord[],
): SrvTarget | undefined {
  const ipTarget = (target: string, ip: ParsedIp): SrvTarget | undefined =>
    isDnsName(target) ? { target, extra: [addressRecord(target, ip, o.serviceTtl) as DnsRecord] } : undefined;
  const hostTarget = (host: string): SrvTarget | undefined => {
    const target = host.endsWith('.') ? host : `${host}.`;
    if (!isDnsName(target)) return undefined;
    const lower = target.toLowerCase();
    const found = lower.endsWith(`.${o.domain}.`) ? inDomain(lower) : [];
    return { target, extra: found.map((r) => ({ ...r, name: target, ttl: o.serviceTtl })) };
  };
  const nodeTarget = `${e.node.Node}.node.${o.datacenter}.${o.domain}.`;
  const nodeIp = parseIp(e.node.Address);
  const service = e.service.Address;
  if (service === '') {
    if (nodeIp) return ipTarget(nodeTarget, nodeIp);
    return e.node.Address === '' ? undefined : hostTarget(e.node.Address);
  }
  const serviceIp = parseIp(service);
  if (serviceIp) return ipTarget(`${hexOfIp(serviceIp)}.addr.${o.datacenter}.${o.domain}.`, serviceIp);
  const self = (service.endsWith('.') ? service : `${service}.`).toLowerCase() === recordName;
  if (self && nodeIp) return ipTarget(nodeTarget, nodeIp);
  return hostTarget(service);
}

/**
 * A `hostLookup` that remembers what it found for the length of one answer, as resolve's answers
 * do (a name many instances point at is looked up once).
 */
function memoHostLookup(tx: ReadTxn, o: DnsOptions): (lowerHost: string) => readonly DnsRecord[] {
  const found = new Map<string, readonly DnsRecord[]>();
  return (lowerHost) => {
    let records = found.get(lowerHost);
    if (!records) found.set(lowerHost, (records = hostLookup(tx, lowerHost, o)));
    return records;
  };
}

/**
 * The A and AAAA records `resolve` answers for `lowerHost` (a name inside the domain, lower case,
 * with the final dot): what an SRV target inside the domain gets in the additional section.
 */
function hostLookup(tx: ReadTxn, lowerHost: string, o: DnsOptions): DnsRecord[] {
  const found: DnsRecord[] = [];
  // A and AAAA questions never lead back here, so this cannot loop.
  for (const t of ['A', 'AAAA'] as const)
    for (const r of resolve(tx, lowerHost, t, o).answers) if (r.type === t) found.push(r);
  return found;
}

/** A question about a service, read from its name (see `serviceQuestion`). */
export interface ServiceQuestion {
  /** The service name asked for, lower case. */
  readonly service: string;
  /** The tag instances must carry (lower case), or undefined for any. */
  readonly tag: string | undefined;
  /** The name the answer's records carry: the question in lower case with the final dot. */
  readonly recordName: string;
}

/**
 * Reads `qname` as `resolve` does and returns the service question it asks —
 * `[<tag>.]<service>.service[.<dc>].<domain>` or `_<service>._<tag>.service[.<dc>].<domain>`
 * in this datacenter — or undefined for any other name (a node, an address, a prepared query, a
 * name outside the domain or in another datacenter, or too many labels before `.service`).
 */
export function serviceQuestion(qname: string, o: DnsOptions): ServiceQuestion | undefined {
  const q = readName(qname, o);
  if (q.kind !== 'service') return undefined;
  const parts = serviceLabels(q.labels);
  return parts && { ...parts, recordName: q.recordName };
}

/** The service and tag `labels` (those before `.service`) name, or undefined when they name none. */
function serviceLabels(labels: readonly string[]): { service: string; tag: string | undefined } | undefined {
  if (labels.length === 2 && labels[0]?.startsWith('_') && labels[1]?.startsWith('_')) {
    const t = (labels[1] as string).slice(1);
    return { service: (labels[0] as string).slice(1), tag: t === 'tcp' ? undefined : t };
  }
  if (labels.length === 1) return { service: labels[0] as string, tag: undefined };
  if (labels.length === 2) return { service: labels[1] as string, tag: labels[0] };
  return undefined;
}

/** A service found for a question (see `findService`). */
export interface FoundService {
  /** Its name as registered. */
  readonly exact: string;
  /** Its instances with their checks (`serviceHealth`, not to be mutated), critical ones included. */
  readonly entries: readonly HealthEntry[];
  /** The index of those entries: the service's (`serviceIndex`), which moves whenever they change. */
  readonly index: number;
  /** What DNS clients may read (`DnsOptions.access`), or undefined for everything. */
  readonly access: { canRead(resource: 'service' | 'node', name: string): boolean } | undefined;
}

/**
 * The service `service` (lower case) names: the one registered under that name, else the first
 * whose name matches it ignoring case. Undefined — NXDOMAIN — when there is none or DNS clients
 * may not read it (`DnsOptions.access`, asked once per call).
 */
export function findService(tx: ReadTxn, service: string, o: DnsOptions): FoundService | undefined {
  // serviceHealth is kept per change of the service (ReadTxn.derived): asking it is cheap.
  const direct = serviceHealth(tx, service);
  const exact = direct.value.length > 0 ? service : serviceNameIgnoringCase(tx, service);
  if (!exact) return undefined;
  const access = o.access?.(tx);
  if (access && !access.canRead('service', exact)) return undefined;
  const health = exact === service ? direct : serviceHealth(tx, exact);
  return { exact, entries: health.value, index: health.index, access };
}

/**
 * Whether instance `e` may be in a service answer for a question with `tag` (lower case, or
 * undefined for any): no critical check, and the tag among its tags ignoring case. Node access is
 * checked apart (see `FoundService.access`).
 */
export function answersService(e: HealthEntry, tag: string | undefined): boolean {
  return entryStatus(e) !== 'critical' && (tag === undefined || e.service.Tags.some((t) => t.toLowerCase() === tag));
}

function serviceLookup(
  tx: ReadTxn,
  labels: string[],
  recordName: string,
  qtype: DnsType,
  o: DnsOptions,
  empty: Empty,
): DnsAnswer {
  const parts = serviceLabels(labels);
  if (!parts) return empty('NXDOMAIN');
  const found = findService(tx, parts.service, o);
  if (!found) return empty('NXDOMAIN');
  const access = found.access;
  const healthy = found.entries.filter(
    (e) => answersService(e, parts.tag) && (!access || access.canRead('node', e.node.Node)),
  );
  if (healthy.length === 0) return empty('NXDOMAIN');
  return instanceRecords(tx, shuffleByHealth(healthy, o.rng), recordName, qtype, o, empty);
}

/**
 * The answer for service instances in `ordered` order: their A/AAAA records (each address once,
 * at most `o.aRecordLimit` when set) and, for SRV and ANY questions, one SRV per node, service
 * address and port with its own set of additional records (HAProxy pairs each additional record
 * with one SRV record). Records carry `o.serviceTtl`.
 */
function instanceRecords(
  tx: ReadTxn,
  ordered: readonly HealthEntry[],
  recordName: string,
  qtype: DnsType,
  o: DnsOptions,
  empty: Empty,
): DnsAnswer {
  const answers: DnsRecord[] = [];
  const additionals: DnsRecord[] = [];
  const additionalsPerAnswer: number[] = [];
  // Consul answers one address once, and one SRV per node, service address and port.
  const seenAddresses = new Set<string>();
  const seenSrv = new Set<string>();
  const inDomain = memoHostLookup(tx, o);
  const addressLimit = o.aRecordLimit && o.aRecordLimit > 0 ? o.aRecordLimit : Infinity;
  for (const e of ordered) {
    const address = addressRecord(recordName, e.service.Address || e.node.Address, o.serviceTtl);
    if (
      address &&
      answersType(address.type, qtype) &&
      seenAddresses.size < addressLimit &&
      !seenAddresses.has(address.data as string)
    ) {
      seenAddresses.add(address.data as string);
      answers.push(address);
      additionalsPerAnswer.push(0);
    }
    if (qtype !== 'SRV' && qtype !== 'ANY') {
      // Consul stops at the limit; only SRV records (of an ANY question) would follow.
      if (seenAddresses.size >= addressLimit) break;
      continue;
    }
    const tuple = srvTuple(e);
    if (seenSrv.has(tuple)) continue;
    seenSrv.add(tuple);
    const srv = srvTarget(e, recordName, o, inDomain);
    if (!srv) continue;
    answers.push(srvRecord(e, recordName, srv.target, o));
    additionals.push(...srv.extra);
    additionalsPerAnswer.push(srv.extra.length);
  }
  return {
    rcode: 'NOERROR',
    answers,
    additionals,
    additionalsPerAnswer,
    authorities: answers.length === 0 ? (empty('NOERROR').authorities as DnsRecord[]) : [],
  };
}

/** The SRV record of instance `e` pointing at `target`, named `recordName`, with its Weights (`healthWeight`). */
export function srvRecord(e: HealthEntry, recordName: string, target: string, o: DnsOptions): DnsRecord {
  return {
    type: 'SRV',
    name: recordName,
    ttl: o.serviceTtl,
    data: { priority: 1, weight: healthWeight(e), port: e.service.Port, target },
  };
}

/**
 * What makes two SRV records one (Consul answers one SRV per node, service address and port): a
 * key equal for two instances exactly when those three are equal.
 */
export function srvTuple(e: HealthEntry): string {
  return `${e.node.Node}\u0000${e.service.Address}\u0000${e.service.Port}`;
}

/** A query's DNS.TTL in whole seconds, or `fallback` when it has none (or none that parses). */
function queryTtlSeconds(ttl: string, fallback: number): number {
  const ms = ttl === '' ? undefined : parseDuration(ttl);
  return ms === undefined ? fallback : Math.floor(ms / 1000);
}

/**
 * `<query>.query[.<dc>]` (labels without the domain; a query name may hold dots): the instances the
 * prepared query selects (as its HTTP execute does, in its order), answered like a service lookup
 * — A/AAAA per distinct address, one SRV per node, address and port with its additional records —
 * with the query's DNS.TTL (else the service TTL). NXDOMAIN for names that are no query question,
 * no query, another datacenter, a template named by ID, or a query that selects nothing readable.
 */
function preparedQueryLookup(
  tx: ReadTxn,
  labels: string[],
  recordName: string,
  qtype: DnsType,
  o: DnsOptions,
  empty: Empty,
): DnsAnswer {
  let nameLabels: string[];
  if (labels[labels.length - 1] === 'query') nameLabels = labels.slice(0, -1);
  else if (labels[labels.length - 2] === 'query' && labels[labels.length - 1] === o.datacenter.toLowerCase())
    nameLabels = labels.slice(0, -2);
  else return empty('NXDOMAIN');
  if (nameLabels.length === 0) return empty('NXDOMAIN');
  let resolved;
  try {
    resolved = resolveQuery(tx, nameLabels.join('.'));
  } catch {
    return empty('NXDOMAIN');
  }
  if (!resolved) return empty('NXDOMAIN');
  const query = resolved.rendered;
  const access = o.access?.(tx);
  const selected = queryInstances(tx, query.Service).value.filter(
    (e) => !access || (access.canRead('service', e.service.Service) && access.canRead('node', e.node.Node)),
  );
  if (selected.length === 0) return empty('NXDOMAIN');
  const ttl = queryTtlSeconds(query.DNS.TTL, o.serviceTtl);
  return instanceRecords(tx, orderQueryResults(selected, o.rng), recordName, qtype, { ...o, serviceTtl: ttl }, empty);
}
