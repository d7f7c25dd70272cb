import type { FederationPort } from './federation.js';
import type { FleetReporter } from '../fleet/reporter.js';
import type { TokenWatch } from '../acl/token-watch.js';
import type { AclResolver } from '../acl/resolve.js';
import type { LeaderChange } from '../cluster/leader-history.js';
import type { RouteFacts } from './route-table.js';
import type { RateLimitSettings } from './rate-limit.js';
import type { AuditSink } from './audit-sink.js';
import type { BodyReader } from './body.js';
import type { LocalAgent } from '../agent/agent.js';
import type { Clock } from '../ports/clock.js';
import type { HotPaths } from '../ports/hot-paths.js';
import type { Logger } from '../ports/logger.js';
import type { Rng } from '../ports/rng.js';
import type { StateStore } from '../ports/state-store.js';
import type { Writer } from '../pipeline/writer.js';
import type { SessionRecord } from '../session/types.js';
import type { OpenSyncStreams } from '../sync/open-streams.js';
import type { ChangeFeed } from '../watch/change-feed.js';
import type { WatchRegistry } from '../watch/watch-registry.js';
import type { Metrics } from '../ports/metrics.js';
import type { Tracer } from '../ports/tracing.js';
import type { Secrets } from '../sealing/secrets.js';
import type { SecretsAdminPort } from '../sealing/admin.js';

/** Identity of the node serving the API. */
export interface NodeInfo {
  readonly name: string;
  /** UUID of the node, stable across restarts. */
  readonly id: string;
  readonly datacenter: string;
  readonly version: string;
  /** Address other servers use for consensus traffic ("host:port"). */
  readonly raftAddr: string;
  /** Address of the HTTP API ("host:port"). */
  readonly httpAddr: string;
}

/** What a forwarded request carries instead of the received one's: extra headers, query, body. */
export interface LocalizedRequest {
  /** Headers to set on the forwarded request (replacing any the client sent under those names). */
  readonly headers: Readonly<Record<string, string>>;
  /** The query string to forward ("" or starting with "?"). */
  readonly search: string;
  /** The body to forward, when resolving defaults had to read (and rewrite) it; else the received one. */
  readonly body?: Uint8Array;
}

/** The node's view of cluster leadership, for status endpoints and response headers. */
export interface ClusterView {
  /** Raft address of the current leader, or undefined when none is known. */
  leader(): string | undefined;
  /** Raft addresses of the voting servers. */
  peers(): string[];
  /** Milliseconds since this node last heard from the leader (0 on the leader itself). */
  lastContactMs(): number;
  /** The current Raft term (servers; absent on an edge agent's replica). */
  term?(): number;
  /**
   * Called for requests to the leader's routes (`route`, answeredBy 'leader'): when this node
   * must not answer `req` itself (it is not the leader, and the request is a write or a non-stale
   * read), forwards it to the leader and returns the leader's answer, or a 500 "No cluster
   * leader" after a bounded wait. Undefined (or absent) means: answer locally. `localize`, when
   * given, is called once the request is to be forwarded, and what it returns (headers, query,
   * body resolved on this server) replaces what the client sent.
   */
  forward(
    req: Request,
    route: RouteFacts,
    localize?: (req: Request) => Promise<LocalizedRequest>,
  ): Promise<Response | undefined>;
  /** Resolves once a linearizable read may be served here (ReadIndex); rejects with NoLeaderError. */
  barrier(): Promise<void>;
  /** True on an edge replica: every local read is stale, whatever consistency was asked for. */
  readonly replica: boolean;
}

/** A server in the Raft configuration, in Consul's shape. */
export interface RaftServerInfo {
  readonly ID: string;
  readonly Node: string;
  readonly Address: string;
  readonly Leader: boolean;
  readonly ProtocolVersion: string;
  readonly Voter: boolean;
}

/** A cluster member as /v1/agent/members shows it (Status: 1 alive, 3 left, 4 failed). */
export interface MemberInfo {
  readonly Name: string;
  readonly Addr: string;
  readonly Port: number;
  readonly Tags: Readonly<Record<string, string>>;
  readonly Status: number;
}

/** One server's health as autopilot sees it, in Consul's shape. */
export interface ServerHealthInfo {
  readonly ID: string;
  readonly Name: string;
  readonly Address: string;
  readonly SerfStatus: string;
  readonly Version: string;
  readonly Leader: boolean;
  readonly LastContact: string;
  readonly LastTerm: number;
  readonly LastIndex: number;
  readonly Healthy: boolean;
  readonly Voter: boolean;
  readonly StableSince: string;
}

/** Cluster operations behind /v1/agent/join, leave, members and /v1/operator/raft|autopilot. */
export interface OperatorPort {
  /** Joins the cluster that the server at raft address `addr` belongs to. */
  join(addr: string): Promise<void>;
  /** Leaves the cluster gracefully; the server stops afterwards. */
  leave(): Promise<void>;
  members(): MemberInfo[];
  raftConfiguration(): { Servers: RaftServerInfo[]; Index: number };
  /**
   * Removes a server from the Raft configuration, by node name or raft address. Leader only.
   * RefusedError (500, Consul's `id "…" was not found in the Raft configuration`) for no such server.
   */
  removePeer(by: { id?: string; address?: string }): Promise<void>;
  /** Hands leadership to `id` (any voter when absent). Leader only. RefusedError when there is no such voter. */
  transferLeader(id?: string): Promise<void>;
  autopilotHealth(): { Healthy: boolean; FailureTolerance: number; Servers: ServerHealthInfo[] };
  /**
   * The leader changes this server observed, oldest first (bounded; see LeaderHistory): its own
   * view, whichever server asks. Empty before it saw a leader.
   */
  leaderHistory(): LeaderChange[];
}

/** Bounds and defaults of the HTTP API; all positive integers. */
export interface ApiLimits {
  /** Largest KV value in bytes (Consul's kv_max_value_size; default 512 KiB). */
  readonly kvMaxValueBytes: number;
  /** Blocking query wait when the client gives none (ms; Consul: 5 minutes). */
  readonly blockingDefaultWaitMs: number;
  /** Longest blocking query wait (ms; Consul: 10 minutes). */
  readonly blockingMaxWaitMs: number;
  /** Most operations in one /v1/txn request (Consul: 128). */
  readonly txnMaxOps: number;
  /** Largest /v1/txn body in bytes (Consul's txn_max_req_len: 512 KiB). */
  readonly txnMaxBytes: number;
  /** Interval of keep-alive comments on watch streams (ms). */
  readonly watchKeepAliveMs: number;
  /** Shortest session TTL accepted (ms; Consul's session_ttl_min: 10 s). */
  readonly sessionTtlMinMs: number;
  /** Most prepared queries that may exist (creating one more is refused). */
  readonly preparedQueryMax: number;
}

/** Consul's defaults. */
export const DEFAULT_API_LIMITS: ApiLimits = {
  kvMaxValueBytes: 512 * 1024,
  blockingDefaultWaitMs: 5 * 60_000,
  blockingMaxWaitMs: 10 * 60_000,
  txnMaxOps: 128,
  txnMaxBytes: 512 * 1024,
  watchKeepAliveMs: 15_000,
  sessionTtlMinMs: 10_000,
  preparedQueryMax: 10_000,
};

/** The leader's session TTL clock as the API sees it (renewals push a session's deadline back). */
export interface SessionTimersPort {
  renewed(session: SessionRecord): void;
}

/**
 * What every route family needs, injected by a composition root: servers and edge agents alike
 * (an edge agent serves the KV, catalog, health and status routes from its replica).
 */
export interface ApiDeps {
  readonly node: NodeInfo;
  readonly store: StateStore;
  /** Where writes go: the Raft pipeline on a server. */
  readonly writer: Writer;
  /** Follows the tokens of long-lived requests as ACL data changes (absent: they keep their start-time permissions). */
  readonly tokenWatch?: TokenWatch;
  readonly watches: WatchRegistry;
  readonly cluster: ClusterView;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly logger: Logger;
  readonly limits: ApiLimits;
  /** CRC32C and the other hot paths (snapshot archives are checksummed with them). */
  readonly hotPaths: HotPaths;
  /** ACL settings and token resolution (settings.enabled false: everyone may do everything). */
  readonly acl: AclResolver;
  /** The runtime's direct request-body reader (WEB_STREAM_BODIES: read bodies as Web streams). */
  readonly bodyReader: BodyReader;
  /** Aborted when the node begins shutting down; blocking queries and streams then return at once. */
  readonly shutdownSignal: AbortSignal;
  /**
   * Aborts when the client of `req` goes away, if the listener can tell more cheaply than
   * `req.signal` (which makes a Node server build a full Request: about 4 KiB per waiting query).
   * Undefined, or undefined for a request: blocking queries use `req.signal`.
   */
  readonly clientGone?: (req: Request) => AbortSignal | undefined;
  /**
   * Adds header `name: value` to the answer of `req` on the listener's side (whatever Response
   * the handlers make), and returns true; false or absent when the listener cannot, and the
   * caller sets it on the Response instead (which makes a Node server copy every header once more).
   */
  readonly responseHeader?: (req: Request, name: string, value: string) => boolean;
  /** Where the API's metrics go (konsul_http_*; see docs/OBSERVABILITY.md); none when absent. */
  readonly metrics?: Metrics;
  /**
   * Access lines: `sample` (0..1) of requests are logged through `logger` with their request id,
   * method, route template, status, duration, bytes and accessor; none when absent.
   */
  readonly accessLog?: { readonly sample: number; readonly logger: Logger };
  /** The body size of an answer when the runtime knows it without reading it (access lines). */
  readonly responseBytes?: (res: Response) => number | undefined;
  /** Opens a span per request (continuing the client's `traceparent`); none when absent. */
  readonly tracer?: Tracer;
  /** Told the status of every answer (the insights' error rate). */
  readonly answered?: (status: number) => void;
  /**
   * Lock delays as this node saw them begin (LocalLockDelays): a KV acquire or a transaction's
   * lock within one is refused without a proposal. Absent: only the state machine's check holds.
   */
  readonly lockDelays?: { inDelay(key: string): boolean };
  /** The other datacenters this server is federated with (absent: none; `?dc=` of another answers 500). */
  readonly federation?: FederationPort;
  /**
   * Encrypted values (docs/SECRETS.md): read answers open sealed values through it just before
   * answering (503 when this node lacks the key). Absent: values are answered as stored.
   */
  readonly secrets?: Secrets;
}

/** What a server's API needs beyond ApiDeps: the agent, cluster operations, sessions, streams and limits. */
export interface ServerApiDeps extends ApiDeps {
  /** Cluster operations behind /v1/agent/join, leave, members and /v1/operator. */
  readonly operator: OperatorPort;
  /** The local agent: services and checks of this node. */
  readonly agent: LocalAgent;
  /** Session TTL deadlines (the leader's): renewals push a session's deadline back. */
  readonly sessionTimers: SessionTimersPort;
  /** Recent changes for watch streams and edge sync. */
  readonly changeFeed: ChangeFeed;
  /** Where edge sync streams of agents that name themselves are tracked (for insights); none when absent. */
  readonly syncStreams?: OpenSyncStreams;
  /** Where agents' and devices' reports go on their way to the fleet table; absent: announcements are refused. */
  readonly fleet?: FleetReporter;
  /** Per-address and per-token request rates (NO_RATE_LIMITS: none). */
  readonly rateLimit: RateLimitSettings;
  /** The address a request came from (the socket's peer), when the listener knows it. */
  readonly clientAddress: (req: Request) => string | undefined;
  /** Where audit records go (NO_AUDIT: none are kept). */
  readonly audit: AuditSink;
  /**
   * The datacenter holding the ACL data (absent, or this one: ACL writes are made here). In another
   * datacenter, ACL writes — but those of Local tokens — are sent there, and come back by replication.
   */
  readonly aclPrimaryDatacenter?: string;
  /** Lifetime of the edge write grants this server signs (ms; absent: DEFAULT_GRANT_TTL_MS, 24 h). */
  readonly edgeGrantTtlMs?: number;
  /** The keyring and re-encryption administration (--encrypt-key-file); absent: its routes answer 400. */
  readonly secretsAdmin?: SecretsAdminPort;
}
