import { Hono } from 'hono';
import type { ApiDeps } from '../core/api/context.js';
import { errorAnswer } from '../core/api/http-errors.js';
import type { MetricsPort } from '../core/api/internal-ports.js';
import { registerAgentMetricsRoute } from '../core/api/routes/agent-metrics.js';
import { registerCatalogRoutes } from '../core/api/routes/catalog.js';
import { registerHealthRoutes } from '../core/api/routes/health.js';
import { registerKvRoutes } from '../core/api/routes/kv.js';
import { registerStatusRoutes } from '../core/api/routes/status.js';
import { readBody } from '../core/api/body.js';
import { jsonResponse } from '../core/api/respond.js';
import { routeOf } from '../core/api/route-table.js';
import { answerUnrouted, redirectUncleanPath } from '../core/api/paths.js';
import { registerUiRoutes } from '../core/api/ui-files.js';
import type { UiReader, UpstreamFetch } from '../core/ports/runtime.js';
import type { SyncScope } from '../core/sync/types.js';
import { type Outbox, type OutboxItem, translateWrite } from './outbox.js';
import type { EdgeAclFollower, EdgeAclMode } from './acl.js';
import type { GrantBook } from './grants.js';
import { requestSecret } from '../core/acl/resolve.js';
import { identityOf, requireAccess, txnAccessErrors } from '../core/api/authz.js';
import { parseTxn } from '../core/txn/input.js';

/** What the local API needs beyond the core read routes. */
export interface EdgeApiOptions {
  readonly deps: ApiDeps;
  readonly scope: SyncScope;
  /** The server in use (it may change: several upstreams). */
  readonly upstream: () => string;
  /** How forwarded requests reach the servers (the runtime's client, or the global fetch). */
  readonly fetch: UpstreamFetch;
  /** The agent's ACL state and its resolver over the replicated ACL data (deps.acl is the same resolver). */
  readonly acl: Pick<EdgeAclFollower, 'mode'>;
  /**
   * `--acl-enabled`: before the servers said whether ACLs are on, serve and queue nothing locally.
   * Without it such an agent acts as one with ACLs off (as a Consul agent configured without ACLs).
   */
  readonly aclRequired: boolean;
  /** The write grants held for writers (asked for as they write while online). */
  readonly grants: Pick<GrantBook, 'valid' | 'wants' | 'obtain'>;
  readonly outbox: Outbox;
  /** Whether the servers are believed reachable (the sync link is up and no write just failed). */
  readonly online: () => boolean;
  /** Told when a request to the upstream failed at the network level. */
  readonly upstreamFailed: () => void;
  /** Told the X-Consul-Index of every forwarded answer that has one. */
  readonly sawIndex: (index: number) => void;
  /** The agent's registry, served at GET /v1/agent/metrics. */
  readonly metrics: MetricsPort;
  /** Agent state for GET /v1/edge/status. */
  readonly status: () => Record<string, unknown>;
  /** Largest write body accepted (bytes). */
  readonly maxBodyBytes: number;
  /** The built Web UI's files, served at /ui/ by the agent itself (undefined: /ui/ says it is not built). */
  readonly ui?: UiReader | undefined;
}

const PASS_HEADERS = ['content-type', 'x-consul-token', 'authorization', 'last-event-id'];
const RETURN_HEADERS = [
  'content-type',
  'x-consul-index',
  'x-consul-knownleader',
  'x-consul-lastcontact',
  'x-consul-effective-consistency',
  'retry-after',
  'allow',
];

/** Public view of an outbox item. */
/** An outbox item as `GET /v1/edge/outbox[/<id>]` answers it (times in RFC 3339). */
export interface OutboxItemJson {
  readonly ID: string;
  readonly Method: string;
  readonly Path: string;
  readonly Status: string;
  readonly CreatedAt: string;
  readonly Attempts: number;
  /** AccessorID of the token that wrote it (with ACLs on). */
  readonly Writer?: string;
  readonly FinishedAt?: string;
  readonly Result?: { StatusCode: number; Body: string; Index?: number; Replayed?: true };
}

function itemJson(i: OutboxItem): OutboxItemJson {
  return {
    ID: i.id,
    Method: i.method,
    Path: i.path,
    Status: i.status,
    CreatedAt: new Date(i.createdAt).toISOString(),
    Attempts: i.attempts,
    ...(i.writer ? { Writer: i.writer.accessor } : {}),
    ...(i.finishedAt !== undefined ? { FinishedAt: new Date(i.finishedAt).toISOString() } : {}),
    ...(i.result
      ? {
          Result: {
            StatusCode: i.result.status,
            Body: i.result.body,
            ...(i.result.index !== undefined ? { Index: i.result.index } : {}),
            ...(i.result.replayed ? { Replayed: true } : {}),
          },
        }
      : {}),
  };
}

/** Why the agent cannot do `what` itself: it cannot check tokens (503 text). */
function cannotCheckTokens(mode: EdgeAclMode, what: string): string {
  return mode === 'unreadable'
    ? `ACLs are on and this agent's token lacks acl:read, so it cannot check tokens to ${what} while the ` +
        'servers are unreachable\n'
    : `this agent has not yet learned from the servers whether ACLs are on, so it cannot ${what} while they ` +
        'are unreachable\n';
}

/**
 * Whether a read is answered from the replica: the route table says so (edge 'replica'), or the
 * key or service the read names is replicated. A name that does not decode is answered here (the
 * route refuses it with 400).
 */
function servedLocally(req: Request, scope: SyncScope): boolean {
  const match = routeOf(req);
  const inScope = (raw: string | undefined, test: (name: string) => boolean): boolean => {
    try {
      return test(decodeURIComponent(raw ?? ''));
    } catch {
      return true;
    }
  };
  switch (match?.facts.edge) {
    case 'replica':
      return true;
    case 'key-in-scope':
      return inScope(match.params['*'], (key) => scope.prefixes.some((prefix) => key.startsWith(prefix)));
    case 'service-in-scope':
      return inScope(match.params['name'] ?? match.params['service'], (name) => scope.services.includes(name));
    default:
      return false;
  }
}

/**
 * The edge agent's local HTTP API. Reads of replicated data (KV under the subscribed prefixes,
 * the subscribed services' catalog and health, with blocking queries) come from the replica, with
 * `X-Consul-KnownLeader: false` and a growing `X-Consul-LastContact` while the servers are out of
 * reach (`X-Consul-Effective-Consistency: stale`); `?consistent` reads go to the servers (503 while
 * offline). Writes go to the upstream while online (the client gets the server's answer); offline,
 * KV writes and transactions wait in the outbox (202 with its id) and other writes get 503.
 * Other reads are forwarded upstream while online. `/v1/edge/status` and `/v1/edge/outbox[/<id>]`
 * show the agent's state; `/v1/agent/metrics` the agent's own metrics. The Web UI is served at
 * /ui/ from the agent's own files (`ui`), / redirects there; its API calls come back to this agent.
 */
export function createEdgeApi(o: EdgeApiOptions): Hono {
  const app = new Hono();
  app.use('*', async (c, next) => redirectUncleanPath(c.req.raw) ?? (await next()));
  // Answered here, never forwarded: the UI is part of the agent (only /v1/* goes upstream).
  registerUiRoutes(app, o.ui);

  const proxy = async (req: Request, body: Uint8Array | undefined): Promise<Response> => {
    const url = new URL(req.url);
    const headers: Record<string, string> = {};
    for (const h of PASS_HEADERS) {
      const v = req.headers.get(h);
      if (v !== null) headers[h] = v;
    }
    const res = await o.fetch(`${o.upstream()}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      ...(body && body.byteLength > 0 ? { body: body as Uint8Array<ArrayBuffer> } : {}),
      signal: req.signal,
    });
    const index = res.headers.get('x-consul-index');
    if (index !== null) o.sawIndex(Number(index));
    const out = new Headers();
    for (const h of RETURN_HEADERS) {
      const v = res.headers.get(h);
      if (v !== null) out.set(h, v);
    }
    return new Response(res.body, { status: res.status, headers: out });
  };

  app.use('/v1/*', async (c, next) => {
    const req = c.req.raw;
    const url = new URL(req.url);
    if (url.pathname.startsWith('/v1/edge/') || url.pathname === '/v1/agent/metrics') return next();
    // Tokens are checked here only with the ACL data in hand (or ACLs known off); else the servers check.
    const mode = o.acl.mode;
    const checksHere = mode === 'on' || mode === 'off' || (mode === 'unknown' && !o.aclRequired);
    if (req.method === 'GET' || req.method === 'HEAD') {
      // A linearizable read needs the servers: forward it, or refuse it while offline.
      const consistent = url.searchParams.has('consistent');
      if (consistent && !o.online())
        return c.text(
          "the servers are unreachable and ?consistent reads need them (drop it to read this agent's replica)\n",
          503,
        );
      const local = servedLocally(req, o.scope) && !consistent;
      if (local && checksHere) return next();
      if (local && !o.online()) return c.text(cannotCheckTokens(mode, 'serve its replica'), 503);
      if (!o.online())
        return c.text(`the servers are unreachable and ${url.pathname} is not replicated on this agent\n`, 503);
      try {
        return await proxy(req, undefined);
      } catch {
        o.upstreamFailed();
        return c.text(
          `the servers did not answer ${url.pathname}${consistent ? '' : ', which is not replicated on this agent'}\n`,
          503,
        );
      }
    }
    const body = await readBody(req, o.maxBodyBytes);
    if (o.online()) {
      try {
        const res = await proxy(req, body);
        // A writer that wrote here while online may go on writing here offline: get it a grant.
        if (mode === 'on' && res.status < 300 && routeOf(req)?.facts.queueable) askGrant(req, url);
        return res;
      } catch {
        // The server may or may not have applied it: say so rather than guess (no queueing here).
        o.upstreamFailed();
        return c.text('the upstream did not answer; the write may or may not have been applied\n', 502);
      }
    }
    // The route table says which writes may wait in the outbox (KV writes and transactions).
    const w = routeOf(req)?.facts.queueable ? translateWrite(req.method, url, body) : undefined;
    if (!w)
      return c.text(
        `the servers are unreachable and ${req.method} ${url.pathname} cannot be queued ` +
          '(only KV writes and transactions are)\n',
        503,
      );
    if (!checksHere) return c.text(cannotCheckTokens(mode, 'queue writes'), 503);
    let writer: { accessor: string; grant: string } | undefined;
    if (mode === 'on') {
      // Checked now as the servers would (an unknown token is refused with 403 "ACL not found").
      const ops = parseTxn(
        w.txn,
        { maxOps: o.deps.limits.txnMaxOps, maxValueBytes: o.deps.limits.kvMaxValueBytes },
        o.deps.node.datacenter,
      );
      const denied = txnAccessErrors(o.deps, req, ops, () => undefined);
      if (denied.length > 0)
        return w.answer === 'bool'
          ? c.text(`${denied[0]?.What ?? 'Permission denied'}\n`, 403)
          : jsonResponse(JSON.stringify({ Results: null, Errors: denied }), 409);
      const accessor = identityOf(o.deps, req).token?.AccessorID ?? '';
      const held = o.grants.valid(accessor);
      if (!held)
        return c.text(
          `the servers are unreachable and this agent holds no valid write grant for the token with AccessorID ` +
            `'${accessor}': a writer must write through this agent while it is online first\n`,
          503,
        );
      writer = { accessor, grant: held.grant };
    }
    const item = await o.outbox.enqueue(req.method, `${url.pathname}${url.search}`, w, writer);
    return jsonResponse(JSON.stringify({ OutboxID: item.id, Status: item.status }), 202);
  });

  /** Asks for a grant for the writer of `req` (in the background) when it has none, or an old one. */
  const askGrant = (req: Request, url: URL): void => {
    const secret = requestSecret(req, url);
    let accessor: string | undefined;
    try {
      accessor = identityOf(o.deps, req).token?.AccessorID;
    } catch {
      // Not in the replicated data yet (a new token): the servers know it.
    }
    if (o.grants.wants(accessor)) void o.grants.obtain(secret ?? '', accessor ?? secret ?? '');
  };

  // The agent's own endpoints show its state: with ACLs on they need agent:read on this agent.
  app.use('/v1/edge/*', async (c, next) => {
    if (o.acl.mode === 'on') requireAccess(o.deps, c.req.raw, 'agent', o.deps.node.name, 'read');
    await next();
  });
  app.use('/v1/agent/metrics', async (c, next) => {
    if (o.acl.mode === 'on') requireAccess(o.deps, c.req.raw, 'agent', o.deps.node.name, 'read');
    await next();
  });

  registerKvRoutes(app, o.deps);
  registerCatalogRoutes(app, o.deps);
  registerHealthRoutes(app, o.deps);
  registerStatusRoutes(app, o.deps);
  registerAgentMetricsRoute(app, o.metrics);

  app.get('/v1/edge/status', (c) => c.json(o.status()));
  app.get('/v1/edge/outbox', (c) => {
    // Queued writes name keys: shown only when this agent can check who asks.
    if (o.acl.mode === 'unreadable' || (o.acl.mode === 'unknown' && o.aclRequired))
      return c.text(cannotCheckTokens(o.acl.mode, 'show its outbox'), 503);
    return c.json(o.outbox.list().map(itemJson));
  });
  app.get('/v1/edge/outbox/:id', (c) => {
    if (o.acl.mode === 'unreadable' || (o.acl.mode === 'unknown' && o.aclRequired))
      return c.text(cannotCheckTokens(o.acl.mode, 'show its outbox'), 503);
    const item = o.outbox.get(c.req.param('id'));
    return item ? c.json(itemJson(item)) : c.text(`outbox item ${JSON.stringify(c.req.param('id'))} not found\n`, 404);
  });

  app.notFound((c) => answerUnrouted(c.req.raw));
  app.onError((err, c) => {
    const answer = errorAnswer(err);
    if (answer.status >= 500)
      o.deps.logger.error('request failed', {
        method: c.req.method,
        path: new URL(c.req.url).pathname,
        error: err instanceof Error ? err.message : String(err),
      });
    return new Response(answer.body, {
      status: answer.status,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', ...answer.headers },
    });
  });
  return app;
}
