import { requestSlot } from './request-slot.js';

/**
 * The route table: for every route of the HTTP API, who answers it in a cluster, how an edge
 * agent answers it, and which ACL resource it needs. Written once here; forwarding to the leader
 * (server/cluster/forwarder.ts), the edge agent (edge/api.ts) and the ACL guards (guards.ts) read
 * it, and a route can only be registered when it is listed (registry.ts).
 */

/** HTTP methods routes are registered for. */
export type RouteMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

/**
 * The ACL resource a route needs. `guard` checks are made before the handler from the table
 * alone (operator: read for GET, write otherwise; agent: on this node). Otherwise the handler
 * checks the named resource (a key, a service…) from what the request names, or filters what it
 * answers; `none`: no permission applies (status, login with a JWT, server-to-server calls).
 */
export type RouteAcl =
  | { readonly resource: 'operator' | 'acl' | 'agent'; readonly guard: 'read' | 'write' | 'by-method' }
  | {
      readonly resource: 'key' | 'service' | 'node' | 'session' | 'event' | 'query' | 'acl';
      readonly guard?: undefined;
    }
  | { readonly resource: 'none'; readonly guard?: undefined };

/**
 * How an edge agent answers a route: from its replica ('replica'; 'key-in-scope' and
 * 'service-in-scope' only when the key or the service is replicated, else as 'upstream'), or by
 * forwarding it to the servers ('upstream'; a write that is `queueable` waits in the outbox while
 * the servers are unreachable).
 */
export type EdgeAnswer = 'replica' | 'key-in-scope' | 'service-in-scope' | 'upstream';

/** What the table says about one route. */
export interface RouteFacts {
  readonly method: RouteMethod;
  /** Hono path pattern (`:param` for one segment, a trailing `*` for the rest). */
  readonly path: string;
  /**
   * 'leader': a follower forwards a write to the leader; a read (unless `leaderState`) it answers
   * itself, after a ReadIndex round with the leader unless `?stale` or `?consistent` (whose handler
   * does that round). 'local': the server that receives it answers (its writes reach the leader
   * through the committer).
   */
  readonly answeredBy: 'leader' | 'local';
  readonly edge: EdgeAnswer;
  /** An edge agent may queue this write in its outbox while offline (KV writes and transactions). */
  readonly queueable: boolean;
  readonly acl: RouteAcl;
  /** The route moves leadership on purpose: a forwarded request waits for the old leader's answer. */
  readonly movesLeader: boolean;
  /**
   * A read of state only the leader keeps (not replicated): a follower forwards it. Other reads
   * of 'leader' routes are answered by a follower once it has the leader's read point (ReadIndex).
   */
  readonly leaderState: boolean;
  /**
   * A write of a 'leader' route that a follower runs itself, sending only its command to the
   * leader (the committer, over the raft transport) instead of forwarding the request: its
   * handler reads no replicated state but the ACLs, and answers from the command's result. With
   * ACLs on, the follower first makes a ReadIndex round, so the token is checked against state
   * as new as the leader's when the request arrived. (A KV acquire, `?acquire=`, is forwarded to
   * the leader all the same: lock delays are checked by the leader's own count.)
   */
  readonly proposedHere: boolean;
}

type Options = Partial<Pick<RouteFacts, 'edge' | 'queueable' | 'movesLeader' | 'leaderState' | 'proposedHere'>>;

const leader = (method: RouteMethod, path: string, acl: RouteAcl, o: Options = {}): RouteFacts => ({
  method,
  path,
  answeredBy: 'leader',
  edge: o.edge ?? 'upstream',
  queueable: o.queueable ?? false,
  acl,
  movesLeader: o.movesLeader ?? false,
  leaderState: o.leaderState ?? false,
  proposedHere: o.proposedHere ?? false,
});
const local = (method: RouteMethod, path: string, acl: RouteAcl, o: Options = {}): RouteFacts => ({
  ...leader(method, path, acl, o),
  answeredBy: 'local',
});

const NONE: RouteAcl = { resource: 'none' };
const KEY: RouteAcl = { resource: 'key' };
const SERVICE: RouteAcl = { resource: 'service' };
const NODE: RouteAcl = { resource: 'node' };
const SESSION: RouteAcl = { resource: 'session' };
const EVENT: RouteAcl = { resource: 'event' };
const QUERY: RouteAcl = { resource: 'query' };
const ACL: RouteAcl = { resource: 'acl' };
const OPERATOR: RouteAcl = { resource: 'operator', guard: 'by-method' };
const AGENT_READ: RouteAcl = { resource: 'agent', guard: 'read' };
const AGENT_WRITE: RouteAcl = { resource: 'agent', guard: 'write' };
/** Snapshots hold everything, tokens included: Consul asks for a management token (acl:write). */
const SNAPSHOT: RouteAcl = { resource: 'acl', guard: 'write' };

/** ACL objects with the same five routes: create, read, update, delete, read by name (policies, roles). */
function aclObjects(path: string, plural: string): RouteFacts[] {
  return [
    local('PUT', `/v1/acl/${path}`, ACL),
    local('GET', `/v1/acl/${path}/:id`, ACL),
    local('PUT', `/v1/acl/${path}/:id`, ACL),
    local('DELETE', `/v1/acl/${path}/:id`, ACL),
    local('GET', `/v1/acl/${path}/name/:name`, ACL),
    local('GET', `/v1/acl/${plural}`, ACL),
  ];
}

/** Every route of the API, in no particular order (each method and pattern at most once). */
export const ROUTES: readonly RouteFacts[] = [
  // KV and transactions: the leader answers; an edge agent serves replicated keys and queues writes.
  leader('GET', '/v1/kv/*', KEY, { edge: 'key-in-scope' }),
  leader('PUT', '/v1/kv/*', KEY, { queueable: true, proposedHere: true }),
  leader('DELETE', '/v1/kv/*', KEY, { queueable: true, proposedHere: true }),
  leader('PUT', '/v1/txn', KEY, { queueable: true }),
  leader('GET', '/v1/snapshot', SNAPSHOT),
  leader('PUT', '/v1/snapshot', SNAPSHOT),
  // Status: every server answers from what it knows.
  local('GET', '/v1/status/leader', NONE, { edge: 'replica' }),
  local('GET', '/v1/status/peers', NONE, { edge: 'replica' }),
  // Catalog and health: the leader answers; an edge agent serves its replicated services.
  leader('PUT', '/v1/catalog/register', NODE),
  leader('PUT', '/v1/catalog/deregister', NODE),
  leader('GET', '/v1/catalog/datacenters', NONE, { edge: 'replica' }),
  leader('GET', '/v1/catalog/nodes', NODE, { edge: 'replica' }),
  leader('GET', '/v1/catalog/services', SERVICE, { edge: 'replica' }),
  leader('GET', '/v1/catalog/service/:name', SERVICE, { edge: 'service-in-scope' }),
  leader('GET', '/v1/catalog/node/:node', NODE, { edge: 'replica' }),
  leader('GET', '/v1/catalog/node-services/:node', NODE, { edge: 'replica' }),
  leader('GET', '/v1/health/service/:name', SERVICE, { edge: 'service-in-scope' }),
  leader('GET', '/v1/health/checks/:service', SERVICE, { edge: 'service-in-scope' }),
  leader('GET', '/v1/health/node/:node', NODE, { edge: 'replica' }),
  leader('GET', '/v1/health/state/:state', NODE, { edge: 'replica' }),
  local('GET', '/v1/prometheus/sd', SERVICE),
  // Sessions: the leader answers (its TTL clock decides expiry).
  leader('PUT', '/v1/session/create', SESSION),
  leader('PUT', '/v1/session/destroy/:id', SESSION),
  leader('PUT', '/v1/session/renew/:id', SESSION),
  leader('GET', '/v1/session/info/:id', SESSION),
  leader('GET', '/v1/session/node/:node', SESSION),
  leader('GET', '/v1/session/list', SESSION),
  // Prepared queries: the leader answers, as for the catalog they read (execute filters by the
  // instances' service and node, the others check `query` rules on the query's name).
  leader('POST', '/v1/query', QUERY),
  leader('GET', '/v1/query', QUERY),
  leader('GET', '/v1/query/:id', QUERY),
  leader('PUT', '/v1/query/:id', QUERY),
  leader('DELETE', '/v1/query/:id', QUERY),
  leader('GET', '/v1/query/:id/execute', QUERY),
  leader('GET', '/v1/query/:id/explain', QUERY),
  // Events and watch streams: answered where they arrive.
  local('PUT', '/v1/event/fire/:name', EVENT),
  local('GET', '/v1/event/list', EVENT),
  local('GET', '/v1/watch/kv/*', KEY),
  local('GET', '/v1/watch/health/:service', SERVICE),
  local('GET', '/v1/watch/events', EVENT),
  local('GET', '/v1/edge/sync', KEY),
  local('GET', '/v1/edge/acl', ACL),
  local('PUT', '/v1/edge/grant', NODE),
  local('GET', '/v1/watch/edge/agents', NODE),
  // The fleet: announcements are taken where they arrive (batched into the replicated table).
  local('PUT', '/v1/edge/agents/:id', NODE),
  leader('GET', '/v1/edge/agents', NODE),
  leader('GET', '/v1/edge/agents/:id', NODE),
  leader('DELETE', '/v1/edge/agents/:id', NODE),
  // The agent: this server's own services, checks and membership. Service and check IDs may
  // hold "/" (Patroni's "pg/pg1"), so the routes that end in one take the rest of the path.
  local('GET', '/v1/agent/self', AGENT_READ),
  local('GET', '/v1/agent/metrics', AGENT_READ),
  local('GET', '/v1/agent/monitor', AGENT_READ),
  local('GET', '/v1/agent/log-level', AGENT_READ),
  local('PUT', '/v1/agent/log-level', AGENT_WRITE),
  local('PUT', '/v1/agent/join/:addr', AGENT_WRITE),
  local('PUT', '/v1/agent/leave', AGENT_WRITE),
  local('GET', '/v1/agent/members', NODE),
  local('PUT', '/v1/agent/service/register', SERVICE),
  local('PUT', '/v1/agent/service/deregister/*', SERVICE),
  local('PUT', '/v1/agent/service/maintenance/*', SERVICE),
  local('PUT', '/v1/agent/maintenance', NODE),
  local('GET', '/v1/agent/services', SERVICE),
  local('GET', '/v1/agent/service/*', SERVICE),
  local('PUT', '/v1/agent/check/register', SERVICE),
  local('PUT', '/v1/agent/check/deregister/*', SERVICE),
  local('PUT', '/v1/agent/check/pass/*', SERVICE),
  local('PUT', '/v1/agent/check/warn/*', SERVICE),
  local('PUT', '/v1/agent/check/fail/*', SERVICE),
  local('PUT', '/v1/agent/check/update/*', SERVICE),
  local('GET', '/v1/agent/checks', SERVICE),
  local('GET', '/v1/agent/health/service/id/*', SERVICE),
  local('GET', '/v1/agent/health/service/name/:name', SERVICE),
  // Operator: the leader answers (transfers move it, so a forwarded one waits for its answer).
  leader('GET', '/v1/operator/raft/configuration', OPERATOR),
  leader('DELETE', '/v1/operator/raft/peer', OPERATOR),
  leader('POST', '/v1/operator/raft/transfer-leader', OPERATOR, { movesLeader: true }),
  leader('PUT', '/v1/operator/raft/transfer-leader', OPERATOR, { movesLeader: true }),
  leader('GET', '/v1/operator/autopilot/configuration', OPERATOR),
  leader('PUT', '/v1/operator/autopilot/configuration', OPERATOR),
  // Server health is tracked by the leader alone.
  leader('GET', '/v1/operator/autopilot/health', OPERATOR, { leaderState: true }),
  leader('GET', '/v1/operator/autopilot/state', OPERATOR, { leaderState: true }),
  leader('GET', '/v1/operator/insights', OPERATOR, { leaderState: true }),
  // What the receiving server itself saw of leader changes (a Konsul extension): never forwarded.
  local('GET', '/v1/operator/raft/leader-history', OPERATOR),
  // Chaos experiments (a Konsul extension, refused unless --enable-chaos): each server runs its
  // own, so the server that receives the request answers (or relays it to the server it names).
  local('PUT', '/v1/operator/chaos', OPERATOR),
  local('GET', '/v1/operator/chaos', OPERATOR),
  local('DELETE', '/v1/operator/chaos/:id', OPERATOR),
  // Encrypted values (a Konsul extension, docs/SECRETS.md): each server lists, installs and removes
  // the keys of its own key file; choosing the primary is replicated (the leader proposes it), and
  // the re-encryption job runs on the leader, which alone knows its progress.
  local('GET', '/v1/operator/secrets/keyring', OPERATOR),
  local('POST', '/v1/operator/secrets/keyring', OPERATOR),
  leader('PUT', '/v1/operator/secrets/keyring', OPERATOR),
  local('DELETE', '/v1/operator/secrets/keyring', OPERATOR),
  leader('GET', '/v1/operator/secrets/rotation', OPERATOR, { leaderState: true }),
  leader('PUT', '/v1/operator/secrets/rotation', OPERATOR),
  // ACLs: answered where they arrive; writes reach the leader through the committer.
  local('PUT', '/v1/acl/bootstrap', ACL),
  ...aclObjects('policy', 'policies'),
  ...aclObjects('role', 'roles'),
  local('PUT', '/v1/acl/auth-method', ACL),
  local('GET', '/v1/acl/auth-method/:name', ACL),
  local('PUT', '/v1/acl/auth-method/:name', ACL),
  local('DELETE', '/v1/acl/auth-method/:name', ACL),
  local('GET', '/v1/acl/auth-methods', ACL),
  local('PUT', '/v1/acl/binding-rule', ACL),
  local('GET', '/v1/acl/binding-rule/:id', ACL),
  local('PUT', '/v1/acl/binding-rule/:id', ACL),
  local('DELETE', '/v1/acl/binding-rule/:id', ACL),
  local('GET', '/v1/acl/binding-rules', ACL),
  local('PUT', '/v1/acl/token', ACL),
  local('GET', '/v1/acl/token/self', NONE),
  local('GET', '/v1/acl/token/:id', ACL),
  local('PUT', '/v1/acl/token/:id', ACL),
  local('DELETE', '/v1/acl/token/:id', ACL),
  local('GET', '/v1/acl/tokens', ACL),
  local('POST', '/v1/acl/login', NONE),
  local('PUT', '/v1/acl/login', NONE),
  local('POST', '/v1/acl/logout', NONE),
  local('PUT', '/v1/acl/logout', NONE),
  // What the caller's token may do (Consul's internal endpoint its Web UI asks): any token may ask.
  local('POST', '/v1/internal/acl/authorize', NONE),
  // Between servers (the join token, not ACLs, guards the first; the second exists only in tests).
  local('POST', '/v1/internal/propose', NONE),
  local('POST', '/v1/internal/wan/ping', NONE),
  local('GET', '/v1/internal/dns', NONE),
  local('POST', '/v1/internal/query/execute', NONE),
  local('GET', '/v1/internal/acl/replicate', NONE),
  // The leader replicates: its status is the one to show.
  leader('GET', '/v1/acl/replication', NONE, { leaderState: true }),
  // What each server alone sees, gathered by the leader's /v1/operator/insights (operator:read).
  local('GET', '/v1/internal/insights', OPERATOR),
  local('PUT', '/v1/internal/faults', NONE),
];

/** A route found for a request, with the raw (still percent-encoded) values of its path parameters. */
export interface RouteMatch {
  readonly facts: RouteFacts;
  readonly params: Readonly<Record<string, string>>;
}

interface Compiled {
  readonly facts: RouteFacts;
  readonly regex: RegExp;
  readonly names: readonly string[];
  /** Length of the pattern before its first parameter (the whole pattern when it has none). */
  readonly literal: number;
}

/** A pattern as a regex over the raw (still percent-encoded) path: `:p` one segment, `*` the rest. */
function compile(facts: RouteFacts): Compiled {
  const names: string[] = [];
  const source = facts.path
    .split('/')
    .map((seg) => {
      if (seg === '*') {
        names.push('*');
        return '(.*)';
      }
      if (seg.startsWith(':')) {
        names.push(seg.slice(1));
        return '([^/]+)';
      }
      return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  const param = facts.path.search(/[:*]/);
  return { facts, regex: new RegExp(`^${source}$`), names, literal: param < 0 ? facts.path.length : param };
}

/** The first two segments of a path ("/v1/kv" of "/v1/kv/a/b"), the key routes are grouped by. */
function prefixOf(path: string): string {
  const third = path.indexOf('/', path.indexOf('/', 1) + 1);
  return third < 0 ? path : path.slice(0, third);
}

/** Routes by their first two path segments, each list most specific first. */
const byPrefix = new Map<string, Compiled[]>();
for (const facts of ROUTES) {
  const key = prefixOf(facts.path);
  const list = byPrefix.get(key) ?? [];
  list.push(compile(facts));
  byPrefix.set(key, list);
}
// Literal segments win over parameters (as in Hono): /v1/acl/token/self before /v1/acl/token/:id.
// The pattern with the longest literal part wins whatever the method, as in Go's ServeMux (Consul's
// router): /v1/acl/token/self before /v1/acl/token/:id, /v1/agent/service/deregister/* before
// /v1/agent/service/*.
for (const list of byPrefix.values()) list.sort((a, b) => b.literal - a.literal || a.names.length - b.names.length);

/**
 * The route `method` and `pathname` (as received, percent-encoded) reach, or undefined when the
 * API has none (the request then gets a 404 wherever it arrives) or the most specific pattern
 * that takes the path is served for other methods only (405; see methodsAt). HEAD is looked up
 * as GET. Path parameters are returned as they appear in the path (decoding, and refusing what
 * does not decode, is the handler's business).
 */
export function findRoute(method: string, pathname: string): RouteMatch | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  const list = byPrefix.get(prefixOf(pathname));
  if (!list) return undefined;
  let best = -1;
  for (const c of list) {
    if (best >= 0 && c.literal < best) break;
    // Only the longest literal part may answer: a pattern of another method still sets it.
    if (best >= 0 && c.facts.method !== m) continue;
    const hit = c.regex.exec(pathname);
    if (!hit) continue;
    if (c.facts.method === m) return new Match(c, hit);
    best = c.literal;
  }
  return undefined;
}

/**
 * The methods the API serves at `pathname` (percent-encoded, as received): those of the most
 * specific patterns that take it (as findRoute chooses). Empty when no pattern takes the path. A
 * request whose method is not among them gets 405.
 */
export function methodsAt(pathname: string): RouteMethod[] {
  const methods = new Set<RouteMethod>();
  let best = -1;
  for (const c of byPrefix.get(prefixOf(pathname)) ?? []) {
    if (best >= 0 && c.literal < best) break;
    if (!c.regex.test(pathname)) continue;
    best = c.literal;
    methods.add(c.facts.method);
  }
  return [...methods];
}

/** A match whose parameters are built only when asked for (forwarding and guards need only the facts). */
class Match implements RouteMatch {
  private built: Record<string, string> | undefined;
  constructor(
    private readonly route: Compiled,
    private readonly hit: RegExpExecArray,
  ) {}

  get facts(): RouteFacts {
    return this.route.facts;
  }

  get params(): Readonly<Record<string, string>> {
    if (!this.built) {
      const params: Record<string, string> = {};
      for (let i = 0; i < this.route.names.length; i++)
        params[this.route.names[i] as string] = this.hit[i + 1] as string;
      this.built = params;
    }
    return this.built;
  }
}

const matched = requestSlot<RouteMatch | null>('konsul.route');

/** The path of an absolute URL, as sent (without query or fragment); cheaper than new URL(). */
function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0) return '/';
  let end = url.length;
  const query = url.indexOf('?', start);
  if (query >= 0) end = query;
  const fragment = url.indexOf('#', start);
  if (fragment >= 0 && fragment < end) end = fragment;
  return url.slice(start, end);
}

/** findRoute for a request, looked up once per request (forwarding, guards and the edge agent all ask). */
export function routeOf(req: Request): RouteMatch | undefined {
  let m = matched.get(req);
  if (m === undefined) {
    m = findRoute(req.method, pathOf(req.url)) ?? null;
    matched.set(req, m);
  }
  return m ?? undefined;
}
