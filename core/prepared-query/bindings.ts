import type { SessionDependents } from '../session/ops.js';
import { deleteQueriesOfSession } from './ops.js';

/**
 * Prepared queries as sessions see them: a query bound to a session (its `Session`) is deleted
 * when that session is invalidated, whichever way (destroy, TTL expiry, a bound check going
 * critical or away, its node deregistered), in the same application (Consul's deleteSessionTxn).
 * core/modules.ts plugs it into the session, catalog and transaction modules.
 */
export const preparedQuerySessionDependents: SessionDependents = {
  sessionEnded: (ctx, sessionId) => {
    deleteQueriesOfSession(ctx, sessionId);
  },
};
