import type { CatalogBindings } from '../catalog/state-machine.js';
import type { LockHolders } from '../kv/ops.js';
import { invalidateSessionsOfCheck, invalidateSessionsOfNode, type SessionDependents } from './ops.js';
import { SESSIONS_TABLE } from './types.js';

/**
 * Sessions as the catalog sees them: a session ends (its keys released or deleted, per its
 * Behavior, and its `dependents` ended) when a check it is bound to goes critical or away, or when
 * its node is deregistered. One object serves every path that changes the catalog (the catalog
 * commands and catalog operations in transactions), so they all end sessions the same way.
 */
export function sessionCatalogBindings(dependents: SessionDependents): CatalogBindings {
  return {
    checkDown: (ctx, node, checkId, now) => invalidateSessionsOfCheck(ctx, node, checkId, now, dependents),
    nodeRemoved: (ctx, node, now) => invalidateSessionsOfNode(ctx, node, now, dependents),
  };
}

/** Sessions as KV locks see them: only an existing session may acquire a key. */
export const sessionLockHolders: LockHolders = {
  exists: (tx, id) => tx.get(SESSIONS_TABLE, id) !== undefined,
};
