import { entryStatus, getNode, type HealthEntry, serviceHealth, serviceInstances } from '../catalog/queries.js';
import { weightFor } from '../catalog/state-machine.js';
import type { CatalogNode } from '../catalog/types.js';
import { type Rng, randomInt } from '../ports/rng.js';
import type { ReadTxn } from '../ports/state-store.js';

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
  readonly rcode: 'NOERROR' | 'NXDOMAIN' | 'REFUSED';
  readonly answers: DnsRecord[];
  readonly additionals: DnsRecord[];
  readonly authorities: DnsRecord[];
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
   * What DNS clients may see (with ACLs on: the anonymous token's service:read and node:read);
   * absent: everything. Names that may not be read are answered like unknown ones.
   */
  readonly access?: (tx: ReadTxn) => { canRead(resource: 'service' | 'node', name: string): boolean };
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** 'A', 'AAAA' or undefined (a hostname, which the resolver does not follow). */
export function addressType(addr: string): 'A' | 'AAAA' | undefined {
  if (IPV4.test(addr)) return addr.split('.').every((p) => Number(p) <= 255) ? 'A' : undefined;
  return addr.includes(':') && /^[0-9a-fA-F:.]+$/.test(addr) ? 'AAAA' : undefined;
}

function shuffle<T>(list: T[], rng: Rng): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    [list[i], list[j]] = [list[j] as T, list[i] as T];
  }
  return list;
}

/**
 * Answers a question about `<node>.node[.<dc>].<domain>`, `[<tag>.]<service>.service[.<dc>].<domain>`
 * or `_<service>._<tag>.service[.<dc>].<domain>` (RFC 2782; `_tcp` means any tag) from the catalog.
 * Only instances without a critical check are answered, in random order; SRV weights come from the
 * instance's Weights. Unknown names are NXDOMAIN; known names without records of the asked type
 * are NOERROR with no answers (with an SOA for negative caching); names outside the domain are REFUSED.
 */
export function resolve(tx: ReadTxn, qname: string, qtype: DnsType, o: DnsOptions): DnsAnswer {
  const name = qname.toLowerCase().replace(/\.$/, '');
  const domain = o.domain;
  const soa: DnsRecord = {
    type: 'SOA',
    name: `${domain}.`,
    ttl: 0,
    data: {
      mname: `ns.${domain}.`,
      rname: `hostmaster.${domain}.`,
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: 0,
    },
  };
  const empty = (rcode: DnsAnswer['rcode']): DnsAnswer => ({
    rcode,
    answers: [],
    additionals: [],
    authorities: rcode === 'REFUSED' ? [] : [soa],
  });
  if (name !== domain && !name.endsWith(`.${domain}`)) return empty('REFUSED');
  let labels = name === domain ? [] : name.slice(0, -(domain.length + 1)).split('.');
  if (labels.length === 0)
    return qtype === 'SOA' || qtype === 'ANY'
      ? { rcode: 'NOERROR', answers: [soa], additionals: [], authorities: [] }
      : empty('NOERROR');
  // "<…>.node" / "<…>.service", optionally followed by the datacenter.
  let kind: string | undefined;
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
    return empty('NXDOMAIN');
  }
  if (dc !== undefined && dc !== o.datacenter.toLowerCase()) return empty('NXDOMAIN');
  if (kind === 'node') return nodeLookup(tx, labels, qtype, o, empty);
  return serviceLookup(tx, labels, qtype, o, empty);
}

function nodeRecords(node: CatalogNode, recordName: string, ttl: number): DnsRecord[] {
  const t = addressType(node.Address);
  return t ? [{ type: t, name: recordName, ttl, data: node.Address }] : [];
}

function nodeLookup(
  tx: ReadTxn,
  labels: string[],
  qtype: DnsType,
  o: DnsOptions,
  empty: (r: DnsAnswer['rcode']) => DnsAnswer,
): DnsAnswer {
  if (labels.length !== 1) return empty('NXDOMAIN');
  const wanted = labels[0] as string;
  const node = getNode(tx, wanted).value ?? findNodeCaseInsensitive(tx, wanted);
  if (!node || (o.access && !o.access(tx).canRead('node', node.Node))) return empty('NXDOMAIN');
  const recordName = `${labels.join('.')}.node.${o.domain}.`;
  const answers: DnsRecord[] = [];
  if (qtype === 'A' || qtype === 'AAAA' || qtype === 'ANY') {
    for (const r of nodeRecords(node, recordName, o.nodeTtl)) if (qtype === 'ANY' || r.type === qtype) answers.push(r);
  }
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

function serviceLookup(
  tx: ReadTxn,
  labels: string[],
  qtype: DnsType,
  o: DnsOptions,
  empty: (r: DnsAnswer['rcode']) => DnsAnswer,
): DnsAnswer {
  let service: string;
  let tag: string | undefined;
  if (labels.length === 2 && labels[0]?.startsWith('_') && labels[1]?.startsWith('_')) {
    service = (labels[0] as string).slice(1);
    const t = (labels[1] as string).slice(1);
    tag = t === 'tcp' ? undefined : t;
  } else if (labels.length === 1) {
    service = labels[0] as string;
  } else if (labels.length === 2) {
    tag = labels[0];
    service = labels[1] as string;
  } else {
    return empty('NXDOMAIN');
  }
  const known = serviceInstances(tx, service).value;
  const exact = known.length > 0 ? service : findServiceName(tx, service);
  if (!exact) return empty('NXDOMAIN');
  const access = o.access?.(tx);
  if (access && !access.canRead('service', exact)) return empty('NXDOMAIN');
  const healthy = serviceHealth(tx, exact).value.filter(
    (e) =>
      entryStatus(e) !== 'critical' &&
      (tag === undefined || e.service.Tags.some((t) => t.toLowerCase() === tag)) &&
      (!access || access.canRead('node', e.node.Node)),
  );
  if (healthy.length === 0) return empty('NXDOMAIN');
  const recordName = `${labels.join('.')}.service.${o.domain}.`;
  const answers: DnsRecord[] = [];
  const additionals: DnsRecord[] = [];
  for (const e of shuffle([...healthy], o.rng)) {
    const addr = e.service.Address || e.node.Address;
    const t = addressType(addr);
    if ((qtype === 'A' || qtype === 'AAAA' || qtype === 'ANY') && t && (qtype === 'ANY' || t === qtype)) {
      answers.push({ type: t, name: recordName, ttl: o.serviceTtl, data: addr });
    }
    if (qtype === 'SRV' || qtype === 'ANY') {
      const target = `${e.node.Node.toLowerCase()}.node.${o.datacenter}.${o.domain}.`;
      answers.push({
        type: 'SRV',
        name: recordName,
        ttl: o.serviceTtl,
        data: {
          priority: 1,
          weight: weightFor(e.service.Weights, entryStatus(e as HealthEntry)),
          port: e.service.Port,
          target,
        },
      });
      if (t && !additionals.some((r) => r.name === target && r.data === addr))
        additionals.push({ type: t, name: target, ttl: o.serviceTtl, data: addr });
    }
  }
  return {
    rcode: 'NOERROR',
    answers,
    additionals,
    authorities: answers.length === 0 ? (empty('NOERROR').authorities as DnsRecord[]) : [],
  };
}

function findServiceName(tx: ReadTxn, lower: string): string | undefined {
  for (const [k] of tx.range('catalog_service_names')) {
    const name = k.slice(0, k.indexOf('\u0000'));
    if (name.toLowerCase() === lower) return name;
  }
  return undefined;
}
