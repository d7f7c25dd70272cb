import { route } from '../registry.js';
import type { Hono } from 'hono';
import { KonsulError, NotFoundError } from '../../errors.js';
import { parseSessionCreate } from '../../session/input.js';
import { getSession, listSessions, nodeSessions } from '../../session/queries.js';
import type { SessionCreateCommand, SessionDestroyCommand } from '../../session/state-machine.js';
import { SESSION_WATCH_TABLE, SESSIONS_INDEX, type SessionRecord } from '../../session/types.js';
import { randomUuid } from '../../util/uuid.js';
import { filterReadable, requireAccess } from '../authz.js';
import { readJson } from '../body.js';
import type { ServerApiDeps } from '../context.js';
import { checkDatacenter } from '../query.js';
import { indexedRead } from '../read.js';
import { jsonResponse } from '../respond.js';

/** A session as Consul shows it; `Checks` (deprecated, still read by older clients) lists every bound check. */
export function sessionJson(s: SessionRecord): Record<string, unknown> {
  return {
    ID: s.ID,
    Name: s.Name,
    Node: s.Node,
    LockDelay: s.LockDelay,
    Behavior: s.Behavior,
    TTL: s.TTL,
    Checks: [...s.NodeChecks, ...(s.ServiceChecks ?? []).map((c) => c.ID)],
    NodeChecks: s.NodeChecks,
    ServiceChecks: s.ServiceChecks,
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  };
}

/** Consul's answer to renewing an unknown session (404; Patroni and python-consul look for it). */
const notFound = (id: string): NotFoundError => new NotFoundError(`Session id '${id}' not found`);

/**
 * Registers Consul's session endpoints: create, destroy, renew (writes, answered by the leader),
 * info, node and list (blocking reads on the sessions index). Unknown session ids are answered as
 * Consul does: info `[]`, destroy `true`, renew 404 `Session id '<id>' not found`. Create answers
 * what the servers refuse (TTL out of range, unregistered node, critical check...) with 500 and
 * Consul's text (RefusedError). With ACLs on, creating, renewing and destroying need
 * session:write on the session's node, and reads show the sessions whose node the token may read
 * (session:read).
 */
export function registerSessionRoutes(app: Hono, deps: ServerApiDeps): void {
  const watch = { table: SESSION_WATCH_TABLE, key: SESSIONS_INDEX };
  // Sessions are visible with session:read on their node.
  const readable = (req: Request, list: readonly SessionRecord[]) =>
    filterReadable(deps, req, list, (s) => [['session', s.Node]]).items;

  route(app, 'PUT', '/v1/session/create', async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const input = parseSessionCreate(
      await readJson(c.req.raw, 64 * 1024, deps.bodyReader),
      deps.node.name,
      deps.limits.sessionTtlMinMs,
    );
    requireAccess(deps, c.req.raw, 'session', input.Node, 'write');
    const command: SessionCreateCommand = { type: 'session.create', session: { ID: randomUuid(deps.rng), ...input } };
    const { value } = await deps.writer.submit<SessionRecord>(command);
    deps.sessionTimers.renewed(value);
    return jsonResponse(JSON.stringify({ ID: value.ID }));
  });

  route(app, 'PUT', '/v1/session/destroy/:id', async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const id = c.req.param('id');
    const existing = deps.store.read((tx) => getSession(tx, id)).value;
    if (existing) requireAccess(deps, c.req.raw, 'session', existing.Node, 'write');
    // As Consul: destroying a session that does not exist (any more) succeeds, without a write.
    if (!existing) return jsonResponse('true');
    const command: SessionDestroyCommand = { type: 'session.destroy', id, now: deps.clock.now() };
    try {
      await deps.writer.submit(command);
    } catch (err) {
      // Gone between the read and the write (expired, destroyed by another request): the same answer.
      if (!(err instanceof KonsulError && err.code === 'not_found')) throw err;
    }
    return jsonResponse('true');
  });

  route(app, 'PUT', '/v1/session/renew/:id', (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const id = c.req.param('id');
    const session = deps.store.read((tx) => getSession(tx, id)).value;
    if (!session) throw notFound(id);
    requireAccess(deps, c.req.raw, 'session', session.Node, 'write');
    deps.sessionTimers.renewed(session);
    return jsonResponse(JSON.stringify([sessionJson(session)]));
  });

  route(app, 'GET', '/v1/session/info/:id', (c) => {
    const id = c.req.param('id');
    return indexedRead(
      deps,
      c.req.raw,
      watch,
      (tx) => getSession(tx, id),
      // As Consul: an unknown session (or one the token may not read) is an empty list, not a 404.
      (s) => (s ? readable(c.req.raw, [s]).map(sessionJson) : []),
    );
  });

  route(app, 'GET', '/v1/session/node/:node', (c) => {
    const node = c.req.param('node');
    return indexedRead(
      deps,
      c.req.raw,
      watch,
      (tx) => nodeSessions(tx, node),
      (list) => readable(c.req.raw, list).map(sessionJson),
    );
  });

  route(app, 'GET', '/v1/session/list', (c) =>
    indexedRead(deps, c.req.raw, watch, listSessions, (list) => readable(c.req.raw, list).map(sessionJson)),
  );
}
