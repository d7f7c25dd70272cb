import { CorruptError } from '../errors.js';
import { type Command, field } from '../fsm/command.js';
import type { CommandHandler, StateModule } from '../fsm/state-machine.js';
import { parseFlags } from './commands.js';
import {
  KV_LOCKS_TABLE,
  kvCas,
  kvReapLockDelays,
  kvDelete,
  kvDeleteCas,
  kvDeleteTree,
  kvLock,
  kvSet,
  kvUnlock,
  LOCK_DELAY_TABLE,
  type LockHolders,
} from './ops.js';
import { KV_SECRET_KEYS_TABLE, KV_SECRET_PRIMARY_TABLE, resealHandler, useKeyHandler } from './sealed.js';
import { KV_TABLE, KV_TOMBSTONE_TABLE, type KvTombstone } from './types.js';

function readKey(cmd: Command): string {
  const key = field.string(cmd, 'key');
  if (key.length === 0) throw new CorruptError(`${cmd.type}: empty key`);
  return key;
}

function readFlags(cmd: Command): string {
  const flags = field.string(cmd, 'flags');
  // Commands are produced from validated input; a non-canonical value means corruption.
  if (parseFlags(flags) !== flags) throw new CorruptError(`${cmd.type}: non-canonical flags`);
  return flags;
}

const set: CommandHandler = {
  apply(ctx, cmd) {
    kvSet(ctx, readKey(cmd), field.bytes(cmd, 'value'), readFlags(cmd));
    return true;
  },
};

const cas: CommandHandler = {
  apply(ctx, cmd) {
    return kvCas(ctx, readKey(cmd), field.bytes(cmd, 'value'), readFlags(cmd), field.index(cmd, 'cas')) !== undefined;
  },
};

const unlock: CommandHandler = {
  apply(ctx, cmd) {
    return (
      kvUnlock(ctx, readKey(cmd), field.bytes(cmd, 'value'), readFlags(cmd), field.string(cmd, 'session')) !== undefined
    );
  },
};

const del: CommandHandler = {
  apply(ctx, cmd) {
    kvDelete(ctx, readKey(cmd));
    return true;
  },
};

const deleteCas: CommandHandler = {
  apply(ctx, cmd) {
    return kvDeleteCas(ctx, readKey(cmd), field.index(cmd, 'cas'));
  },
};

const deleteTree: CommandHandler = {
  apply(ctx, cmd) {
    kvDeleteTree(ctx, field.string(cmd, 'prefix'));
    return true;
  },
};

const reapTombstones: CommandHandler = {
  apply(ctx, cmd) {
    const upTo = field.index(cmd, 'upTo');
    const reaped: string[] = [];
    for (const [k, stone] of ctx.tx.range<KvTombstone>(KV_TOMBSTONE_TABLE)) {
      if (stone.index <= upTo) reaped.push(k);
    }
    for (const k of reaped) ctx.tx.delete(KV_TOMBSTONE_TABLE, k);
    // Lock delays that have ended go too (older log entries have no clock reading).
    if (typeof cmd['now'] === 'number') kvReapLockDelays(ctx, field.index(cmd, 'now'));
    return reaped.length;
  },
};

/**
 * The tables of the KV module: KV, tombstones, held locks, lock delays, and the counts of
 * encrypted values per key id with the chosen primary key (core/kv/sealed.ts).
 */
export const KV_TABLES: readonly string[] = [
  KV_TABLE,
  KV_TOMBSTONE_TABLE,
  KV_LOCKS_TABLE,
  LOCK_DELAY_TABLE,
  KV_SECRET_KEYS_TABLE,
  KV_SECRET_PRIMARY_TABLE,
];

/**
 * The KV state machine module: Consul's KVS semantics (sets, check-and-set, deletes, session
 * locks) over KV_TABLES. Locks are held only by sessions that `holders` knows.
 */
export function kvModule(holders: LockHolders): StateModule {
  const lock: CommandHandler = {
    apply(ctx, cmd) {
      const entry = kvLock(
        ctx,
        readKey(cmd),
        field.bytes(cmd, 'value'),
        readFlags(cmd),
        field.string(cmd, 'session'),
        field.index(cmd, 'now'),
        holders,
      );
      return entry !== undefined;
    },
  };
  return {
    tables: KV_TABLES,
    handlers: {
      'kv.set': set,
      'kv.cas': cas,
      'kv.lock': lock,
      'kv.unlock': unlock,
      'kv.delete': del,
      'kv.delete-cas': deleteCas,
      'kv.delete-tree': deleteTree,
      'kv.reap-tombstones': reapTombstones,
      'kv.use-key': useKeyHandler,
      'kv.reseal': resealHandler,
    },
  };
}
