import { aclModule } from './acl/state-machine.js';
import { SNAPSHOT_TABLES, SNAPSHOT_WATCH_TABLES } from './api/routes/snapshot.js';
import { catalogModule } from './catalog/state-machine.js';
import { eventModule } from './event/events.js';
import type { StateModule } from './fsm/state-machine.js';
import { kvModule } from './kv/state-machine.js';
import { preparedQueryModule } from './prepared-query/state-machine.js';
import { sessionCatalogBindings, sessionLockHolders } from './session/bindings.js';
import { sessionModule } from './session/state-machine.js';
import { restoreModule } from './snapshot/restore-module.js';
import { txnModule } from './txn/apply.js';

/**
 * The state machine modules behind the HTTP API: KV, catalog, sessions, prepared queries, events,
 * transactions, ACLs and snapshot restore. Servers add their cluster modules (members, autopilot) to these. Sessions
 * are plugged into the KV and catalog modules here: the session module builds on both, so neither
 * may import it.
 */
export function dataModules(): StateModule[] {
  return [
    kvModule(sessionLockHolders),
    catalogModule(sessionCatalogBindings),
    sessionModule,
    preparedQueryModule,
    eventModule,
    txnModule,
    aclModule,
    restoreModule(SNAPSHOT_TABLES, SNAPSHOT_WATCH_TABLES),
  ];
}
