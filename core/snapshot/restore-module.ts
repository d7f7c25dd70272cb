import { field } from '../fsm/command.js';
import type { StateModule } from '../fsm/state-machine.js';
import { parseDump, replaceTables } from './state-snapshot.js';

/** Replaces the user-data tables with an archive's dump. Result: true. */
export interface StateRestoreCommand {
  readonly type: 'state.restore';
  readonly data: Uint8Array;
}

/**
 * The restore module: `state.restore` replaces `dataTables` (the KV tables, not membership or
 * metadata) with a dump, atomically and identically on every server. A dump that does not parse
 * fails the command and changes nothing. Watchers of the data tables and of `watchTables`
 * (notification pseudo-tables) are told everything was reset.
 */
export function restoreModule(dataTables: readonly string[], watchTables: readonly string[] = []): StateModule {
  return {
    tables: [],
    handlers: {
      'state.restore': {
        apply(ctx, cmd) {
          const dump = parseDump(field.bytes(cmd, 'data'), dataTables);
          replaceTables(ctx.tx, dataTables, dump);
          for (const table of [...dataTables, ...watchTables]) ctx.changed({ table, prefix: '', reset: true });
          return true;
        },
      },
    },
  };
}
