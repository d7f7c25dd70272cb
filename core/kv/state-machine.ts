import { CorruptError } from '../errors.js';
import { type Command, field } from '../fsm/command.js';
import { bumpTableIndex } from '../fsm/meta.js';
import type { ApplyContext, CommandHandler, StateModule } from '../fsm/state-machine.js';
import { parseFlags } from './commands.js';
import { KV_INDEX_NAME, KV_TABLE, KV_TOMBSTONE_TABLE, type KvRecord, type KvTombstone, TOMBSTONE_KEY_PREFIX } from './types.js';

const EMPTY = new Uint8Array(0);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

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

/**
 * Writes `key` = value/flags as a plain set (Consul's kvsSetTxn without a session update):
 * CreateIndex kept from an existing entry, Session kept, LockIndex reset to 0, and an identical
 * write changes nothing (ModifyIndex stays).
 */
function setEntry(ctx: ApplyContext, key: string, value: Uint8Array, flags: string): void {
  const existing = ctx.tx.get<KvRecord>(KV_TABLE, key);
  const next: KvRecord = {
    value: value.byteLength === 0 ? EMPTY : value,
    flags,
    createIndex: existing ? existing.createIndex : ctx.index,
    modifyIndex: ctx.index,
    lockIndex: 0,
    ...(existing?.session !== undefined ? { session: existing.session } : {}),
  };
  if (
    existing &&
    existing.flags === next.flags &&
    existing.lockIndex === next.lockIndex &&
    sameBytes(existing.value, next.value)
  ) {
    return;
  }
  ctx.tx.put(KV_TABLE, key, next);
  bumpTableIndex(ctx.tx, KV_INDEX_NAME, ctx.index);
  ctx.changed({ table: KV_TABLE, key });
}

function deleteEntry(ctx: ApplyContext, key: string): void {
  if (!ctx.tx.delete(KV_TABLE, key)) return;
  const stone: KvTombstone = { index: ctx.index };
  ctx.tx.put(KV_TOMBSTONE_TABLE, TOMBSTONE_KEY_PREFIX + key, stone);
  bumpTableIndex(ctx.tx, KV_INDEX_NAME, ctx.index);
  ctx.changed({ table: KV_TABLE, key });
}

const set: CommandHandler = {
  apply(ctx, cmd) {
    setEntry(ctx, readKey(cmd), field.bytes(cmd, 'value'), readFlags(cmd));
    return true;
  },
};

const cas: CommandHandler = {
  apply(ctx, cmd) {
    const key = readKey(cmd);
    const value = field.bytes(cmd, 'value');
    const flags = readFlags(cmd);
    const expected = field.index(cmd, 'cas');
    const existing = ctx.tx.get<KvRecord>(KV_TABLE, key);
    if (expected === 0 ? existing !== undefined : existing?.modifyIndex !== expected) return false;
    setEntry(ctx, key, value, flags);
    return true;
  },
};

const del: CommandHandler = {
  apply(ctx, cmd) {
    deleteEntry(ctx, readKey(cmd));
    return true;
  },
};

const deleteCas: CommandHandler = {
  apply(ctx, cmd) {
    const key = readKey(cmd);
    const expected = field.index(cmd, 'cas');
    const existing = ctx.tx.get<KvRecord>(KV_TABLE, key);
    // As in Consul: deleting an absent key "succeeds"; a present key must match exactly.
    if (existing === undefined) return true;
    if (existing.modifyIndex !== expected) return false;
    deleteEntry(ctx, key);
    return true;
  },
};

const deleteTree: CommandHandler = {
  apply(ctx, cmd) {
    const prefix = field.string(cmd, 'prefix');
    const keys: string[] = [];
    for (const [key] of ctx.tx.range(KV_TABLE, { prefix })) keys.push(key);
    if (keys.length === 0) return true;
    for (const key of keys) ctx.tx.delete(KV_TABLE, key);
    // One tombstone for the whole prefix, plus removal of the now-shadowed key tombstones.
    const shadowed: string[] = [];
    for (const [k] of ctx.tx.range(KV_TOMBSTONE_TABLE, { prefix: TOMBSTONE_KEY_PREFIX + prefix })) shadowed.push(k);
    for (const k of shadowed) ctx.tx.delete(KV_TOMBSTONE_TABLE, k);
    const stone: KvTombstone = { index: ctx.index };
    ctx.tx.put(KV_TOMBSTONE_TABLE, TOMBSTONE_KEY_PREFIX + prefix, stone);
    bumpTableIndex(ctx.tx, KV_INDEX_NAME, ctx.index);
    ctx.changed({ table: KV_TABLE, prefix });
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
    return reaped.length;
  },
};

/** The KV state machine module: Consul's KVS semantics over the KV and tombstone tables. */
export const kvModule: StateModule = {
  tables: [KV_TABLE, KV_TOMBSTONE_TABLE],
  handlers: {
    'kv.set': set,
    'kv.cas': cas,
    'kv.delete': del,
    'kv.delete-cas': deleteCas,
    'kv.delete-tree': deleteTree,
    'kv.reap-tombstones': reapTombstones,
  },
};
