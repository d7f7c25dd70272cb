/**
 * Service answers in two steps, for a caller that keeps the per-instance part between queries
 * (the DNS server keeps it encoded to wire bytes). `serviceCandidates` builds the records of every
 * instance a service question may be answered with: a function of the catalog, the question and
 * the options only, so it can be kept until the service's index moves. `pickCandidates` then
 * orders and chooses among them for one query — access to nodes, the weighted shuffle, one record
 * per address or per SRV node/address/port, aRecordLimit — as `resolve` does for the same
 * question. With the rng in the same state both give the same records in the same order and draw
 * the same numbers (the server's property test compares them answer by answer).
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

/** What `pickCandidates` needs to know of one instance. */
export interface Pickable {
  /** Its load-balancing weight (`healthWeight`), finite and >= 0: the shuffle's weight. */
  readonly weight: number;
  /** Its node's name, for node:read (`DnsOptions.access`). */
  readonly node: string;
  /**
   * Instances with the same key give at most one record, the one drawn first: for A/AAAA the
   * address, for SRV the node, service address and port. An integer in 0..keys-1 (see
   * `Candidates.keys`), or -1 for an A/AAAA candidate without a record.
   */
  readonly key: number;
  /** Whether it has a record for the answer section (for SRV: whether it has a target). */
  readonly answers: boolean;
}

/** One instance's records for a question (see `serviceCandidates`). */
export interface ServiceCandidate extends Pickable {
  /** Its record in the answer section, present exactly when `answers`. */
  readonly answer: DnsRecord | undefined;
  /** The additional records that go with `answer` (an SRV target's addresses), in order. */
  readonly extra: readonly DnsRecord[];
}

/** Every instance a question may be answered with, in the service's order. */
export interface Candidates<C extends Pickable> {
  readonly candidates: readonly C[];
  /** How many distinct keys the candidates use (`Pickable.key` lies below it). */
  readonly keys: number;
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
): Candidates<ServiceCandidate> | undefined {
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
  const candidates: ServiceCandidate[] = [];
  for (const e of entries) {
    if (!answersService(e, q.tag)) continue;
    const weight = healthWeight(e);
    const node = e.node.Node;
    if (qtype === 'SRV') {
      const srv = srvTarget(e, q.recordName, o, inDomain);
      candidates.push({
        weight,
        node,
        key: keyOf(srvTuple(e)),
        answers: srv !== undefined,
        answer: srv && srvRecord(e, q.recordName, srv.target, o),
        extra: srv?.extra ?? [],
      });
    } else {
      const address = addressRecord(q.recordName, e.service.Address || e.node.Address, o.serviceTtl);
      const answer = address?.type === qtype ? address : undefined;
      candidates.push({
        weight,
        node,
        key: answer ? keyOf(answer.data as string) : -1,
        answers: answer !== undefined,
        answer,
        extra: [],
      });
    }
  }
  return looksUpHost ? undefined : { candidates, keys: ids.size };
}

/**
 * The candidates one query answers with, in answer order: those on nodes `access` lets DNS
 * clients read (all when undefined), in a weighted random order (`weightedShuffle` by weight, one
 * `o.rng` draw per readable candidate, in the order given), then the first of each key that has a
 * record — for A/AAAA at most `o.aRecordLimit` of them when that is set. Empty when no readable
 * candidate has a record (a NOERROR answer without records); undefined, with no draw, when none
 * is readable (NXDOMAIN).
 * @throws RangeError for a weight that is negative, NaN or infinite (as `weightedShuffle`).
 */
export function pickCandidates<C extends Pickable>(
  all: Candidates<C>,
  qtype: CandidateType,
  o: DnsOptions,
  access?: FoundService['access'],
): C[] | undefined {
  const readable = access ? all.candidates.filter((c) => access.canRead('node', c.node)) : all.candidates;
  if (readable.length === 0) return undefined;
  const ordered = weightedShuffle(readable, (c) => c.weight, o.rng);
  const seen = new Uint8Array(all.keys);
  const limit = qtype !== 'SRV' && o.aRecordLimit && o.aRecordLimit > 0 ? o.aRecordLimit : Infinity;
  const picked: C[] = [];
  for (const c of ordered) {
    if (qtype === 'SRV') {
      // The first of a node/address/port decides, with a target or without (as resolve's loop).
      if (seen[c.key] === 1) continue;
      seen[c.key] = 1;
      if (c.answers) picked.push(c);
    } else {
      if (!c.answers || seen[c.key] === 1) continue;
      seen[c.key] = 1;
      picked.push(c);
      if (picked.length >= limit) break;
    }
  }
  return picked;
}

/** How a caller keeps candidates between queries (see `pickServiceAnswer`). */
export interface CandidateKeeper<K extends Candidates<Pickable>> {
  /** Names what `prepare` makes; part of the key the kept value is stored under. */
  readonly name: string;
  /** Turns freshly built candidates into the kept form (e.g. encoded); called once per service change. */
  prepare(built: Candidates<ServiceCandidate>): K;
}

/**
 * A service answer from kept candidates (see `pickServiceAnswer`): NXDOMAIN, or NOERROR with the
 * picked candidates in answer order — none for an answer without records. Both without records
 * carry the domain's SOA record (`soaRecord`) as `resolve`'s do.
 */
export type KeptServiceAnswer<K extends Candidates<Pickable>> =
  | { readonly rcode: 'NXDOMAIN' }
  | { readonly rcode: 'NOERROR'; readonly kept: K; readonly picked: Array<K['candidates'][number]> };

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
export function pickServiceAnswer<K extends Candidates<Pickable>>(
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
  const picked = pickCandidates<K['candidates'][number]>(kept, qtype, o, found.access);
  return picked ? { rcode: 'NOERROR', kept, picked } : { rcode: 'NXDOMAIN' };
}
