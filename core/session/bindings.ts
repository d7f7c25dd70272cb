import type { CatalogBindings } from '../catalog/state-machine.js';
import type { LockHolders } from '../kv/ops.js';
import { invalidateSessionsOfCheck, invalidateSessionsOfNode } from './ops.js';
import { SESSIONS_TABLE } from './types.js';

/**
 * Sessions as the catalog sees them: a session ends (its keys released or deleted, per its
 * Behavior) when a check it is bound to goes critical or away, or when its node is deregistered.
 */
export const sessionCatalogBindings: CatalogBindings = {
  checkDown: invalidateSessionsOfCheck,
  nodeRemoved: invalidateSessionsOfNode,
};

/** Sessions as KV locks see them: only an existing session may acquire a key. */
export const sessionLockHolders: LockHolders = {
  exists: (tx, id) => tx.get(SESSIONS_TABLE, id) !== undefined,
};
