import type { Hono } from 'hono';
import { NODE_NAME, parseChaosSpec } from '../../chaos/parse.js';
import {
  CHAOS_LIMITS,
  type ChaosActor,
  type ChaosEvent,
  type ChaosExperimentView,
  type ChaosSpec,
} from '../../chaos/types.js';
import { BadRequestError, PermissionDeniedError } from '../../errors.js';
import type { Rng } from '../../ports/rng.js';
import { randomUuid } from '../../util/uuid.js';
import type { AuditEvent } from '../audit-sink.js';
import { resolvedIdentity } from '../authz.js';
import { readBody } from '../body.js';
import type { ServerApiDeps } from '../context.js';
import { callerAddress, CLIENT_ADDRESS_HEADER, FORWARDED_HEADER } from '../local-defaults.js';
import { checkDatacenter } from '../query.js';
import { route } from '../registry.js';
import { jsonResponse } from '../respond.js';

/** A request relayed to the server that is to run it (or list or stop its experiments). */
export interface RelayedChaosRequest {
  readonly method: 'GET' | 'PUT' | 'DELETE';
  /** Path and query string, as received. */
  readonly path: string;
  /** The caller's token headers, plus who relays it and for whom. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}

/** What the chaos routes need from the server: its experiments, and a way to reach the others. */
export interface ChaosPort {
  /** See ChaosController.start. */
  start(spec: ChaosSpec, by: ChaosActor): Promise<ChaosExperimentView>;
  /** This server's running experiments, oldest first. */
  list(): ChaosExperimentView[];
  /** Ends one now; NotFoundError (404) when no such experiment runs here. */
  stopOne(id: string, by: ChaosActor): ChaosExperimentView;
  /**
   * Sends `r` to server `server`'s HTTP API and resolves with its answer. Throws BadRequestError
   * (400) when no server of the cluster has that name, and a `no_path` KonsulError (500) when it
   * cannot be reached.
   */
  relay(server: string, r: RelayedChaosRequest): Promise<Response>;
}

/** The refusal of a server started without --enable-chaos (403, after the ACL check). */
export const CHAOS_DISABLED_MESSAGE =
  'Permission denied: chaos experiments are disabled on this server (start it with --enable-chaos)';

/** Request headers a relayed request keeps: the caller's credentials and the body's type. */
const RELAYED_HEADERS = ['x-consul-token', 'authorization', 'content-type'];

/**
 * The audit record of a chaos start or end (method `CHAOS`, path `/v1/operator/chaos/<ID>`,
 * kind write, status 200), with the caller's address and AccessorID when one asked for it.
 */
export function chaosAuditEvent(e: ChaosEvent, rng: Rng): AuditEvent {
  return {
    time: new Date(e.time).toISOString(),
    requestId: randomUuid(rng),
    source: e.by?.source ?? '',
    ...(e.by?.accessor ? { accessor: e.by.accessor } : {}),
    method: 'CHAOS',
    path: `/v1/operator/chaos/${e.experiment.ID}`,
    kind: 'write',
    status: 200,
    decision: 'allowed',
    chaos: { action: e.action, ...(e.reason ? { reason: e.reason } : {}), ...e.experiment },
  };
}

/**
 * Registers the chaos API (operator:write to start and stop, operator:read to list; the route
 * table's guard checks it first; every server answers for itself):
 * - PUT /v1/operator/chaos: starts the experiment the JSON body describes (see parseChaosSpec) on
 *   this server, or relays the request to the server its `Server` names; 200 with the experiment.
 * - GET /v1/operator/chaos[?server=NAME]: the running experiments of this server (or NAME's).
 * - DELETE /v1/operator/chaos/<ID>[?server=NAME]: ends one now; 200 with it, 404 when unknown.
 * Without `chaos` (no --enable-chaos) every one answers 403 CHAOS_DISABLED_MESSAGE. A relayed
 * request carries the caller's token; one that arrives relayed and names yet another server is
 * refused (400) rather than relayed again.
 */
export function registerChaosRoutes(app: Hono, deps: ServerApiDeps, chaos: ChaosPort | undefined): void {
  const self = deps.node.name;
  const enabled = (): ChaosPort => {
    if (!chaos) throw new PermissionDeniedError(CHAOS_DISABLED_MESSAGE);
    return chaos;
  };
  const actor = (req: Request): ChaosActor => {
    const accessor = resolvedIdentity(req)?.token?.AccessorID;
    return { source: callerAddress(deps, req) ?? '', ...(accessor ? { accessor } : {}) };
  };
  /** Relays `req` to `target` unless it is this server; undefined when this server answers. */
  const relayed = async (
    port: ChaosPort,
    req: Request,
    target: string | undefined,
    body?: Uint8Array,
  ): Promise<Response | undefined> => {
    if (target === undefined || target === self) return undefined;
    const from = req.headers.get(FORWARDED_HEADER);
    if (from !== null)
      throw new BadRequestError(
        `Server ${target}: ${from} relayed this request to ${self}, which does not relay it again`,
      );
    const url = new URL(req.url);
    const headers: Record<string, string> = { [FORWARDED_HEADER]: self };
    for (const name of RELAYED_HEADERS) {
      const v = req.headers.get(name);
      if (v !== null) headers[name] = v;
    }
    const caller = callerAddress(deps, req);
    if (caller !== undefined) headers[CLIENT_ADDRESS_HEADER] = caller;
    return port.relay(target, {
      method: req.method as RelayedChaosRequest['method'],
      path: `${url.pathname}${url.search}`,
      headers,
      ...(body ? { body } : {}),
    });
  };
  const serverParam = (url: URL): string | undefined => {
    const s = url.searchParams.get('server');
    if (s === null || s === '') return undefined;
    if (!NODE_NAME.test(s)) throw new BadRequestError(`server must be a server's node name, not ${JSON.stringify(s)}`);
    return s;
  };

  route(app, 'PUT', '/v1/operator/chaos', async (c) => {
    const port = enabled();
    const url = new URL(c.req.url);
    checkDatacenter(url, deps);
    const bytes = await readBody(c.req.raw, CHAOS_LIMITS.maxBodyBytes, deps.bodyReader);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new BadRequestError('Request body is not valid JSON');
    }
    const spec = parseChaosSpec(body);
    const answer = await relayed(port, c.req.raw, spec.server, bytes);
    if (answer) return answer;
    return jsonResponse(JSON.stringify(await port.start(spec, actor(c.req.raw))));
  });

  route(app, 'GET', '/v1/operator/chaos', async (c) => {
    const port = enabled();
    const url = new URL(c.req.url);
    checkDatacenter(url, deps);
    const answer = await relayed(port, c.req.raw, serverParam(url));
    if (answer) return answer;
    return jsonResponse(JSON.stringify(port.list()));
  });

  route(app, 'DELETE', '/v1/operator/chaos/:id', async (c) => {
    const port = enabled();
    const url = new URL(c.req.url);
    checkDatacenter(url, deps);
    const answer = await relayed(port, c.req.raw, serverParam(url));
    if (answer) return answer;
    return jsonResponse(JSON.stringify(port.stopOne(c.req.param('id'), actor(c.req.raw))));
  });
}
