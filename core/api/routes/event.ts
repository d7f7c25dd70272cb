import { route } from '../registry.js';
import { filterReadable, requireAccess } from '../authz.js';
import type { Hono } from 'hono';
import {
  EVENT_WATCH_TABLE,
  EVENTS_INDEX,
  type EventFireCommand,
  listEvents,
  MAX_EVENT_PAYLOAD_BYTES,
  type UserEvent,
} from '../../event/events.js';
import { BadRequestError, RefusedError } from '../../errors.js';
import { encodeBase64 } from '../../util/base64.js';
import { utf8Length } from '../../util/keys.js';
import { randomUuid } from '../../util/uuid.js';
import { readBody } from '../body.js';
import type { ApiDeps } from '../context.js';
import { checkDatacenter } from '../query.js';
import { indexedRead } from '../read.js';
import { jsonResponse } from '../respond.js';

/** An event as Consul shows it: Payload base64, or null when empty. */
export function eventJson(e: UserEvent): Record<string, unknown> {
  return { ...e, Payload: e.Payload && e.Payload.byteLength > 0 ? encodeBase64(e.Payload) : null };
}

/** A filter parameter; one that is no regular expression is refused as Consul's agent does (500). */
function regexFilter(url: URL, name: string): string {
  const v = url.searchParams.get(name) ?? '';
  if (v === '') return '';
  try {
    new RegExp(v);
  } catch {
    throw new RefusedError(`Invalid ${name} filter: ${JSON.stringify(v)} is not a regular expression`);
  }
  return v;
}

/**
 * Registers the user event endpoints: PUT /v1/event/fire/<name> records an event (replicated,
 * the last 256 kept) and answers it with its ID; GET /v1/event/list lists them oldest first,
 * optionally by ?name=, as a blocking query. With ACLs on, firing needs event:write on the name
 * and the list shows the events the token may read. Filters Consul's agent refuses (a tag without
 * a service, no regular expression) are 500 with its texts; a bad name is 400, a payload over 512
 * bytes 413.
 */
export function registerEventRoutes(app: Hono, deps: ApiDeps): void {
  route(app, 'PUT', '/v1/event/fire/:name', async (c) => {
    const url = new URL(c.req.url);
    checkDatacenter(url, deps);
    const name = c.req.param('name');
    if (name === '' || !name.isWellFormed() || utf8Length(name) > 256)
      throw new BadRequestError('Invalid event name: 1 to 256 bytes of valid Unicode');
    // As in Consul, names starting with "_" are reserved for internal events.
    if (name.startsWith('_'))
      throw new BadRequestError(`Invalid event name ${JSON.stringify(name)}: names starting with "_" are reserved`);
    requireAccess(deps, c.req.raw, 'event', name, 'write');
    const node = regexFilter(url, 'node');
    const service = regexFilter(url, 'service');
    const tag = regexFilter(url, 'tag');
    if (tag && !service) throw new RefusedError('Cannot provide tag filter without service filter');
    const payload = await readBody(c.req.raw, MAX_EVENT_PAYLOAD_BYTES, deps.bodyReader);
    const command: EventFireCommand = {
      type: 'event.fire',
      event: {
        ID: randomUuid(deps.rng),
        Name: name,
        Payload: payload.byteLength > 0 ? payload : null,
        NodeFilter: node,
        ServiceFilter: service,
        TagFilter: tag,
      },
    };
    const { value } = await deps.writer.submit<UserEvent>(command);
    return jsonResponse(JSON.stringify(eventJson(value)));
  });

  route(app, 'GET', '/v1/event/list', (c) => {
    const name = new URL(c.req.url).searchParams.get('name') ?? '';
    return indexedRead(
      deps,
      c.req.raw,
      { table: EVENT_WATCH_TABLE, key: EVENTS_INDEX },
      (tx) => listEvents(tx, name || undefined),
      (list) => filterReadable(deps, c.req.raw, list, (e) => [['event', e.Name]]).items.map(eventJson),
    );
  });
}
