import { route } from '../registry.js';
import type { Hono } from 'hono';
import type { AclIdentity } from '../../acl/resolve.js';
import { healthEntryJson } from '../../catalog/json.js';
import type { HealthEntry } from '../../catalog/queries.js';
import { BadRequestError, NotFoundError, PermissionDeniedError, RefusedError } from '../../errors.js';
import { type InternalProposeAccess, internalAllowed } from './internal.js';
import { applyLimit, orderQueryResults, queryInstances } from '../../prepared-query/execute.js';
import { decodeQuery, validateQuery } from '../../prepared-query/input.js';
import { nonExistent } from '../../prepared-query/ops.js';
import { getQuery, listQueries, preparedQueriesIndex, resolveQuery } from '../../prepared-query/queries.js';
import type { PreparedQueryDeleteCommand, PreparedQuerySetCommand } from '../../prepared-query/state-machine.js';
import {
  aclPrefixOf,
  MAX_QUERY_BODY_BYTES,
  PREPARED_QUERIES_INDEX,
  PREPARED_QUERY_WATCH_TABLE,
  type PreparedQueryInput,
  type PreparedQueryRecord,
  REDACTED_TOKEN,
} from '../../prepared-query/types.js';
import { randomUuid } from '../../util/uuid.js';
import { identityOf, requireAccess } from '../authz.js';
import { requestSecret } from '../../acl/resolve.js';
import { readJson } from '../body.js';
import type { ApiDeps } from '../context.js';
import { checkDatacenter, consistentBarrier, parseReadOptions } from '../query.js';
import { indexedRead } from '../read.js';
import { jsonResponse, readHeaders } from '../respond.js';

/** Consul's answer for a query no ID or name reaches (ErrQueryNotFound; 404 on read, execute, explain). */
export const QUERY_NOT_FOUND = 'Query not found';

/**
 * The queries `who` may see, as Consul's ACL filter shows them: everything to a token with
 * acl:write (management); to others only the queries with an ACL prefix (a name, or a template)
 * they may read (query:read), each with its Token shown as "<hidden>".
 */
function visibleQueries(who: AclIdentity, list: readonly PreparedQueryRecord[]): PreparedQueryRecord[] {
  if (who.authz.decideScalar('acl', 'write').allowed) return [...list];
  return list
    .filter((q) => {
      const prefix = aclPrefixOf(q);
      return prefix !== undefined && who.authz.canRead('query', prefix);
    })
    .map((q) => ({ ...q, Token: REDACTED_TOKEN }));
}

/** Consul's `?limit=` of execute and explain: an integer (<= 0: no limit); "Bad limit: …" (500) otherwise. */
function parseLimit(url: URL): number {
  const text = url.searchParams.get('limit');
  if (text === null || text === '') return 0;
  if (!/^[+-]?[0-9]{1,15}$/.test(text))
    throw new RefusedError(`Bad limit: strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`);
  return Number(text);
}

/** A query as a datacenter it fails over to runs it (POST /v1/internal/query/execute). */
interface RemoteQuery {
  readonly Service: PreparedQueryRecord['Service'];
  /** The query's own token ("" when none): when set, it decides what the answer may show. */
  readonly Token: string;
  /** The token of the request that executed the query ("" when none), used when the query has none. */
  readonly CallerToken: string;
  readonly Limit: number;
}

/**
 * The datacenters a query fails over to, in Consul's order: the `NearestN` nearest other
 * datacenters (`known` is nearest first, this one `local` first), then `Datacenters` and the
 * `Targets`' datacenters as given; each once, unknown ones and this one left out.
 */
export function failoverOrder(
  f: PreparedQueryRecord['Service']['Failover'],
  known: readonly string[],
  local: string,
): string[] {
  const others = known.filter((dc) => dc !== local);
  const order = others.slice(0, Math.max(0, f.NearestN));
  for (const dc of [...(f.Datacenters ?? []), ...(f.Targets ?? []).map((t) => t.Datacenter)])
    if (dc !== '' && others.includes(dc) && !order.includes(dc)) order.push(dc);
  return order;
}

/** The body of a create or update: JSON, at most MAX_QUERY_BODY_BYTES. */
async function readQuery(deps: ApiDeps, req: Request, id: string | undefined): Promise<PreparedQueryInput> {
  return decodeQuery(await readJson(req, MAX_QUERY_BODY_BYTES, deps.bodyReader), id);
}

/** Throws 403 unless the request may write under `q`'s ACL prefix (a query without one needs nothing). */
function requireQueryWrite(deps: ApiDeps, req: Request, q: Pick<PreparedQueryInput, 'Name' | 'Template'>): void {
  const prefix = aclPrefixOf(q);
  if (prefix !== undefined) requireAccess(deps, req, 'query', prefix, 'write');
}

/**
 * Registers Consul's prepared query endpoints: create (POST /v1/query, answers {"ID"}), list,
 * read, update and delete by ID, and execute and explain by ID or name (a template is reached by
 * any name its prefix starts, the longest prefix winning). Answers as Consul: a query no ID or
 * name reaches is 404 "Query not found" (read, execute, explain); updating or deleting an unknown
 * one, and every rule the servers check (validateQuery, setQuery), is 500 with Consul's text; a
 * body that does not decode is 400 "Request decode failed: …". ACLs (`query` rules) as Consul:
 * writes need query:write on the query's name (old and new); reads show what query:read allows
 * (tokens hidden unless acl:write); execute filters its instances by service:read and node:read of
 * the query's own Token when it has one, else the request's.
 */
export function registerPreparedQueryRoutes(app: Hono, deps: ApiDeps): void {
  const watch = { table: PREPARED_QUERY_WATCH_TABLE, key: PREPARED_QUERIES_INDEX };

  route(app, 'POST', '/v1/query', async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const q = await readQuery(deps, c.req.raw, undefined);
    if (q.ID !== '') throw new RefusedError('ID must be empty when creating a new prepared query');
    requireQueryWrite(deps, c.req.raw, q);
    const query = { ...q, ID: randomUuid(deps.rng) };
    validateQuery(query);
    const command: PreparedQuerySetCommand = {
      type: 'query.set',
      query,
      create: true,
      maxQueries: deps.limits.preparedQueryMax,
    };
    const { value } = await deps.writer.submit<PreparedQueryRecord>(command);
    return jsonResponse(JSON.stringify({ ID: value.ID }));
  });

  route(app, 'GET', '/v1/query', (c) =>
    indexedRead(deps, c.req.raw, watch, listQueries, (list) => visibleQueries(identityOf(deps, c.req.raw), list)),
  );

  route(app, 'GET', '/v1/query/:id', (c) => {
    const id = c.req.param('id');
    return indexedRead(
      deps,
      c.req.raw,
      watch,
      (tx) => getQuery(tx, id),
      (q) => {
        if (!q) return { status: 404, body: QUERY_NOT_FOUND };
        const who = identityOf(deps, c.req.raw);
        // A query without a name is shown to whoever has its ID (its token hidden all the same).
        if (aclPrefixOf(q) === undefined)
          return [who.authz.decideScalar('acl', 'write').allowed ? q : { ...q, Token: REDACTED_TOKEN }];
        const shown = visibleQueries(who, [q]);
        if (shown.length === 0) throw new PermissionDeniedError();
        return shown;
      },
    );
  });

  route(app, 'PUT', '/v1/query/:id', async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const id = c.req.param('id');
    const q = await readQuery(deps, c.req.raw, id);
    requireQueryWrite(deps, c.req.raw, q);
    const existing = deps.store.read((tx) => getQuery(tx, id)).value;
    if (!existing) throw nonExistent(id);
    requireQueryWrite(deps, c.req.raw, existing);
    const query = { ...q, ID: existing.ID };
    validateQuery(query);
    const command: PreparedQuerySetCommand = {
      type: 'query.set',
      query,
      create: false,
      maxQueries: deps.limits.preparedQueryMax,
    };
    await deps.writer.submit(command);
    return new Response(null, { status: 200 });
  });

  route(app, 'DELETE', '/v1/query/:id', async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const id = c.req.param('id');
    const existing = deps.store.read((tx) => getQuery(tx, id)).value;
    if (!existing) throw nonExistent(id);
    requireQueryWrite(deps, c.req.raw, existing);
    const command: PreparedQueryDeleteCommand = { type: 'query.delete', id: existing.ID };
    await deps.writer.submit(command);
    return new Response(null, { status: 200 });
  });

  route(app, 'GET', '/v1/query/:id/execute', async (c) => {
    const req = c.req.raw;
    const url = new URL(req.url);
    const options = parseReadOptions(url, deps);
    const limit = parseLimit(url);
    // `near` is accepted; without network coordinates there is nothing to sort by.
    await consistentBarrier(deps, options);
    const found = deps.store.read((tx) => {
      const resolved = resolveQuery(tx, c.req.param('id'));
      if (!resolved) return undefined;
      const instances = queryInstances(tx, resolved.rendered.Service);
      const token = resolved.rendered.Token;
      // As Consul: the query's own token, when it has one, decides what its answer may show.
      const who = token !== '' && deps.acl.settings.enabled ? deps.acl.resolve(tx, token, deps.clock.now()) : undefined;
      return { query: resolved.rendered, instances, who, index: preparedQueriesIndex(tx) };
    });
    if (!found) throw new NotFoundError(QUERY_NOT_FOUND);
    const who = found.who ?? identityOf(deps, req);
    const readable = found.instances.value.filter(
      (e: HealthEntry) => who.authz.canRead('service', e.service.Service) && who.authz.canRead('node', e.node.Node),
    );
    let nodes: unknown[] = applyLimit(orderQueryResults(readable, deps.rng), limit).map(healthEntryJson);
    let datacenter = deps.node.datacenter;
    let failovers = 0;
    // As Consul: nothing healthy here, the query runs in the NearestN closest datacenters, then
    // in Failover.Datacenters (and Targets) in order — each once, unknown ones skipped — until one
    // has instances. Failovers counts every datacenter tried.
    if (nodes.length === 0 && deps.federation) {
      const federation = deps.federation;
      const remote: RemoteQuery = {
        Service: found.query.Service,
        Token: found.query.Token,
        CallerToken: requestSecret(req, url) ?? '',
        Limit: limit,
      };
      for (const dc of failoverOrder(found.query.Service.Failover, federation.datacenters(), deps.node.datacenter)) {
        failovers++;
        let answer: { status: number; body: string };
        try {
          answer = await federation.internal(dc, '/v1/internal/query/execute', remote);
        } catch (err) {
          deps.logger.debug('prepared query failover: datacenter not reached', {
            datacenter: dc,
            error: (err as Error).message,
          });
          continue;
        }
        if (answer.status !== 200) continue;
        const got = JSON.parse(answer.body) as { Nodes: unknown[] };
        datacenter = dc;
        nodes = got.Nodes;
        if (nodes.length > 0) break;
      }
    }
    const body = {
      Service: found.query.Service.Service,
      Nodes: nodes,
      DNS: found.query.DNS,
      Datacenter: datacenter,
      Failovers: failovers,
    };
    const index = Math.max(1, found.index, found.instances.index);
    return jsonResponse(JSON.stringify(body), 200, readHeaders(deps, index, options));
  });

  route(app, 'GET', '/v1/query/:id/explain', async (c) => {
    const req = c.req.raw;
    const url = new URL(req.url);
    const options = parseReadOptions(url, deps);
    parseLimit(url);
    await consistentBarrier(deps, options);
    const found = deps.store.read((tx) => {
      const resolved = resolveQuery(tx, c.req.param('id'));
      return resolved && { query: resolved.rendered, index: preparedQueriesIndex(tx) };
    });
    if (!found) throw new NotFoundError(QUERY_NOT_FOUND);
    const shown = visibleQueries(identityOf(deps, req), [found.query]);
    if (shown.length === 0) throw new PermissionDeniedError();
    return jsonResponse(JSON.stringify({ Query: shown[0] }), 200, readHeaders(deps, Math.max(1, found.index), options));
  });
}

/**
 * Registers POST /v1/internal/query/execute: another datacenter's server fails a prepared query
 * over to this one and sends the query itself (RemoteQuery, as Consul's ExecuteRemote). Answers
 * {Nodes, Index}: this datacenter's healthy instances of the query's service in the query's
 * order, up to its limit, as far as the query's token (else the caller's) may read them.
 * Guarded by the join token (internalAllowed).
 */
export function registerRemoteQueryRoute(app: Hono, deps: ApiDeps, access: InternalProposeAccess): void {
  route(app, 'POST', '/v1/internal/query/execute', async (c) => {
    if (!internalAllowed(c.req.header('x-konsul-join-token'), access)) return c.text('Permission denied\n', 403);
    const q = (await readJson(c.req.raw, MAX_QUERY_BODY_BYTES, deps.bodyReader)) as Partial<RemoteQuery>;
    if (
      typeof q !== 'object' ||
      q === null ||
      typeof q.Service?.Service !== 'string' ||
      typeof q.Token !== 'string' ||
      typeof q.CallerToken !== 'string' ||
      typeof q.Limit !== 'number'
    )
      throw new BadRequestError('a remote query is {Service, Token, CallerToken, Limit}');
    const { Service, Token, CallerToken, Limit } = q as RemoteQuery;
    const found = deps.store.read((tx) => {
      const secret = Token !== '' ? Token : CallerToken !== '' ? CallerToken : undefined;
      return { instances: queryInstances(tx, Service), who: deps.acl.resolve(tx, secret, deps.clock.now()) };
    });
    const readable = found.instances.value.filter(
      (e: HealthEntry) =>
        found.who.authz.canRead('service', e.service.Service) && found.who.authz.canRead('node', e.node.Node),
    );
    const nodes = applyLimit(orderQueryResults(readable, deps.rng), Limit).map(healthEntryJson);
    return jsonResponse(JSON.stringify({ Nodes: nodes, Index: Math.max(1, found.instances.index) }), 200);
  });
}
