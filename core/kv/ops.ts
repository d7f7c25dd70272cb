import { RefusedError } from '../errors.js';
import { bumpTableIndex } from '../fsm/meta.js';
import type { ApplyContext } from '../fsm/state-machine.js';
import type { ReadTxn } from '../ports/state-store.js';
import {
  KV_INDEX_NAME,
  KV_TABLE,
  KV_TOMBSTONE_TABLE,
  type KvRecord,
  type KvTombstone,
  TOMBSTONE_KEY_PREFIX,
} from './types.js';
import { countSealed } from './sealed.js';

/**
 * The sessions that may hold KV locks: kvLock refuses one that does not exist. core/session
 * implements it (KV cannot import the session module, which releases KV locks).
 */
export interface LockHolders {
  /** Whether session `id` exists in `tx`. */
  exists(tx: ReadTxn, id: string): boolean;
}

/** Keys held by each session: session id + NUL + key → ''. */
export const KV_LOCKS_TABLE = 'kv_locks';
/** Lock-delay deadlines: key → ms since epoch before which the key cannot be acquired. */
export const LOCK_DELAY_TABLE = 'kv_lock_delays';

const EMPTY = new Uint8Array(0);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function write(ctx: ApplyContext, key: string, next: KvRecord, prev: KvRecord | undefined): void {
  ctx.tx.put(KV_TABLE, key, next);
  countSealed(ctx.tx, prev?.value, next.value);
  if (prev?.session !== undefined && prev.session !== next.session)
    ctx.tx.delete(KV_LOCKS_TABLE, `${prev.session}\u0000${key}`);
  if (next.session !== undefined) ctx.tx.put(KV_LOCKS_TABLE, `${next.session}\u0000${key}`, '');
  bumpTableIndex(ctx.tx, KV_INDEX_NAME, ctx.index);
  ctx.changed({ table: KV_TABLE, key, entry: next });
}

/**
 * A plain set (Consul's kvsSetTxn without a session update): CreateIndex kept, Session kept,
 * LockIndex reset to 0; an identical write changes nothing. Returns the stored record.
 */
export function kvSet(ctx: ApplyContext, key: string, value: Uint8Array, flags: string): KvRecord {
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
  )
    return existing;
  write(ctx, key, next, existing);
  return next;
}

/** Set only if ModifyIndex equals `cas` (0: only if absent). */
export function kvCas(
  ctx: ApplyContext,
  key: string,
  value: Uint8Array,
  flags: string,
  cas: number,
): KvRecord | undefined {
  const existing = ctx.tx.get<KvRecord>(KV_TABLE, key);
  if (cas === 0 ? existing !== undefined : existing?.modifyIndex !== cas) return undefined;
  return kvSet(ctx, key, value, flags);
}

/** Deletes a key (absent keys are fine), leaving a tombstone. */
export function kvDelete(ctx: ApplyContext, key: string): void {
  const existing = ctx.tx.get<KvRecord>(KV_TABLE, key);
  if (!existing) return;
  ctx.tx.delete(KV_TABLE, key);
  countSealed(ctx.tx, existing.value, undefined);
  if (existing.session !== undefined) ctx.tx.delete(KV_LOCKS_TABLE, `${existing.session}\u0000${key}`);
  const stone: KvTombstone = { index: ctx.index };
  ctx.tx.put(KV_TOMBSTONE_TABLE, TOMBSTONE_KEY_PREFIX + key, stone);
  bumpTableIndex(ctx.tx, KV_INDEX_NAME, ctx.index);
  ctx.changed({ table: KV_TABLE, key, entry: null });
}

/** Deletes only at ModifyIndex `cas`; an absent key "succeeds", as in Consul. */
export function kvDeleteCas(ctx: ApplyContext, key: string, cas: number): boolean {
  const existing = ctx.tx.get<KvRecord>(KV_TABLE, key);
  if (existing === undefined) return true;
  if (existing.modifyIndex !== cas) return false;
  kvDelete(ctx, key);
  return true;
}

/** Deletes every key under `prefix`, with one tombstone for the prefix. */
export function kvDeleteTree(ctx: ApplyContext, prefix: string): void {
  const keys: string[] = [];
  for (const [key] of ctx.tx.range(KV_TABLE, { prefix })) keys.push(key);
  if (keys.length === 0) return;
  for (const key of keys) {
    const rec = ctx.tx.get<KvRecord>(KV_TABLE, key);
    ctx.tx.delete(KV_TABLE, key);
    countSealed(ctx.tx, rec?.value, undefined);
    if (rec?.session !== undefined) ctx.tx.delete(KV_LOCKS_TABLE, `${rec.session}\u0000${key}`);
  }
  const shadowed: string[] = [];
  for (const [k] of ctx.tx.range(KV_TOMBSTONE_TABLE, { prefix: TOMBSTONE_KEY_PREFIX + prefix })) shadowed.push(k);
  for (const k of shadowed) ctx.tx.delete(KV_TOMBSTONE_TABLE, k);
  const stone: KvTombstone = { index: ctx.index };
  ctx.tx.put(KV_TOMBSTONE_TABLE, TOMBSTONE_KEY_PREFIX + prefix, stone);
  bumpTableIndex(ctx.tx, KV_INDEX_NAME, ctx.index);
  ctx.changed({ table: KV_TABLE, prefix, keys });
}

/**
 * Acquires `key` for `session` (Consul's kvsLockTxn): the session must exist in `holders`; a key held by
 * another session, or within a lock delay at `now`, is not acquired (undefined, nothing written).
 * A new holder raises LockIndex; the holder re-acquiring keeps it and updates the value.
 * Throws RefusedError (Consul: 500 `invalid session "<id>"`, the text Patroni looks for) for an
 * unknown session.
 */
export function kvLock(
  ctx: ApplyContext,
  key: string,
  value: Uint8Array,
  flags: string,
  session: string,
  now: number,
  holders: LockHolders,
): KvRecord | undefined {
  if (!holders.exists(ctx.tx, session)) throw new RefusedError(`invalid session ${JSON.stringify(session)}`);
  const existing = ctx.tx.get<KvRecord>(KV_TABLE, key);
  if (existing?.session !== undefined && existing.session !== session) return undefined;
  if (existing?.session !== session) {
    const delay = ctx.tx.get<number>(LOCK_DELAY_TABLE, key);
    if (delay !== undefined) {
      if (now < delay) return undefined;
      ctx.tx.delete(LOCK_DELAY_TABLE, key);
    }
  }
  const lockIndex = existing ? (existing.session === session ? existing.lockIndex : existing.lockIndex + 1) : 1;
  const next: KvRecord = {
    value: value.byteLength === 0 ? EMPTY : value,
    flags,
    createIndex: existing ? existing.createIndex : ctx.index,
    modifyIndex: ctx.index,
    lockIndex,
    session,
  };
  // The holder re-acquiring with the same value and flags changes nothing (as a plain set would not).
  if (existing && existing.session === session && existing.flags === flags && sameBytes(existing.value, next.value))
    return existing;
  write(ctx, key, next, existing);
  return next;
}

/**
 * Releases `key` if `session` holds it (Consul's kvsUnlockTxn), writing value/flags; LockIndex
 * is kept. Undefined (nothing written) when the key is absent or not held by `session`.
 */
export function kvUnlock(
  ctx: ApplyContext,
  key: string,
  value: Uint8Array,
  flags: string,
  session: string,
): KvRecord | undefined {
  const existing = ctx.tx.get<KvRecord>(KV_TABLE, key);
  if (!existing || existing.session !== session) return undefined;
  const next: KvRecord = {
    value: value.byteLength === 0 ? EMPTY : value,
    flags,
    createIndex: existing.createIndex,
    modifyIndex: ctx.index,
    lockIndex: existing.lockIndex,
  };
  write(ctx, key, next, existing);
  return next;
}

/**
 * What invalidating a session does to the keys it holds: 'release' clears their Session,
 * 'delete' removes them; either way each key gets a lock delay until `now + lockDelayMs`
 * (none when lockDelayMs is 0).
 */
export function kvReleaseSession(
  ctx: ApplyContext,
  session: string,
  behavior: 'release' | 'delete',
  now: number,
  lockDelayMs: number,
): void {
  const keys: string[] = [];
  for (const [k] of ctx.tx.range(KV_LOCKS_TABLE, { prefix: `${session}\u0000` }))
    keys.push(k.slice(session.length + 1));
  for (const key of keys) {
    if (lockDelayMs > 0) {
      ctx.tx.put(LOCK_DELAY_TABLE, key, now + lockDelayMs);
      // Each server also starts the delay by its own clock when it applies this (LocalLockDelays).
      ctx.changed({ table: LOCK_DELAY_TABLE, key, entry: { ms: lockDelayMs } });
    }
    if (behavior === 'delete') {
      kvDelete(ctx, key);
      continue;
    }
    const rec = ctx.tx.get<KvRecord>(KV_TABLE, key);
    if (!rec) continue;
    const released: KvRecord = {
      value: rec.value,
      flags: rec.flags,
      createIndex: rec.createIndex,
      modifyIndex: ctx.index,
      lockIndex: rec.lockIndex,
    };
    write(ctx, key, released, rec);
  }
}

/** Drops lock delays that ended at or before `now` (so the table stays small). Returns how many. */
export function kvReapLockDelays(ctx: ApplyContext, now: number): number {
  const ended: string[] = [];
  for (const [key, until] of ctx.tx.range<number>(LOCK_DELAY_TABLE)) if (until <= now) ended.push(key);
  for (const key of ended) ctx.tx.delete(LOCK_DELAY_TABLE, key);
  return ended.length;
}
