import { NotFoundError, RefusedError } from '../errors.js';
import { type CatalogCheck, CHECKS_TABLE, childKey, NODES_TABLE } from '../catalog/types.js';
import { bumpTableIndex } from '../fsm/meta.js';
import type { ApplyContext } from '../fsm/state-machine.js';
import type { ReadTxn } from '../ports/state-store.js';
import { kvReleaseSession } from '../kv/ops.js';
import {
  SESSION_CHECK_INDEX,
  SESSION_NODE_INDEX,
  SESSION_WATCH_TABLE,
  SESSIONS_INDEX,
  SESSIONS_TABLE,
  sessionCheckKey,
  type SessionInput,
  type SessionRecord,
} from './types.js';

/** Every check ID a session is bound to: its node checks and its service checks. */
export function boundCheckIds(s: Pick<SessionRecord, 'NodeChecks' | 'ServiceChecks'>): string[] {
  return [...s.NodeChecks, ...(s.ServiceChecks ?? []).map((c) => c.ID)];
}

function bump(ctx: ApplyContext): void {
  bumpTableIndex(ctx.tx, SESSIONS_INDEX, ctx.index);
  ctx.changed({ table: SESSION_WATCH_TABLE, key: SESSIONS_INDEX });
}

/**
 * Creates a session (Consul's sessionCreateTxn). Preconditions, checked before any write: the ID
 * is unused, the node is registered, and every bound check exists on that node and is not
 * critical. Throws RefusedError (500, Consul's state store messages) naming what is wrong.
 */
export function createSession(ctx: ApplyContext, input: SessionInput): SessionRecord {
  if (ctx.tx.get(SESSIONS_TABLE, input.ID))
    throw new RefusedError(`Session ID ${JSON.stringify(input.ID)} is already in use`);
  if (!ctx.tx.get(NODES_TABLE, input.Node))
    throw new RefusedError(`Missing node registration for ${JSON.stringify(input.Node)}`);
  const checks = boundCheckIds(input);
  for (const id of checks) {
    const check = ctx.tx.get<CatalogCheck>(CHECKS_TABLE, childKey(input.Node, id));
    if (!check) throw new RefusedError(`Missing check '${id}' registration`);
    if (check.Status === 'critical') throw new RefusedError(`Check '${id}' is in critical state`);
  }
  const record: SessionRecord = {
    ID: input.ID,
    Name: input.Name,
    Node: input.Node,
    LockDelay: input.LockDelay,
    Behavior: input.Behavior,
    TTL: input.TTL,
    NodeChecks: input.NodeChecks,
    ServiceChecks: input.ServiceChecks,
    CreateIndex: ctx.index,
    ModifyIndex: ctx.index,
  };
  ctx.tx.put(SESSIONS_TABLE, input.ID, record);
  ctx.tx.put(SESSION_NODE_INDEX, `${input.Node}\u0000${input.ID}`, '');
  for (const id of checks) ctx.tx.put(SESSION_CHECK_INDEX, sessionCheckKey(input.Node, id, input.ID), '');
  bump(ctx);
  return record;
}

/**
 * What ends with a session besides its locks: the prepared queries bound to it (core/prepared-query
 * implements it; the session module cannot import the modules built on it, core/modules.ts plugs
 * it in). Called inside the application that invalidates the session, after the session is gone,
 * so what it writes commits in the same state-store transaction (Consul's deleteSessionTxn).
 */
export interface SessionDependents {
  /** Session `sessionId` was invalidated; end whatever is bound to it. Must not throw. */
  sessionEnded(ctx: ApplyContext, sessionId: string): void;
}

/**
 * Invalidates session `id` (destroy, TTL expiry, a bound check going critical, its node leaving):
 * the keys it holds are released or deleted per its Behavior, each with its lock delay from
 * `now`, the session is removed, and its `dependents` are ended (its prepared queries deleted).
 * Returns false when there is no such session.
 */
export function invalidateSession(ctx: ApplyContext, id: string, now: number, dependents: SessionDependents): boolean {
  const s = ctx.tx.get<SessionRecord>(SESSIONS_TABLE, id);
  if (!s) return false;
  kvReleaseSession(ctx, id, s.Behavior, now, Math.floor(s.LockDelay / 1e6));
  ctx.tx.delete(SESSIONS_TABLE, id);
  ctx.tx.delete(SESSION_NODE_INDEX, `${s.Node}\u0000${id}`);
  for (const check of boundCheckIds(s)) ctx.tx.delete(SESSION_CHECK_INDEX, sessionCheckKey(s.Node, check, id));
  bump(ctx);
  dependents.sessionEnded(ctx, id);
  return true;
}

/** Destroys session `id` (invalidateSession); throws NotFoundError when there is none. */
export function destroySession(ctx: ApplyContext, id: string, now: number, dependents: SessionDependents): void {
  if (!invalidateSession(ctx, id, now, dependents))
    throw new NotFoundError(`Session id ${JSON.stringify(id)} not found`);
}

/** Invalidates every session bound to check `checkId` of `node` (it went critical or was removed). */
export function invalidateSessionsOfCheck(
  ctx: ApplyContext,
  node: string,
  checkId: string,
  now: number,
  dependents: SessionDependents,
): void {
  const prefix = `${node}/${checkId}\u0000`;
  const ids: string[] = [];
  for (const [k] of ctx.tx.range(SESSION_CHECK_INDEX, { prefix })) ids.push(k.slice(prefix.length));
  for (const id of ids) invalidateSession(ctx, id, now, dependents);
}

/** Invalidates every session of `node` (it was deregistered). */
export function invalidateSessionsOfNode(
  ctx: ApplyContext,
  node: string,
  now: number,
  dependents: SessionDependents,
): void {
  for (const id of sessionIdsOfNode(ctx.tx, node)) invalidateSession(ctx, id, now, dependents);
}

/** IDs of the sessions of `node`, in ID order. */
export function sessionIdsOfNode(tx: ReadTxn, node: string): string[] {
  const prefix = `${node}\u0000`;
  const ids: string[] = [];
  for (const [k] of tx.range(SESSION_NODE_INDEX, { prefix })) ids.push(k.slice(prefix.length));
  return ids;
}
