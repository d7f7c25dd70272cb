import { HEALTH_WATCH_TABLE } from '../catalog/state-machine.js';
import { BadRequestError } from '../errors.js';
import { validatePrefix } from '../kv/commands.js';
import { KV_TABLE, type KvRecord } from '../kv/types.js';
import type { Change } from '../watch/change.js';
import type { FeedFilter } from '../watch/change-feed.js';
import type { SyncChange, SyncScope } from './types.js';

/** Most prefixes and services one replica may subscribe to. */
export const MAX_SCOPE_ENTRIES = 256;

/**
 * Validates and normalizes a scope: prefixes valid, at most MAX_SCOPE_ENTRIES of each, no
 * duplicates, prefixes covered by another one dropped. Throws BadRequestError.
 */
export function normalizeScope(scope: SyncScope): SyncScope {
  if (scope.prefixes.length > MAX_SCOPE_ENTRIES || scope.services.length > MAX_SCOPE_ENTRIES) {
    throw new BadRequestError(`too many prefixes or services (at most ${MAX_SCOPE_ENTRIES} each)`);
  }
  for (const p of scope.prefixes) validatePrefix(p);
  for (const s of scope.services) {
    if (s === '' || s.includes('\u0000') || !s.isWellFormed())
      throw new BadRequestError(`Invalid service name ${JSON.stringify(s)}`);
  }
  const sorted = [...new Set(scope.prefixes)].sort();
  const prefixes = sorted.filter((p) => !sorted.some((q) => q !== p && p.startsWith(q)));
  return { prefixes, services: [...new Set(scope.services)].sort() };
}

/** The change-feed filters of a scope. */
export function scopeFilters(scope: SyncScope): FeedFilter[] {
  return [
    ...scope.prefixes.map((prefix) => ({ table: KV_TABLE, prefix })),
    ...scope.services.map((s) => ({ table: HEALTH_WATCH_TABLE, prefix: `${s}\u0000` })),
  ];
}

/** Filters that see every KV and health change (for publishers that serve every scope). */
export const ALL_FILTERS: readonly FeedFilter[] = [
  { table: KV_TABLE, prefix: '' },
  { table: HEALTH_WATCH_TABLE, prefix: '' },
];

/** Whether `key` is inside the scope's prefixes. */
export function scopeHasKey(scope: SyncScope, key: string): boolean {
  return scope.prefixes.some((p) => key.startsWith(p));
}

/** Whether a change is inside the scope. */
export function scopeHasChange(scope: SyncScope, c: SyncChange): boolean {
  if (c.t === 'kv') return scopeHasKey(scope, c.key);
  if (c.t === 'kv-tree') return scope.prefixes.some((p) => p.startsWith(c.prefix) || c.prefix.startsWith(p));
  return scope.services.includes(c.service);
}

/**
 * Turns a feed change of the KV table or the health pseudo-table into a sync change; undefined
 * for anything else (a restore reset is not a change: the stream resyncs instead).
 */
export function toSyncChange(change: Change): SyncChange | undefined {
  if (change.table === KV_TABLE) {
    if ('key' in change) return { t: 'kv', key: change.key, entry: (change.entry ?? null) as KvRecord | null };
    if (change.reset) return undefined;
    return { t: 'kv-tree', prefix: change.prefix, keys: change.keys ?? [] };
  }
  if (change.table === HEALTH_WATCH_TABLE && 'key' in change) {
    const sep = change.key.indexOf('\u0000');
    const rest = change.key.slice(sep + 1);
    const slash = rest.indexOf('/');
    return {
      t: 'health',
      service: change.key.slice(0, sep),
      node: rest.slice(0, slash),
      id: rest.slice(slash + 1),
      entry: (change.entry ?? null) as Extract<SyncChange, { t: 'health' }>['entry'],
    };
  }
  return undefined;
}
