import { aclModule } from './acl/state-machine.js';
import { SNAPSHOT_TABLES, SNAPSHOT_WATCH_TABLES } from './api/routes/snapshot.js';
import { catalogModule } from './catalog/state-machine.js';
import { eventModule } from './event/events.js';
import { fleetModule } from './fleet/state-machine.js';
import type { StateModule } from './fsm/state-machine.js';
import { kvModule } from './kv/state-machine.js';
import { preparedQuerySessionDependents } from './prepared-query/bindings.js';
import { preparedQueryModule } from './prepared-query/state-machine.js';
import { sessionCatalogBindings, sessionLockHolders } from './session/bindings.js';
import { sessionModule } from './session/state-machine.js';
import { restoreModule } from './snapshot/restore-module.js';
import { txnModule } from './txn/apply.js';

/**
 * The state machine modules behind the HTTP API: KV, catalog, sessions, prepared queries, events,
 * transactions, ACLs, the edge fleet and snapshot restore. Servers add their cluster modules
 * (members, autopilot) to these. Sessions
 * are plugged into the KV and catalog modules here: the session module builds on both, so neither
 * may import it. Likewise prepared queries are plugged into sessions (a session-bound query ends
 * with its session), and one set of catalog bindings serves the catalog commands and the catalog
 * operations of transactions, so every path that invalidates a session ends the same things.
 */
export function dataModules(): StateModule[] {
  const catalogBindings = sessionCatalogBindings(preparedQuerySessionDependents);
  return [
    kvModule(sessionLockHolders),
    catalogModule(catalogBindings),
    sessionModule(preparedQuerySessionDependents),
    preparedQueryModule,
    eventModule,
    txnModule(catalogBindings),
    aclModule,
    fleetModule,
    restoreModule(SNAPSHOT_TABLES, SNAPSHOT_WATCH_TABLES),
  ];
}
