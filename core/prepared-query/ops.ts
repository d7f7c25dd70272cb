import { RefusedError } from '../errors.js';
import { bumpTableIndex } from '../fsm/meta.js';
import type { ApplyContext } from '../fsm/state-machine.js';
import { SESSIONS_TABLE } from '../session/types.js';
import { isUuid } from '../util/uuid.js';
import { compileTemplate } from './template.js';
import {
  isTemplate,
  PREPARED_QUERIES_INDEX,
  PREPARED_QUERIES_TABLE,
  PREPARED_QUERY_NAME_INDEX,
  PREPARED_QUERY_SESSION_INDEX,
  PREPARED_QUERY_TEMPLATE_INDEX,
  PREPARED_QUERY_WATCH_TABLE,
  type PreparedQueryInput,
  type PreparedQueryRecord,
  sessionQueryKey,
  templateKey,
} from './types.js';

function bump(ctx: ApplyContext): void {
  bumpTableIndex(ctx.tx, PREPARED_QUERIES_INDEX, ctx.index);
  ctx.changed({ table: PREPARED_QUERY_WATCH_TABLE, key: PREPARED_QUERIES_INDEX });
}

/** Consul's answer to updating or deleting a query that does not exist (500). */
export const nonExistent = (id: string): RefusedError =>
  new RefusedError(`Cannot modify non-existent prepared query: '${id}'`);

/** How many prepared queries are stored. */
function countQueries(ctx: ApplyContext): number {
  let n = 0;
  for (const entry of ctx.tx.range(PREPARED_QUERIES_TABLE)) if (entry) n++;
  return n;
}

/**
 * Creates (`create`) or replaces a prepared query (Consul's preparedQuerySetTxn). Preconditions,
 * all checked before the first write, each a RefusedError (500) with Consul's text: a created ID is
 * unused and fewer than `maxQueries` queries exist; an updated one exists; no other query has the
 * name (names are unique ignoring case, a template's name is its prefix) and no other template is
 * the '' catch-all; the name is not another query's ID; the session exists; the template compiles.
 * Returns the stored record.
 */
export function setQuery(
  ctx: ApplyContext,
  q: PreparedQueryInput,
  create: boolean,
  maxQueries: number,
): PreparedQueryRecord {
  const existing = ctx.tx.get<PreparedQueryRecord>(PREPARED_QUERIES_TABLE, q.ID);
  if (create && existing) throw new RefusedError(`Query ID '${q.ID}' is already in use`);
  if (!create && !existing) throw nonExistent(q.ID);
  if (create && countQueries(ctx) >= maxQueries)
    throw new RefusedError(`Cannot create prepared query: the limit of ${maxQueries} prepared queries is reached`);
  const lower = q.Name.toLowerCase();
  if (q.Name !== '') {
    const other = ctx.tx.get<string>(PREPARED_QUERY_NAME_INDEX, lower);
    if (other !== undefined && other !== q.ID)
      throw new RefusedError(`name '${q.Name}' aliases an existing query name`);
  } else if (isTemplate(q)) {
    const other = ctx.tx.get<string>(PREPARED_QUERY_TEMPLATE_INDEX, templateKey(''));
    if (other !== undefined && other !== q.ID)
      throw new RefusedError('a query template with an empty name already exists');
  }
  if (isUuid(q.Name) && ctx.tx.get(PREPARED_QUERIES_TABLE, lower))
    throw new RefusedError(`name '${q.Name}' aliases an existing query ID`);
  if (q.Session !== '' && !ctx.tx.get(SESSIONS_TABLE, q.Session))
    throw new RefusedError(`invalid session ${JSON.stringify(q.Session)}`);
  if (isTemplate(q)) compileTemplate(q);
  if (existing) unindex(ctx, existing);
  const record: PreparedQueryRecord = {
    ...q,
    CreateIndex: existing ? existing.CreateIndex : ctx.index,
    ModifyIndex: ctx.index,
  };
  ctx.tx.put(PREPARED_QUERIES_TABLE, q.ID, record);
  if (q.Name !== '') ctx.tx.put(PREPARED_QUERY_NAME_INDEX, lower, q.ID);
  if (isTemplate(q)) ctx.tx.put(PREPARED_QUERY_TEMPLATE_INDEX, templateKey(lower), q.ID);
  if (q.Session !== '') ctx.tx.put(PREPARED_QUERY_SESSION_INDEX, sessionQueryKey(q.Session, q.ID), '');
  bump(ctx);
  return record;
}

function unindex(ctx: ApplyContext, q: PreparedQueryRecord): void {
  if (q.Name !== '') ctx.tx.delete(PREPARED_QUERY_NAME_INDEX, q.Name.toLowerCase());
  if (isTemplate(q)) ctx.tx.delete(PREPARED_QUERY_TEMPLATE_INDEX, templateKey(q.Name));
  if (q.Session !== '') ctx.tx.delete(PREPARED_QUERY_SESSION_INDEX, sessionQueryKey(q.Session, q.ID));
}

/** Removes a stored query with its index entries and moves the queries index (watchers wake). */
function removeQuery(ctx: ApplyContext, q: PreparedQueryRecord): void {
  unindex(ctx, q);
  ctx.tx.delete(PREPARED_QUERIES_TABLE, q.ID);
  bump(ctx);
}

/** Deletes prepared query `id`; RefusedError (500, Consul's text) when there is none. */
export function deleteQuery(ctx: ApplyContext, id: string): void {
  const existing = ctx.tx.get<PreparedQueryRecord>(PREPARED_QUERIES_TABLE, id);
  if (!existing) throw nonExistent(id);
  removeQuery(ctx, existing);
}

/**
 * Deletes every query bound to session `sessionId`, which was just invalidated (Consul's
 * deleteSessionTxn deletes them in the transaction that deletes the session), each as a normal
 * delete would: its name and template index entries go too, and the queries index moves to this
 * command's index, so blocking reads of /v1/query wake. Returns how many were deleted; none is not
 * an error. Runs inside the command's application, so it is as deterministic as the command.
 */
export function deleteQueriesOfSession(ctx: ApplyContext, sessionId: string): number {
  const prefix = sessionQueryKey(sessionId, '');
  const ids: string[] = [];
  for (const [k] of ctx.tx.range(PREPARED_QUERY_SESSION_INDEX, { prefix })) ids.push(k.slice(prefix.length));
  let deleted = 0;
  for (const id of ids) {
    const q = ctx.tx.get<PreparedQueryRecord>(PREPARED_QUERIES_TABLE, id);
    // Invariant: the session index names only stored queries; a stray entry is dropped, not trusted.
    if (!q || q.Session !== sessionId) {
      ctx.tx.delete(PREPARED_QUERY_SESSION_INDEX, sessionQueryKey(sessionId, id));
      continue;
    }
    removeQuery(ctx, q);
    deleted++;
  }
  return deleted;
}
