import { readTableIndex } from '../fsm/meta.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';
import { sessionIdsOfNode } from './ops.js';
import { SESSIONS_INDEX, SESSIONS_TABLE, type SessionRecord } from './types.js';

/** One session, if it exists. Index: the sessions table. */
export function getSession(tx: ReadTxn, id: string): Indexed<SessionRecord | undefined> {
  return { index: readTableIndex(tx, SESSIONS_INDEX), value: tx.get<SessionRecord>(SESSIONS_TABLE, id) };
}

/** Every session, in ID order. Index: the sessions table. */
export function listSessions(tx: ReadTxn): Indexed<SessionRecord[]> {
  return {
    index: readTableIndex(tx, SESSIONS_INDEX),
    value: [...tx.range<SessionRecord>(SESSIONS_TABLE)].map(([, s]) => s),
  };
}

/** The sessions of `node`, in ID order. Index: the sessions table. */
export function nodeSessions(tx: ReadTxn, node: string): Indexed<SessionRecord[]> {
  const value = sessionIdsOfNode(tx, node)
    .map((id) => tx.get<SessionRecord>(SESSIONS_TABLE, id))
    .filter((s): s is SessionRecord => s !== undefined);
  return { index: readTableIndex(tx, SESSIONS_INDEX), value };
}
