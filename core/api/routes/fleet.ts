import type { Hono } from 'hono';
import { BadRequestError, NotFoundError, RefusedError } from '../../errors.js';
import { fleetName, parseReport } from '../../fleet/input.js';
import { listFleet, readFleetMember } from '../../fleet/state-machine.js';
import { FLEET_WATCH_TABLE, type FleetForgetCommand, type FleetMember } from '../../fleet/types.js';
import { filterReadable, requireAccess } from '../authz.js';
import { readJson } from '../body.js';
import type { ServerApiDeps } from '../context.js';
import { checkDatacenter } from '../query.js';
import { indexedRead } from '../read.js';
import { jsonResponse } from '../respond.js';
import { route } from '../registry.js';

/** Largest announcement body accepted. */
const MAX_ANNOUNCE_BYTES = 64 * 1024;

/**
 * Registers the fleet endpoints (beyond Consul):
 * - PUT /v1/edge/agents/<id>: an edge agent announces itself over HTTP (JSON: Runtime,
 *   RuntimeVersion, Version, Arch, Datacenter, Prefixes, Services, ReplicaIndex, OutboxDepth).
 *   Needs node:write on <id>. The server that takes it writes it to the replicated fleet table
 *   within a second (batched with others).
 * - GET /v1/edge/agents[?status=online|offline][&kind=agent|device]: every member the token may
 *   read (node:read on its name), as a blocking query.
 * - GET /v1/edge/agents/<id>: one member (node:read), 404 when unknown, blocking.
 * - DELETE /v1/edge/agents/<id>: forgets a member (node:write); it comes back when heard again.
 */
export function registerFleetRoutes(app: Hono, deps: ServerApiDeps): void {
  route(app, 'PUT', '/v1/edge/agents/:id', async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const id = fleetName(c.req.param('id'));
    requireAccess(deps, c.req.raw, 'node', id, 'write');
    const report = parseReport(await readJson(c.req.raw, MAX_ANNOUNCE_BYTES, deps.bodyReader), id, 'http');
    if (!deps.fleet) throw new RefusedError('this server keeps no fleet table');
    deps.fleet.report(report);
    return jsonResponse('true');
  });

  route(app, 'GET', '/v1/edge/agents', (c) => {
    const url = new URL(c.req.url);
    checkDatacenter(url, deps);
    const status = url.searchParams.get('status');
    const kind = url.searchParams.get('kind');
    if (status !== null && status !== 'online' && status !== 'offline')
      throw new BadRequestError('Invalid status: use "online" or "offline"');
    if (kind !== null && kind !== 'agent' && kind !== 'device')
      throw new BadRequestError('Invalid kind: use "agent" or "device"');
    return indexedRead(
      deps,
      c.req.raw,
      { table: FLEET_WATCH_TABLE, prefix: '' },
      (tx) => listFleet(tx),
      (list) =>
        filterReadable(
          deps,
          c.req.raw,
          list.filter((m) => (status === null || m.Status === status) && (kind === null || m.Kind === kind)),
          (m: FleetMember) => [['node', m.ID]],
        ).items,
    );
  });

  route(app, 'GET', '/v1/edge/agents/:id', (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const id = fleetName(c.req.param('id'));
    requireAccess(deps, c.req.raw, 'node', id, 'read');
    return indexedRead(
      deps,
      c.req.raw,
      { table: FLEET_WATCH_TABLE, key: id },
      (tx) => readFleetMember(tx, id),
      (m) => m ?? { status: 404, body: `Unknown agent ${JSON.stringify(id)}` },
    );
  });

  route(app, 'DELETE', '/v1/edge/agents/:id', async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const id = fleetName(c.req.param('id'));
    requireAccess(deps, c.req.raw, 'node', id, 'write');
    const command: FleetForgetCommand = { type: 'fleet.forget', id };
    const { value } = await deps.writer.submit<boolean>(command);
    if (!value) throw new NotFoundError(`Unknown agent ${JSON.stringify(id)}`);
    return jsonResponse('true');
  });
}
