import { CorruptError } from '../errors.js';
import { type Command, field } from '../fsm/command.js';
import type { CommandHandler } from '../fsm/state-machine.js';
import type { ReadTxn, WriteTxn } from '../ports/state-store.js';
import { parseKeyId, sealedKeyId } from '../secrets/envelope.js';
import { KV_TABLE, type KvRecord } from './types.js';

/**
 * The replicated facts about encrypted values (docs/SECRETS.md): how many values each key id
 * seals (key id → count, rows with 0 removed), kept by every KV write, so any server can tell
 * which keys it needs without reading every value; never any key material.
 */
export const KV_SECRET_KEYS_TABLE = 'kv_secret_keys';
/** The key new values are sealed with, once chosen by `keyring use` (row PRIMARY_ROW → key id). */
export const KV_SECRET_PRIMARY_TABLE = 'kv_secret_primary';
const PRIMARY_ROW = 'primary';

/** Most values one `kv.reseal` command carries. */
export const MAX_RESEAL_ITEMS = 512;

/** Sets `kv.use-key`: seal new values with key `keyId` (16 hex digits). Result: true. */
export interface KvUseKeyCommand {
  readonly type: 'kv.use-key';
  readonly keyId: string;
}

/** One value re-sealed by the rotation job: replaced only while unchanged since it was read. */
export interface ResealItem {
  readonly key: string;
  /** The entry's ModifyIndex when it was read. */
  readonly modifyIndex: number;
  /** The key id the value was sealed with when read ('' : it was plaintext). */
  readonly from: string;
  /** The same plaintext sealed with the new key (an envelope). */
  readonly value: Uint8Array;
}

/**
 * Replaces values with the same plaintext under another key (the rotation job's batches; at most
 * MAX_RESEAL_ITEMS). Each item applies only if the entry still has its ModifyIndex and its value
 * is still sealed with `from`; it keeps ModifyIndex, LockIndex, Flags and Session, bumps no index
 * (the value a client reads is the same) and is reported as a change (so edge replicas and MQTT
 * retained topics get the new ciphertext). Result: how many were replaced.
 */
export interface KvResealCommand {
  readonly type: 'kv.reseal';
  readonly items: readonly ResealItem[];
}

function bump(tx: WriteTxn, id: string, by: number): void {
  const n = (tx.get<number>(KV_SECRET_KEYS_TABLE, id) ?? 0) + by;
  if (n > 0) tx.put(KV_SECRET_KEYS_TABLE, id, n);
  else tx.delete(KV_SECRET_KEYS_TABLE, id);
}

/**
 * Keeps the per-key counts when a value changes from `prev` to `next` (undefined: absent). Called
 * by every KV write and delete, inside the command's transaction.
 */
export function countSealed(tx: WriteTxn, prev: Uint8Array | undefined, next: Uint8Array | undefined): void {
  const was = prev === undefined ? undefined : sealedKeyId(prev);
  const now = next === undefined ? undefined : sealedKeyId(next);
  if (was === now) return;
  if (was !== undefined) bump(tx, was, -1);
  if (now !== undefined) bump(tx, now, 1);
}

/** How many values each key id seals (only ids with at least one). */
export function sealedKeyUsage(tx: ReadTxn): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, n] of tx.range<number>(KV_SECRET_KEYS_TABLE)) out.set(id, n);
  return out;
}

/** The primary key id chosen with `keyring use`, or undefined (then each key file's primary is used). */
export function replicatedPrimary(tx: ReadTxn): string | undefined {
  return tx.get<string>(KV_SECRET_PRIMARY_TABLE, PRIMARY_ROW);
}

function readItems(cmd: Command): ResealItem[] {
  const raw = cmd['items'];
  if (!Array.isArray(raw) || raw.length > MAX_RESEAL_ITEMS) throw new CorruptError('kv.reseal: bad items');
  return raw.map((it: unknown) => {
    const o = it as Command;
    if (o === null || typeof o !== 'object') throw new CorruptError('kv.reseal: bad item');
    const item: ResealItem = {
      key: field.string(o, 'key'),
      modifyIndex: field.index(o, 'modifyIndex'),
      from: field.string(o, 'from'),
      value: field.bytes(o, 'value'),
    };
    if (sealedKeyId(item.value) === undefined) throw new CorruptError('kv.reseal: value is not an envelope');
    return item;
  });
}

/** The handler of `kv.use-key`. */
export const useKeyHandler: CommandHandler = {
  apply(ctx, cmd) {
    const id = parseKeyId(field.string(cmd, 'keyId'));
    if (id === undefined) throw new CorruptError('kv.use-key: bad key id');
    ctx.tx.put(KV_SECRET_PRIMARY_TABLE, PRIMARY_ROW, id);
    return true;
  },
};

/** The handler of `kv.reseal` (see KvResealCommand). */
export const resealHandler: CommandHandler = {
  apply(ctx, cmd) {
    const items = readItems(cmd);
    let done = 0;
    for (const item of items) {
      const rec = ctx.tx.get<KvRecord>(KV_TABLE, item.key);
      if (!rec || rec.modifyIndex !== item.modifyIndex || (sealedKeyId(rec.value) ?? '') !== item.from) continue;
      const next: KvRecord = {
        value: item.value,
        flags: rec.flags,
        createIndex: rec.createIndex,
        modifyIndex: rec.modifyIndex,
        lockIndex: rec.lockIndex,
        ...(rec.session !== undefined ? { session: rec.session } : {}),
      };
      ctx.tx.put(KV_TABLE, item.key, next);
      countSealed(ctx.tx, rec.value, next.value);
      ctx.changed({ table: KV_TABLE, key: item.key, entry: next });
      done++;
    }
    return done;
  },
};
