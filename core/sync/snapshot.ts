import { serviceHealth } from '../catalog/queries.js';
import { readAppliedIndex } from '../fsm/meta.js';
import { listEntries } from '../kv/queries.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { SyncScope, SyncSnapshot } from './types.js';

/**
 * The scope's data at the applied index, from one read transaction. Scope prefixes must not overlap
 * (normalizeScope).
 */
export function buildSnapshot(tx: ReadTxn, scope: SyncScope): SyncSnapshot {
  return {
    index: readAppliedIndex(tx),
    kv: scope.prefixes.flatMap((p) => listEntries(tx, p).value),
    health: scope.services.flatMap((s) => serviceHealth(tx, s).value),
  };
}
