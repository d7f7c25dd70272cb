/**
 * Service answers in two steps, for a caller that keeps the per-instance part between queries
 * (the DNS server keeps it encoded to wire bytes). `serviceCandidates` builds the records of every
 * instance a service question may be answered with: a function of the catalog, the question and
 * the options only, so it can be kept until the service's index moves. `pickCandidates` then
 * orders and chooses among them for one query — access to nodes, the weighted shuffle, one record
 * per address or per SRV node/address/port, aRecordLimit — as `resolve` does for the same
 * question. With the rng in the same state both give the same records in the same order and draw
 * the same numbers (service-candidates.test.ts and the server's dns-service-answer.test.ts
 * compare them answer by answer).
 */
import type { HealthEntry } from '../catalog/queries.js';
import { healthWeight, weightedShuffle } from '../catalog/shuffle.js';
import type { ReadTxn } from '../ports/state-store.js';
import {
  addressRecord,
  answersService,
  type DnsOptions,
  type DnsRecord,
  type FoundService,
  findService,
  type ServiceQuestion,
  serviceQuestion,
  srvRecord,
  srvTarget,
  srvTuple,
} from './resolver.js';

/** The question types answered in two steps (ANY and TXT keep to `resolve`). */
export type CandidateType = 'A' | 'AAAA' | 'SRV';

/**
 * Every instance a question may be answered with, in the service's order: instance i is entry i
 * of each array (one array per field keeps a query's walk over them compact in memory).
 */
export interface CandidateTable {
  /** How many instances: the length of every array. */
  readonly size: number;
  /** 0, 1, …, size-1: the order `pickCandidates` shuffles when every node may be read. */
  readonly all: readonly number[];
  /** Load-balancing weights (`healthWeight`), finite and >= 0: the shuffle's weights. */
  readonly weights: Float64Array;
  /** Node names, for node:read (`DnsOptions.access`). */
  readonly nodes: readonly string[];
  /**
   * Instances with the same key give at most one record, the one drawn first: for A/AAAA the
   * address, for SRV the node, service address and port. Integers in 0..keyCount-1, or -1 for an
   * A/AAAA instance without a record.
   */
  readonly keys: Int32Array;
  readonly keyCount: number;
  /** 1 when the instance has a record for the answer section (for SRV: a target), else 0. */
  readonly answers: Uint8Array;
}

/** A question's candidates as `serviceCandidates` builds them: the table and each instance's records. */
export interface BuiltCandidates {
  readonly table: CandidateTable;
  /**
   * Per instance (as the table): its record in the answer section (present exactly when
   * `answers` is 1) and the additional records that go with it (an SRV target's addresses).
   */
  readonly records: ReadonlyArray<{ readonly answer: DnsRecord | undefined; readonly extra: readonly DnsRecord[] }>;
}

/**
 * The candidates for an A, AAAA or SRV question `q` about a service whose instances are `entries`
 * (`FoundService.entries`): every instance `answersService` admits, in order, with its weight,
 * node, key and the records `resolve` would give it — an A/AAAA record of the asked family for its
 * address, or an SRV record with the target's records (`srvTarget`). Node access is not applied
 * here (see `pickCandidates`). Undefined when the answer depends on more than these entries: an
 * SRV target that is a hostname inside the domain, whose records come from another lookup.
 */
export function serviceCandidates(
  entries: readonly HealthEntry[],
  q: ServiceQuestion,
  qtype: CandidateType,
  o: DnsOptions,
): BuiltCandidates | undefined {
  const ids = new Map<string, number>();
  const keyOf = (k: string): number => {
    let id = ids.get(k);
    if (id === undefined) ids.set(k, (id = ids.size));
    return id;
  };
  let looksUpHost = false;
  const inDomain = (): readonly DnsRecord[] => {
    looksUpHost = true;
    return [];
  };
  const answerable = entries.filter((e) => answersService(e, q.tag));
  const size = answerable.length;
  const weights = new Float64Array(size);
  const keys = new Int32Array(size);
  const answers = new Uint8Array(size);
  const records = answerable.map((e, i) => {
    weights[i] = healthWeight(e);
    if (qtype === 'SRV') {
      const srv = srvTarget(e, q.recordName, o, inDomain);
      keys[i] = keyOf(srvTuple(e));
      answers[i] = srv ? 1 : 0;
      return { answer: srv && srvRecord(e, q.recordName, srv.target, o), extra: srv?.extra ?? [] };
    }
    const address = addressRecord(q.recordName, e.service.Address || e.node.Address, o.serviceTtl);
    const answer = address?.type === qtype ? address : undefined;
    keys[i] = answer ? keyOf(answer.data as string) : -1;
    answers[i] = answer ? 1 : 0;
    return { answer, extra: [] };
  });
  if (looksUpHost) return undefined;
  const table: CandidateTable = {
    size,
    all: Array.from({ length: size }, (_, i) => i),
    weights,
    nodes: answerable.map((e) => e.node.Node),
    keys,
    keyCount: ids.size,
    answers,
  };
  return { table, records };
}

/**
 * The instances one query answers with (indexes into `table`), in answer order: those on nodes
 * `access` lets DNS clients read (all when undefined), in a weighted random order
 * (`weightedShuffle` by weight, one `o.rng` draw per readable instance, in table order), then the
 * first of each key that has a record — for A/AAAA at most `o.aRecordLimit` of them when that is
 * set. Empty when no readable instance has a record (a NOERROR answer without records);
 * undefined, with no draw, when none is readable (NXDOMAIN).
 * @throws RangeError for a weight that is negative, NaN or infinite (as `weightedShuffle`).
 */
export function pickCandidates(
  table: CandidateTable,
  qtype: CandidateType,
  o: DnsOptions,
  access?: FoundService['access'],
): number[] | undefined {
  const readable = access ? table.all.filter((i) => access.canRead('node', table.nodes[i] as string)) : table.all;
  if (readable.length === 0) return undefined;
  const weights = table.weights;
  const ordered = weightedShuffle(readable, (i) => weights[i] as number, o.rng);
  const { keys, answers } = table;
  const seen = new Uint8Array(table.keyCount);
  const limit = qtype !== 'SRV' && o.aRecordLimit && o.aRecordLimit > 0 ? o.aRecordLimit : Infinity;
  const picked: number[] = [];
  for (const i of ordered) {
    const key = keys[i] as number;
    if (qtype === 'SRV') {
      // The first of a node/address/port decides, with a target or without (as resolve's loop).
      if (seen[key] === 1) continue;
      seen[key] = 1;
      if (answers[i] === 1) picked.push(i);
    } else {
      if (answers[i] !== 1 || seen[key] === 1) continue;
      seen[key] = 1;
      picked.push(i);
      if (picked.length >= limit) break;
    }
  }
  return picked;
}

/** How a caller keeps candidates between queries (see `pickServiceAnswer`). */
export interface CandidateKeeper<K extends { readonly table: CandidateTable }> {
  /** Names what `prepare` makes; part of the key the kept value is stored under. */
  readonly name: string;
  /** Turns freshly built candidates into the kept form (e.g. encoded); called once per service change. */
  prepare(built: BuiltCandidates): K;
}

/**
 * A service answer from kept candidates (see `pickServiceAnswer`): NXDOMAIN, or NOERROR with the
 * picked instances (indexes into `kept.table`) in answer order — none for an answer without
 * records. Both without records carry the domain's SOA record (`soaRecord`) as `resolve`'s do.
 */
export type KeptServiceAnswer<K extends { readonly table: CandidateTable }> =
  { readonly rcode: 'NXDOMAIN' } | { readonly rcode: 'NOERROR'; readonly kept: K; readonly picked: readonly number[] };

/**
 * Answers an A, AAAA or SRV question `qname` from candidates kept between queries: reads the name
 * (`serviceQuestion`), finds the service (`findService`, with its access check), takes the
 * question's candidates from `tx.derived` — built by `serviceCandidates` and `keeper.prepare`,
 * kept per question name, type, the options that shape records and `keeper.name`, until the
 * service's index (`FoundService.index`) moves; built every time on a store without `derived` — and
 * picks this query's (`pickCandidates`). The answer is `resolve`'s for the question, drawing from
 * `o.rng` as it does; undefined, with no draw, when `resolve` must give it: a name that is no
 * service question in this datacenter, or candidates that depend on other lookups.
 */
export function pickServiceAnswer<K extends { readonly table: CandidateTable }>(
  tx: ReadTxn,
  qname: string,
  qtype: CandidateType,
  o: DnsOptions,
  keeper: CandidateKeeper<K>,
): KeptServiceAnswer<K> | undefined {
  const q = serviceQuestion(qname, o);
  if (!q) return undefined;
  const found = findService(tx, q.service, o);
  if (!found) return { rcode: 'NXDOMAIN' };
  const build = (): K | null => {
    const built = serviceCandidates(found.entries, q, qtype, o);
    return built ? keeper.prepare(built) : null;
  };
  const key = [keeper.name, qtype, o.domain, o.datacenter, o.serviceTtl, found.exact, q.recordName].join('\u0000');
  const kept = tx.derived ? tx.derived(key, found.index, build) : build();
  if (!kept) return undefined;
  const picked = pickCandidates(kept.table, qtype, o, found.access);
  return picked ? { rcode: 'NOERROR', kept, picked } : { rcode: 'NXDOMAIN' };
}
