import { noPathToDatacenter } from './federation.js';
import { BadRequestError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { parseUint64 } from '../util/uint64.js';
import type { ApiDeps } from './context.js';

/** Parsed query parameters shared by read endpoints. */
export interface ReadOptions {
  /** The index a blocking query waits to exceed (0: do not block). */
  readonly minIndex: number;
  /** How long to block, before jitter (ms). */
  readonly waitMs: number;
  readonly consistency: 'default' | 'consistent' | 'stale';
}

/** Whether the query string has `name` at all (Consul treats `?recurse` and `?recurse=false` alike). */
export function hasParam(url: URL, name: string): boolean {
  return url.searchParams.has(name);
}

/**
 * Parses an unsigned 64-bit decimal parameter. Values above 2^53 are clamped to
 * Number.MAX_SAFE_INTEGER (no index can reach them). Throws BadRequestError naming `label`.
 */
export function parseUintParam(text: string, label: string): number {
  const n = parseUint64(text);
  if (n === undefined)
    throw new BadRequestError(`Invalid ${label}: ${JSON.stringify(text)} is not an unsigned 64-bit integer`);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/** Rejects a `dc` other than the local datacenter the way Consul does (500, no path). */
export function checkDatacenter(url: URL, deps: ApiDeps): void {
  const dc = url.searchParams.get('dc');
  if (dc !== null && dc !== '' && dc !== deps.node.datacenter) {
    throw noPathToDatacenter(dc);
  }
}

/** Parses `index`, `wait`, `stale` and `consistent`. Throws BadRequestError on bad values. */
export function parseReadOptions(url: URL, deps: ApiDeps): ReadOptions {
  checkDatacenter(url, deps);
  const stale = hasParam(url, 'stale');
  const consistent = hasParam(url, 'consistent');
  if (stale && consistent) throw new BadRequestError('Cannot specify ?stale with ?consistent, conflicting semantics.');
  const indexText = url.searchParams.get('index');
  const minIndex = indexText === null || indexText === '' ? 0 : parseUintParam(indexText, 'index');
  const waitText = url.searchParams.get('wait');
  let waitMs = deps.limits.blockingDefaultWaitMs;
  if (waitText !== null && waitText !== '') {
    const parsed = parseDuration(waitText);
    if (parsed === undefined)
      throw new BadRequestError(`Invalid wait time: ${JSON.stringify(waitText)} (use a duration such as 10s or 5m)`);
    // As in Consul, a zero wait means the default.
    if (parsed > 0) waitMs = parsed;
  }
  waitMs = Math.min(waitMs, deps.limits.blockingMaxWaitMs);
  return { minIndex, waitMs, consistency: stale ? 'stale' : consistent ? 'consistent' : 'default' };
}

/** For ?consistent reads, waits until this node may serve a linearizable read (ReadIndex). */
export async function consistentBarrier(deps: ApiDeps, options: ReadOptions): Promise<void> {
  if (options.consistency === 'consistent') await deps.cluster.barrier();
}
