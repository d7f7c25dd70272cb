import type { Secrets } from '../core/sealing/secrets.js';
import type { SecretsAdminPort } from '../core/sealing/admin.js';
import type { TokenWatch } from '../core/acl/token-watch.js';
import type { FleetReporter } from '../core/fleet/reporter.js';
import type { Hono } from 'hono';
import { LocalLockDelays } from '../core/kv/lock-delays.js';
import type { AclResolver } from '../core/acl/resolve.js';
import type { LocalAgent } from '../core/agent/agent.js';
import { createApi } from '../core/api/app.js';
import { type AuditSink, NO_AUDIT } from '../core/api/audit-sink.js';
import { type BodyReader, bodyTooLarge } from '../core/api/body.js';
import { type ServerApiDeps, DEFAULT_API_LIMITS, type NodeInfo, type SessionTimersPort } from '../core/api/context.js';
import type { FaultsPort, MetricsPort } from '../core/api/internal-ports.js';
import { registerAgentMetricsRoute } from '../core/api/routes/agent-metrics.js';
import {
  registerFaultsRoute,
  registerInternalProposeRoute,
  registerAclReplicateRoute,
  registerAclReplicationStatusRoute,
  registerInternalDnsRoute,
  registerWanPingRoute,
} from '../core/api/routes/internal.js';
import type { WanPool } from './cluster/wan.js';
import type { AclReplicator } from './cluster/acl-replication.js';
import { aclReplicationData } from '../core/acl/replicate.js';
import { registerRemoteQueryRoute } from '../core/api/routes/prepared-query.js';
import type { DnsAnswer, DnsType } from '../core/dns/resolver.js';
import type { Clock } from '../core/ports/clock.js';
import type { Logger } from '../core/ports/logger.js';
import type { HttpClient } from '../runtimes/node/http-server.js';
import { systemRng } from '../runtimes/node/rng.js';
import type { Cluster } from './cluster/cluster.js';
import type { ServerConfig } from './config.js';
import type { ServerMetrics } from './metrics.js';
import type { ServerState } from './start-state.js';
import type { ForwardedAnswer, ForwardedRequest, RaftTransport } from './transport.js';
import type { RequestSlot } from '../core/api/request-slot.js';
import type { LogControl } from '../core/log/hub.js';
import { registerAgentLogRoutes } from '../core/api/routes/agent-logs.js';
import type { Tracer } from '../core/ports/tracing.js';
import type { Writer } from '../core/pipeline/writer.js';
import type { InsightAnalyser } from '../core/insights/analyser.js';
import { registerInsightsRoute } from '../core/api/routes/insights.js';
import { type InsightsFeed, insightsPort } from './insights.js';
import { registerUiRoutes } from '../core/api/ui-files.js';
import { uiDirReader } from './ui-files.js';
import type { OpenSyncStreams } from '../core/sync/open-streams.js';
import { type ChaosPort, registerChaosRoutes } from '../core/api/routes/chaos.js';

/** What the HTTP API is built from besides the configuration. */
export interface ApiParts {
  readonly node: NodeInfo;
  readonly state: ServerState;
  readonly cluster: Cluster;
  /** The other datacenters (WAN): where `?dc=` requests go, and who answers WAN pings. */
  readonly wan: WanPool;
  /** ACL replication from the primary datacenter (GET /v1/acl/replication shows it). */
  readonly aclReplicator: AclReplicator;
  /** Resolves a DNS question about this datacenter, for other datacenters' servers (GET /v1/internal/dns). */
  readonly dnsLookup: (qname: string, qtype: DnsType) => DnsAnswer;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly hotPaths: ServerApiDeps['hotPaths'];
  readonly agent: LocalAgent;
  readonly sessionTimers: SessionTimersPort;
  readonly shutdownSignal: AbortSignal;
  readonly aclResolver: AclResolver;
  /** The socket peer of each request in flight (set by the HTTP listener). */
  readonly clients: RequestSlot<HttpClient>;
  readonly bodyReader: BodyReader;
  readonly audit: AuditSink | undefined;
  readonly metrics: ServerMetrics;
  /** Opens the request spans (NO_TRACER: none). */
  readonly tracer: Tracer;
  /** The insights: their route, and the API's answers for their error rate. */
  readonly insights: {
    readonly analyser: InsightAnalyser;
    readonly feed: InsightsFeed;
    /** The edge sync streams of agents that name themselves (their lag feeds the analyser). */
    readonly syncStreams: OpenSyncStreams;
  };
  /** The process's log level and monitors (/v1/agent/monitor, /v1/agent/log-level); absent: those answer 404. */
  readonly logs?: LogControl;
  /** The raft transport, whose traffic --test-faults may block. */
  readonly transport: RaftTransport;
  /** The chaos experiments (--enable-chaos); absent, the chaos routes answer 403. */
  readonly chaos?: ChaosPort;
  /** Where agents' announcements go on their way to the fleet table. */
  readonly fleet: FleetReporter;
  /** Follows the tokens of long-lived requests (and MQTT sessions) as ACL data changes. */
  readonly tokenWatch: TokenWatch;
  /**
   * Encrypted values: what opens them for answers, the writer that seals them before proposing
   * (used instead of the cluster's), and the keyring administration (--encrypt-key-file only).
   */
  readonly secrets?: { readonly secrets: Secrets; readonly writer: Writer; readonly admin?: SecretsAdminPort };
}

/** The server's counters as the metrics route reads them. */
function metricsPort(metrics: ServerMetrics): MetricsPort {
  return {
    prometheus: async () => ({ body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }),
    json: () => metrics.json(),
  };
}

/** Test-only: drops raft traffic to and from the named servers (simulated partitions). */
function faultsPort(transport: RaftTransport, logger: Logger): FaultsPort {
  return {
    block: (peers) => {
      transport.blocked.clear();
      for (const b of peers) transport.blocked.add(b);
      logger.warn('fault injection: blocking raft traffic', { peers: peers.join(',') });
    },
  };
}

/**
 * Builds the HTTP API: Consul's /v1 routes over the server's state and cluster, plus the
 * server-only routes (internal proposals from followers, /v1/agent/metrics, the chaos API —
 * refused without --enable-chaos — and with --test-faults the fault-injection route).
 */
export function buildApi(config: ServerConfig, p: ApiParts): Hono {
  const { store, watches, feed } = p.state;
  // Lock delays by this server's clock from when it applies each invalidation (as Consul's servers keep them).
  const lockDelays = new LocalLockDelays(p.clock);
  p.state.applier.listen(lockDelays);
  p.state.applier.listen(p.tokenWatch);
  const deps: ServerApiDeps = {
    lockDelays,
    node: p.node,
    store,
    writer: tracedWriter(p.secrets?.writer ?? p.cluster.writer, p.tracer),
    ...(p.secrets ? { secrets: p.secrets.secrets } : {}),
    ...(p.secrets?.admin ? { secretsAdmin: p.secrets.admin } : {}),
    tracer: p.tracer,
    answered: (status) => p.insights.feed.answered(status),
    watches,
    cluster: p.cluster,
    clock: p.clock,
    rng: systemRng,
    logger: p.logger.child({ component: 'http' }),
    limits: {
      ...DEFAULT_API_LIMITS,
      kvMaxValueBytes: config.kvMaxValueBytes,
      txnMaxOps: config.txnMaxOps,
      sessionTtlMinMs: config.sessionTtlMinMs,
    },
    hotPaths: p.hotPaths,
    operator: p.cluster.operator,
    agent: p.agent,
    sessionTimers: p.sessionTimers,
    changeFeed: feed,
    syncStreams: p.insights.syncStreams,
    fleet: p.fleet,
    tokenWatch: p.tokenWatch,
    shutdownSignal: p.shutdownSignal,
    acl: p.aclResolver,
    rateLimit: config.rateLimit,
    clientAddress: (req) => p.clients.get(req)?.remoteAddress,
    clientGone: (req) => p.clients.get(req)?.gone(),
    responseHeader: (req, name, value) => p.clients.get(req)?.setHeader(name, value) ?? false,
    metrics: p.metrics.port,
    ...(config.accessLogSample
      ? { accessLog: { sample: config.accessLogSample, logger: p.logger.child({ component: 'access' }) } }
      : {}),
    responseBytes: (res) => {
      const kept = cachedBody(res);
      if (typeof kept === 'string') return Buffer.byteLength(kept);
      return kept instanceof Uint8Array ? kept.byteLength : undefined;
    },
    bodyReader: p.bodyReader,
    audit: p.audit ?? NO_AUDIT,
    ...(config.edgeGrantTtlMs !== undefined ? { edgeGrantTtlMs: config.edgeGrantTtlMs } : {}),
    federation: p.wan,
    ...(config.primaryDatacenter !== undefined ? { aclPrimaryDatacenter: config.primaryDatacenter } : {}),
  };
  const app = createApi(deps);
  // Followers send internal writes (anti-entropy, tombstone reaping) here when this server leads.
  registerInternalProposeRoute(app, p.cluster.committer, {
    joinToken: config.joinToken,
    aclEnabled: config.acl.enabled,
  });
  // Other datacenters' servers (and this one's, spreading what they learnt) ping here.
  const internal = { joinToken: config.joinToken, aclEnabled: config.acl.enabled };
  registerWanPingRoute(app, p.wan, internal);
  registerInternalDnsRoute(app, p.dnsLookup, internal);
  registerRemoteQueryRoute(app, deps, internal);
  registerAclReplicateRoute(app, () => store.read(aclReplicationData), internal);
  registerAclReplicationStatusRoute(app, () => p.aclReplicator.status());
  registerAgentMetricsRoute(app, metricsPort(p.metrics));
  registerInsightsRoute(app, insightsPort(p.insights.analyser, p.node.name, p.cluster, p.logger));
  if (p.logs) registerAgentLogRoutes(app, deps, p.logs);
  registerChaosRoutes(app, deps, p.chaos);
  if (config.testFaults) registerFaultsRoute(app, faultsPort(p.transport, p.logger));
  registerUiRoutes(app, config.uiDir === undefined ? undefined : uiDirReader(config.uiDir));
  return app;
}

/**
 * `writer` with a span per write ("raft commit": from the proposal until the command is applied
 * here and its result known), a child of the request's span and current while the write goes on
 * (the committer and the Raft driver open theirs under it); `writer` itself when not tracing.
 */
function tracedWriter(writer: Writer, tracer: Tracer): Writer {
  if (!tracer.enabled) return writer;
  return {
    submit: async (command) => {
      const span = tracer.startSpan('raft commit', 'internal', { attributes: { 'konsul.command': command.type } });
      try {
        const result = await tracer.within(span, () => writer.submit(command));
        span.setAttribute('konsul.raft.index', result.index);
        return result;
      } catch (err) {
        span.fail((err as Error).message);
        throw err;
      } finally {
        span.end();
      }
    },
  } as Writer;
}

/** What a forwarded request's "connection" signals: it never goes away before the answer. */
const NEVER_GONE = new AbortController().signal;

/** The body of a forwarded request that came without one. */
const EMPTY_BODY = new Uint8Array(0);
const utf8 = new TextEncoder();

/**
 * The body a Response was built with, where @hono/node-server's Response (the global one once
 * its listener runs) keeps it under its "cache" symbol; undefined for any other Response.
 */
function cachedBody(res: Response): unknown {
  for (const sym of Object.getOwnPropertySymbols(res)) {
    if (sym.description !== 'cache') continue;
    const kept = (res as unknown as Record<symbol, unknown>)[sym];
    return Array.isArray(kept) ? kept[1] : undefined;
  }
  return undefined;
}

/**
 * A Response's body as bytes. Answers built from a string or bytes are read from where
 * @hono/node-server's Response keeps them, without a Web stream; any other is read as a stream.
 */
async function responseBytes(res: Response): Promise<Uint8Array> {
  const kept = cachedBody(res);
  if (typeof kept === 'string') return utf8.encode(kept);
  if (kept instanceof Uint8Array) return kept;
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Runs a request a follower forwarded over the raft transport through `app`, as if it came from
 * `remoteAddress` (the follower's connection: the API trusts its forwarding headers by that
 * address, as it does over HTTP), and returns the answer whole.
 */
export async function answerForwarded(
  app: Hono,
  clients: RequestSlot<HttpClient>,
  httpAddr: string,
  remoteAddress: string,
  r: ForwardedRequest,
): Promise<ForwardedAnswer> {
  const headers = new Headers();
  for (const [k, v] of r.headers) headers.append(k, v);
  // The body is handed to the handler as bytes (readBody), not as a Web stream on the Request.
  const req = new Request(`http://${httpAddr}${r.path}`, { method: r.method, headers });
  const body = r.body ?? EMPTY_BODY;
  let bodyRead = false;
  clients.set(req, {
    remoteAddress,
    readBody: (maxBytes) => {
      if (bodyRead) return undefined;
      bodyRead = true;
      return body.byteLength > maxBytes
        ? Promise.reject(bodyTooLarge(body.byteLength, maxBytes))
        : Promise.resolve(body);
    },
    gone: () => NEVER_GONE,
    setHeader: () => false,
  });
  const res = await app.fetch(req);
  return { status: res.status, headers: [...res.headers], body: await responseBytes(res) };
}
