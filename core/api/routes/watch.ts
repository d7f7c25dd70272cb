import { route } from '../registry.js';
import type { Hono } from 'hono';
import { healthEntryJson } from '../../catalog/json.js';
import type { HealthEntry } from '../../catalog/queries.js';
import { HEALTH_WATCH_TABLE } from '../../catalog/state-machine.js';
import { BadRequestError } from '../../errors.js';
import { validatePrefix } from '../../kv/commands.js';
import { kvEntryToJson } from '../../kv/json.js';
import { KV_TABLE, type KvRecord } from '../../kv/types.js';
import { EVENT_WATCH_TABLE, type UserEvent } from '../../event/events.js';
import { eventJson } from './event.js';
import { FLEET_STATUS_TABLE, type FleetMember } from '../../fleet/types.js';
import type { FeedFilter, FeedMessage, FeedPosition } from '../../watch/change-feed.js';
import { followToken, identityOf, requireAccess } from '../authz.js';
import type { Authorizer } from '../../acl/authorizer.js';
import type { ServerApiDeps } from '../context.js';
import { sseFrame, sseResponse } from '../sse.js';
import { parseUintParam } from '../query.js';

/** The tables watch streams read; a ChangeFeed serving them must retain these. */
export const WATCH_STREAM_TABLES: readonly string[] = [
  KV_TABLE,
  HEALTH_WATCH_TABLE,
  EVENT_WATCH_TABLE,
  FLEET_STATUS_TABLE,
];

const POSITION = /^(\d{1,16})(?::(\d{1,9}))?$/;

/**
 * Where a stream starts: the Last-Event-ID header (as sent by EventSource on reconnect), else
 * ?index= (e.g. a read's X-Consul-Index), else the newest applied change (only what happens next).
 * Ids are "<index>" or "<index>:<n>" (after the n-th change of that index, 0-based).
 */
function startPosition(req: Request, url: URL, latest: number): FeedPosition {
  const header = req.headers.get('last-event-id');
  const text = header !== null && header !== '' ? header : url.searchParams.get('index');
  if (text === null || text === '') return { index: latest };
  const m = POSITION.exec(text.trim());
  if (!m)
    throw new BadRequestError(
      `Invalid Last-Event-ID or index ${JSON.stringify(text)}: use an event id such as "42" or "42:1"`,
    );
  const index = parseUintParam(m[1] as string, 'index');
  return m[2] === undefined ? { index } : { index, seq: Number(m[2]) };
}

function eventId(m: Extract<FeedMessage, { kind: 'change' }>): string {
  return m.last ? String(m.index) : `${m.index}:${m.seq}`;
}

/** A KV change as event data, its value opened when it is encrypted (docs/SECRETS.md). */
async function kvData(deps: ServerApiDeps, m: Extract<FeedMessage, { kind: 'change' }>): Promise<string> {
  const c = m.change;
  if ('prefix' in c) return JSON.stringify({ Index: m.index, Op: 'delete-tree', Prefix: c.prefix });
  const rec = c.entry as KvRecord | null | undefined;
  if (!rec) return JSON.stringify({ Index: m.index, Op: 'delete', Key: c.key, Entry: null });
  const entry = { key: c.key, ...rec };
  const [opened] = deps.secrets ? await deps.secrets.openEntries([entry]) : [entry];
  return `{"Index":${m.index},"Op":"set","Key":${JSON.stringify(c.key)},"Entry":${kvEntryToJson(opened ?? entry)}}`;
}

/**
 * Whether a KV change is one a client sees: a value re-sealed under another key by the rotation
 * job (`kv.reseal`, which keeps the entry's ModifyIndex below the change's index) reads the same.
 */
function kvVisibleChange(m: Extract<FeedMessage, { kind: 'change' }>): boolean {
  const c = m.change;
  if ('prefix' in c) return true;
  const rec = c.entry as KvRecord | null | undefined;
  return !rec || rec.modifyIndex === m.index;
}

function healthData(m: Extract<FeedMessage, { kind: 'change' }>): string {
  const c = m.change;
  if ('prefix' in c) return JSON.stringify({ Index: m.index, Op: 'reset' });
  const sep = c.key.indexOf('\u0000');
  const name = c.key.slice(0, sep);
  const rest = c.key.slice(sep + 1);
  const node = rest.slice(0, rest.indexOf('/'));
  const id = rest.slice(rest.indexOf('/') + 1);
  const entry = c.entry as HealthEntry | null | undefined;
  return JSON.stringify({
    Index: m.index,
    Op: entry ? 'set' : 'delete',
    Service: name,
    Node: node,
    ServiceID: id,
    Entry: entry ? healthEntryJson(entry) : null,
  });
}

function fleetData(m: Extract<FeedMessage, { kind: 'change' }>): string {
  const c = m.change;
  if ('prefix' in c) return JSON.stringify({ Index: m.index, Op: 'reset' });
  const member = c.entry as FleetMember | null | undefined;
  return JSON.stringify({
    Index: m.index,
    Op: member ? member.Status : 'forgotten',
    ID: c.key,
    Member: member ?? null,
  });
}

function resyncData(m: Extract<FeedMessage, { kind: 'resync' }>): string {
  return JSON.stringify({ Reason: m.reason, Index: m.index, Oldest: m.oldest });
}

/**
 * Serves one watch stream as Server-Sent Events: every matching change is one event (id: its
 * index, data: JSON naming the key, the operation and the entry), in index order, starting after
 * the requested position. A stream that cannot continue without a gap gets one `resync` event
 * (reason, the index to re-read at, the oldest resumable index) and ends.
 */
function serveStream(
  deps: ServerApiDeps,
  req: Request,
  filter: FeedFilter,
  render: (m: Extract<FeedMessage, { kind: 'change' }>) => string | Promise<string>,
  visible: (m: Extract<FeedMessage, { kind: 'change' }>, authz: Authorizer) => boolean,
  required?: (authz: Authorizer) => string | undefined,
): Response {
  const feed = deps.changeFeed;
  const from = startPosition(req, new URL(req.url), feed.latest);
  const sub = feed.subscribe(filter, from);
  // The token is followed: a narrowed one filters what comes next, a deleted one (or one that
  // lost what the stream needs) ends the stream with a `closed` event saying why.
  let authz = identityOf(deps, req).authz;
  const revoked = new AbortController();
  let reason = '';
  const unfollow = followToken(deps, req, (v) => {
    if (v.ok) authz = v.identity.authz;
    const why = !v.ok ? v.reason : required?.(authz);
    if (why !== undefined && !revoked.signal.aborted) {
      reason = why;
      revoked.abort();
    }
  });
  const source = {
    get done() {
      return sub.done;
    },
    async next() {
      // Changes the token may not read are left out (the stream goes on past them).
      const messages = (await sub.next()).filter((m) => m.kind === 'resync' || visible(m, authz));
      return Promise.all(
        messages.map(async (m) =>
          m.kind === 'resync'
            ? sseFrame({ event: 'resync', data: resyncData(m) })
            : sseFrame({ id: eventId(m), data: await render(m) }),
        ),
      );
    },
    close: () => {
      unfollow();
      sub.close();
    },
  };
  const at = `${from.index}${from.seq === undefined ? '' : `:${from.seq}`}`;
  return sseResponse(
    deps,
    req,
    source,
    `watching from index ${at}`,
    { 'X-Consul-Index': String(Math.max(1, feed.latest)) },
    { signal: revoked.signal, frame: () => sseFrame({ event: 'closed', data: JSON.stringify({ Reason: reason }) }) },
  );
}

/**
 * Registers the resumable watch streams (beyond Consul): GET /v1/watch/kv/<prefix>,
 * GET /v1/watch/health/<service> and GET /v1/watch/events[?name=] (user events as they are fired,
 * insights' `konsul-insight` among them) and GET /v1/watch/edge/agents (edge agents and devices
 * appearing, going offline, coming back, forgotten: node:read on each), served by any server
 * from its own applied changes. With
 * ACLs on, a KV stream leaves out keys the token may not read; a health stream needs service:read
 * and leaves out instances on nodes the token may not read; an events stream leaves out events
 * the token may not read.
 */
export function registerWatchRoutes(app: Hono, deps: ServerApiDeps): void {
  route(app, 'GET', '/v1/watch/kv/*', (c) => {
    const url = new URL(c.req.url);
    let prefix: string;
    try {
      prefix = decodeURIComponent(url.pathname.slice('/v1/watch/kv/'.length));
    } catch {
      throw new BadRequestError('Invalid key prefix: bad percent-encoding');
    }
    validatePrefix(prefix);
    return serveStream(
      deps,
      c.req.raw,
      { table: KV_TABLE, prefix },
      (m) => kvData(deps, m),
      (m, authz) => kvVisibleChange(m) && authz.canRead('key', 'key' in m.change ? m.change.key : m.change.prefix),
    );
  });
  route(app, 'GET', '/v1/watch/events', (c) => {
    const name = new URL(c.req.url).searchParams.get('name') ?? '';
    const eventOf = (m: Extract<FeedMessage, { kind: 'change' }>) =>
      ('entry' in m.change ? m.change.entry : undefined) as UserEvent | null | undefined;
    return serveStream(
      deps,
      c.req.raw,
      { table: EVENT_WATCH_TABLE, prefix: '' },
      (m) => JSON.stringify({ Index: m.index, Event: eventJson(eventOf(m) as UserEvent) }),
      (m, authz) => {
        const e = eventOf(m);
        return !!e && (name === '' || e.Name === name) && authz.canRead('event', e.Name);
      },
    );
  });
  // The fleet's `changes`: a member appears, goes offline, comes back or is forgotten.
  route(app, 'GET', '/v1/watch/edge/agents', (c) => {
    return serveStream(deps, c.req.raw, { table: FLEET_STATUS_TABLE, prefix: '' }, fleetData, (m, authz) =>
      authz.canRead('node', 'key' in m.change ? m.change.key : ''),
    );
  });
  route(app, 'GET', '/v1/watch/health/:service', (c) => {
    const service = c.req.param('service');
    if (service === '') throw new BadRequestError('Missing service name');
    requireAccess(deps, c.req.raw, 'service', service, 'read');
    const nodeOf = (key: string) => key.slice(key.indexOf('\u0000') + 1, key.indexOf('/', key.indexOf('\u0000')));
    return serveStream(
      deps,
      c.req.raw,
      { table: HEALTH_WATCH_TABLE, prefix: `${service}\u0000` },
      healthData,
      (m, authz) => !('key' in m.change) || authz.canRead('node', nodeOf(m.change.key)),
      (authz) => (authz.canRead('service', service) ? undefined : `the token may no longer read service ${service}`),
    );
  });
}
