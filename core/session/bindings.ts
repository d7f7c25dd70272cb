import type { CatalogBindings } from '../catalog/state-machine.js';
import { invalidateSessionsOfCheck, invalidateSessionsOfNode } from './ops.js';

/**
 * Sessions as the catalog sees them: a session ends (its keys released or deleted, per its
 * Behavior) when a check it is bound to goes critical or away, or when its node is deregistered.
 */
export const sessionCatalogBindings: CatalogBindings = {
  checkDown: invalidateSessionsOfCheck,
  nodeRemoved: invalidateSessionsOfNode,
};
