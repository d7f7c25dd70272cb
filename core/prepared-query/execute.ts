import { type HealthEntry, serviceHealth } from '../catalog/queries.js';
import { shuffleByHealth } from '../catalog/shuffle.js';
import type { Rng } from '../ports/rng.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';
import type { ServiceQuery } from './types.js';

/** Whether every pair of `filters` is in `meta` (Consul's SatisfiesMetaFilters). */
function metaMatches(
  meta: Readonly<Record<string, string>>,
  filters: Readonly<Record<string, string>> | null,
): boolean {
  return Object.entries(filters ?? {}).every(([k, v]) => meta[k] === v);
}

/**
 * Whether an instance's tags satisfy a query's Tags (Consul's tagFilter): every tag present, no
 * tag written `!tag` present, ignoring case.
 */
export function tagsMatch(tags: readonly string[], wanted: readonly string[] | null): boolean {
  if (!wanted || wanted.length === 0) return true;
  const have = new Set(tags.map((t) => t.toLowerCase()));
  return wanted.every((t) => {
    const lower = t.toLowerCase();
    return lower.startsWith('!') ? !have.has(lower.slice(1)) : have.has(lower);
  });
}

/**
 * Whether an instance is healthy enough for the query (Consul's FilterIgnore): no check other than
 * those in IgnoreCheckIDs is critical, nor (with OnlyPassing) anything but passing.
 */
export function healthAllows(e: HealthEntry, s: Pick<ServiceQuery, 'OnlyPassing' | 'IgnoreCheckIDs'>): boolean {
  const ignored = new Set(s.IgnoreCheckIDs ?? []);
  return e.checks.every(
    (c) => ignored.has(c.CheckID) || (c.Status !== 'critical' && (!s.OnlyPassing || c.Status === 'passing')),
  );
}

/**
 * The instances a (rendered) query selects in this datacenter, before ACL filtering, ordering
 * and limit: the service's health entries (catalog order) that pass the health rule, NodeMeta,
 * ServiceMeta and Tags. Index: the service's.
 */
export function queryInstances(tx: ReadTxn, s: ServiceQuery): Indexed<HealthEntry[]> {
  const health = serviceHealth(tx, s.Service);
  return {
    index: health.index,
    value: health.value.filter(
      (e) =>
        healthAllows(e, s) &&
        metaMatches(e.node.Meta, s.NodeMeta) &&
        metaMatches(e.service.Meta, s.ServiceMeta) &&
        tagsMatch(e.service.Tags, s.Tags),
    ),
  };
}

/**
 * Orders the instances a query answers with, before `?limit` is applied: the one place that
 * decides the order of execute answers and of `.query.` DNS answers. A weighted random order by
 * `Weights` (shuffleByHealth: critical instances last), as Consul shuffles its answers; `near`
 * sorting plugs in here once there are coordinates. Returns a new array.
 */
export function orderQueryResults(entries: readonly HealthEntry[], rng: Rng): HealthEntry[] {
  return shuffleByHealth(entries, rng);
}

/** The first `limit` entries (all of them for limit <= 0, as Consul). */
export function applyLimit<T>(entries: readonly T[], limit: number): T[] {
  return limit > 0 ? entries.slice(0, limit) : [...entries];
}
