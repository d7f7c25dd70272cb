import { hostname } from 'node:os';
import { AclResolver } from '../core/acl/resolve.js';
import { anonymousToken } from '../core/acl/queries.js';
import { LocalAgent } from '../core/agent/agent.js';
import type { BodyReader } from '../core/api/body.js';
import type { NodeInfo } from '../core/api/context.js';
import { TombstoneGc } from '../core/kv/tombstone-gc.js';
import type { Clock } from '../core/ports/clock.js';
import type { Logger } from '../core/ports/logger.js';
import type { ReadTxn } from '../core/ports/state-store.js';
import type { SessionDestroyCommand } from '../core/session/state-machine.js';
import { SessionTtl } from '../core/session/ttl.js';
import {
  type HttpClient,
  type HttpTls,
  nodeProbes,
  nodeRuntime,
  systemClock,
  systemRng,
} from '../runtimes/node/index.js';
import { AgentStateFile } from './agent-store.js';
import { AuditFile } from './audit-log.js';
import type { ServerConfig } from './config.js';
import { ServerMetrics } from './metrics.js';
import { answerForwarded, buildApi } from './start-api.js';
import { AGENT_WATCH_TARGET } from '../core/api/hash-blocking.js';
import { createCluster } from './start-cluster.js';
import { bindListeners } from './start-listeners.js';
import { readDeviceKeys, startMqtt } from './start-mqtt.js';
import { FleetReporter } from '../core/fleet/reporter.js';
import { TokenWatch } from '../core/acl/token-watch.js';
import { openState } from './start-state.js';
import { PROPOSE_METHOD } from './transport.js';
import { EntriesFrameCache } from '../core/codec/entries.js';
import { checkRaftTls, readHttpTls } from './start-tls.js';
import { StartupStack } from './startup-stack.js';
import { requestSlot } from '../core/api/request-slot.js';
import { serviceNameCount } from '../core/catalog/queries.js';
import { CHECKS_TABLE, NODES_TABLE, SERVICES_TABLE } from '../core/catalog/types.js';
import { KV_TABLE } from '../core/kv/types.js';
import { SESSIONS_TABLE } from '../core/session/types.js';
import type { LogControl } from '../core/log/hub.js';
import { NO_TRACER, type Tracer } from '../core/ports/tracing.js';
import { InsightAnalyser } from '../core/insights/analyser.js';
import { INSIGHT_EVENT, InsightsFeed } from './insights.js';
import { OpenSyncStreams } from '../core/sync/open-streams.js';
import { randomUuid } from '../core/util/uuid.js';
import { type ServerChaos, startChaos } from './chaos.js';
import { peerFetch, peerStream } from './peer-http.js';
import { WanPool } from './cluster/wan.js';
import { AclReplicator } from './cluster/acl-replication.js';
import { type DnsOptions, resolve as resolveDns } from '../core/dns/resolver.js';
import { SealingWriter } from '../core/sealing/sealing-writer.js';
import { Secrets } from '../core/sealing/secrets.js';
import { SecretsRotation } from '../core/sealing/rotation.js';
import { checkKeyringCovers, loadServerKeyring, ServerSecretsAdmin } from './secrets.js';

/** The bucket insight rates are measured over. */
const DEFAULT_INSIGHT_BUCKET_MS = 10_000;

/** A started server. */
export interface RunningServer {
  /** The HTTP API's bound address ("host:port"). */
  readonly httpAddr: string;
  /** The raft transport's bound address ("host:port"). */
  readonly raftAddr: string;
  /**
   * Shuts down cleanly: blocking queries return, in-flight requests finish (up to `graceMs`),
   * Raft stops, then LMDB is closed. Idempotent.
   */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when the server stopped by itself (after leaving the cluster). */
  readonly left: Promise<void>;
  /**
   * Resolves when the Raft loop stopped on a write it could not make (a full disk, an I/O error):
   * the server can persist nothing more and should be stopped; a restart recovers from the disk.
   */
  readonly failed: Promise<Error>;
  /**
   * Reads the HTTPS certificate, key and CA files again and uses them for new connections
   * (the listener stays up). False without HTTPS; rejects (keeping the old ones) on a bad file.
   */
  reloadTls(): Promise<boolean>;
}

const TOMBSTONE_TTL_MS = 15 * 60_000;
const TOMBSTONE_GRANULARITY_MS = 30_000;

/**
 * Composition root of a server. First it reads the files flags name (TLS material, device keys)
 * and binds every listener (HTTP, raft transport, DNS, MQTT), so a taken port fails the start
 * before anything else happens; then it builds the parts in order (the locked data dir and LMDB
 * state, the cluster coordinator around the Raft driver, the local agent, the HTTP API, DNS and
 * MQTT, the tombstone GC) on a start-up stack: if a step fails, what was started is closed again
 * in reverse order and the error is rethrown (StartupError for a flag's address, data dir or file).
 */
export async function startServer(
  config: ServerConfig,
  logger: Logger,
  clock: Clock = systemClock(),
  logs?: LogControl,
): Promise<RunningServer> {
  const hotPaths = await nodeRuntime.loadHotPaths(config.hotPaths);
  const deviceKeys = await readDeviceKeys(config.mqttDeviceKeys);
  // Encrypted values (docs/SECRETS.md): a key file that cannot be read or parsed stops the start.
  const keyring = await loadServerKeyring(config.encryptKeyFile);
  // The HTTPS material, also used to call other servers (forwarding); replaced on reload.
  let peerTls: HttpTls | undefined = config.httpTls ? await readHttpTls(config.httpTls) : undefined;
  if (config.raftTls) await checkRaftTls(config.raftTls);
  const name = config.nodeName ?? hostname().split('.')[0] ?? 'konsul';
  const metrics = new ServerMetrics(config.disableMetrics === true);
  if (config.disableMetrics !== true) metrics.collectDefaults();
  const stack = new StartupStack(logger);
  try {
    // Traces only when an OTLP endpoint is configured: the SDK is not even loaded otherwise.
    let tracer: Tracer = NO_TRACER;
    if (config.otlpEndpoint) {
      const exporting = (await import('./tracing.js')).otlpTracer(
        config.otlpEndpoint,
        config.otlpServiceName ?? 'konsul',
        name,
      );
      stack.push('traces', () => exporting.shutdown());
      tracer = exporting;
      logger.info('exporting traces', { endpoint: config.otlpEndpoint });
    }
    // One batch of entries is encoded once for the WAL and every follower (EntriesFrameCache).
    const entriesFrames = new EntriesFrameCache(hotPaths);
    const listeners = await bindListeners(config, { name, hotPaths, logger, httpTls: peerTls, entriesFrames }, stack);
    const { http, transport, raftAddr, dns, broker } = listeners;
    const state = await openState(config, hotPaths, stack, logger, entriesFrames, metrics.port);
    const { store, applier, watches } = state;
    const readState = <T>(run: (tx: ReadTxn) => T): T => store.read(run);
    // A keyring that cannot open the values the data holds stops the start before Raft runs.
    checkKeyringCovers(readState, keyring, config.encryptKeyFile);
    const node: NodeInfo = {
      name,
      id: state.nodeId,
      datacenter: config.datacenter,
      version: config.version,
      raftAddr,
      httpAddr: http.address,
    };
    const shutdown = new AbortController();
    let leftResolve: () => void = () => undefined;
    const left = new Promise<void>((r) => (leftResolve = r));
    let failedResolve: (err: Error) => void = () => undefined;
    const failed = new Promise<Error>((r) => (failedResolve = r));
    // The socket peer of each request in flight (entries go with their Request objects).
    const clients = requestSlot<HttpClient>('konsul.client');
    const bodyReader: BodyReader = (req, maxBytes) => clients.get(req)?.readBody(maxBytes);
    const cluster = createCluster(config, {
      name,
      listeners,
      state,
      logger,
      clock,
      peerTls: () => peerTls,
      bodyReader,
      onLeft: () => leftResolve(),
      onFatal: (err) => failedResolve(err instanceof Error ? err : new Error(String(err))),
      // Role changes begin with cluster.start() below, once sessionTtl exists.
      onRoleChange: (role) => (role === 'leader' ? sessionTtl.activate() : sessionTtl.deactivate()),
      metrics: metrics.port,
      tracer,
    });
    const writer = cluster.writer;
    const isLeader = (): boolean => cluster.driver?.role() === 'leader';
    // Values under the encrypted prefixes are sealed before they are proposed, by every write path
    // of clients (the API, MQTT device writes); the leader re-encrypts after a key change.
    const secrets = new Secrets(keyring, config.encryptPrefixes ?? [], readState);
    const sealingWriter = new SealingWriter(writer, secrets);
    const rotation = new SecretsRotation({
      read: readState,
      writer,
      secrets,
      clock,
      isLeader,
      logger: logger.child({ component: 'secrets' }),
    });
    stack.push('secrets rotation', () => rotation.stop());
    const secretsAdmin =
      keyring && config.encryptKeyFile ? new ServerSecretsAdmin(secrets, config.encryptKeyFile, rotation) : undefined;
    // Only the leader decides session expiry; it proposes the destroy like any other write.
    const sessionTtl = new SessionTtl({
      clock,
      logger: logger.child({ component: 'session' }),
      read: (fn) => store.read(fn),
      expire: async (id) => {
        await writer.submit<boolean, SessionDestroyCommand>({ type: 'session.destroy', id, now: clock.now() });
      },
      sweepMs: 1000,
      maxTracked: 1_000_000,
    });
    stack.push('session ttl', () => sessionTtl.deactivate());
    const agentFile = new AgentStateFile(config.dataDir);
    const agentSnapshot = await agentFile.load();
    const agentNode = { name, id: state.nodeId, address: '', datacenter: config.datacenter };
    // Insights over what this server applies, answers, probes and streams to edge agents
    // (GET /v1/operator/insights on the leader gathers every server's).
    const insightBucketMs = config.insightsIntervalMs ?? DEFAULT_INSIGHT_BUCKET_MS;
    const analyser = new InsightAnalyser(clock, { bucketMs: insightBucketMs });
    const syncStreams = new OpenSyncStreams();
    const insightsFeed = new InsightsFeed(analyser, {
      bucketMs: insightBucketMs,
      metrics: metrics.port,
      logger: logger.child({ component: 'insights' }),
      edgeLags: () => syncStreams.lags(),
      announce: {
        server: name,
        isLeader,
        fire: async (payload) => {
          const event = { ID: randomUuid(systemRng), Name: INSIGHT_EVENT, Payload: payload };
          await writer.submit({
            type: 'event.fire',
            event: { ...event, NodeFilter: '', ServiceFilter: '', TagFilter: '' },
          });
        },
      },
    });
    state.applier.listen(insightsFeed);
    stack.push('insights', () => insightsFeed.stop());
    const agent = new LocalAgent({
      node: agentNode,
      probed: (checkId, seconds, intervalMs) => analyser.checkLatency(`${name}/${checkId}`, seconds, intervalMs),
      metrics: metrics.port,
      clock,
      rng: systemRng,
      logger: logger.child({ component: 'agent' }),
      probes: nodeProbes,
      store,
      writer,
      persist: (s) => agentFile.save(s),
      enableScriptChecks: config.enableScriptChecks,
      syncIntervalMs: 60_000,
      checkUpdateIntervalMs: 5 * 60_000,
      maxServices: 10_000,
      maxChecks: 20_000,
      onLocalChange: () => watches.notify([AGENT_WATCH_TARGET]),
    });
    // What edge agents and devices report, batched into the replicated fleet table.
    const fleet = new FleetReporter({
      writer,
      clock,
      logger: logger.child({ component: 'fleet' }),
      server: name,
      appliedIndex: () => state.applier.appliedIndex(),
    });
    stack.push('fleet reports', () => fleet.stop());
    const aclResolver = new AclResolver(config.acl);
    // Streams, blocking queries and MQTT sessions follow their token as ACL data changes.
    const tokenWatch = new TokenWatch({ resolver: aclResolver, read: (fn) => store.read(fn), clock });
    const auditFile = config.auditLog
      ? new AuditFile(config.auditLog, logger.child({ component: 'audit' }), (n) => metrics.auditDropped.inc(n))
      : undefined;
    if (auditFile) stack.push('audit log', () => auditFile.flush());
    metrics.observeWaiters({
      blockingQueries: () => watches.size,
      blockingQueryLimit: () => config.maxBlockingQueries,
      blockingQueryWakeups: () => watches.fired,
      watchStreams: () => state.feed.subscriptions,
      watchStreamWakeups: () => state.feed.wakeups,
      http: () => http.stats(),
    });
    metrics.observeTransport(() => transport.stats());
    metrics.observeStore(state.uncommitted);
    metrics.observeState(
      {
        cachedSizes: () => state.store.cachedSizes(),
        serviceNames: () => state.store.read(serviceNameCount),
        committedRows: state.committedRows,
        feed: () => state.feed,
      },
      {
        kv: KV_TABLE,
        sessions: SESSIONS_TABLE,
        catalog: { nodes: NODES_TABLE, services: SERVICES_TABLE, checks: CHECKS_TABLE },
      },
    );
    metrics.observeRaftLog(() => cluster.driver?.status().logInMemory ?? { bytes: 0, entries: 0 });
    // Chaos experiments (--enable-chaos): faults on the raft links, a paused apply loop, step-downs.
    let chaos: ServerChaos | undefined;
    if (config.enableChaos) {
      const running = startChaos({
        name,
        cluster,
        transport,
        clock,
        rng: systemRng,
        logger,
        metrics: metrics.port,
        audit: auditFile,
        peerFetch: peerFetch(() => peerTls),
      });
      stack.push('chaos', () => running.stop());
      chaos = running;
    }
    const dnsOptions: DnsOptions = {
      domain: 'consul',
      datacenter: config.datacenter,
      serviceTtl: config.dnsServiceTtl,
      nodeTtl: config.dnsNodeTtl,
      aRecordLimit: config.dnsARecordLimit,
      rng: systemRng,
      // DNS carries no token: with ACLs on it answers what the anonymous token may read.
      ...(config.acl.enabled ? { access: (tx: ReadTxn) => aclResolver.identityOf(tx, anonymousToken(tx)).authz } : {}),
    };
    // The other datacenters: known through --join-wan seeds and what this datacenter's servers learnt.
    const wan = new WanPool({
      self: () => ({ Name: name, Datacenter: config.datacenter, HttpAddr: node.httpAddr }),
      seeds: config.joinWan ?? [],
      local: () => {
        const { servers, leader } = cluster.localServers();
        const local = servers.map((s) => ({ Name: s.name, Datacenter: config.datacenter, HttpAddr: s.httpAddr }));
        return { servers: local.filter((s) => s.HttpAddr !== ''), leader };
      },
      call: peerFetch(() => peerTls),
      stream: peerStream(() => peerTls),
      bodyReader,
      joinToken: config.joinToken,
      logger: logger.child({ component: 'wan' }),
      clock,
      intervalMs: 2000,
    });
    // A secondary datacenter's leader copies the primary's ACL data.
    const aclReplicator = new AclReplicator({
      primary: config.primaryDatacenter ?? config.datacenter,
      datacenter: config.datacenter,
      aclEnabled: config.acl.enabled,
      federation: wan,
      writer,
      isLeader,
      clock,
      logger: logger.child({ component: 'acl-replication' }),
      intervalMs: 2000,
    });
    const app = buildApi(config, {
      node,
      state,
      cluster,
      wan,
      aclReplicator,
      // Other datacenters' servers ask this one about names in this datacenter.
      dnsLookup: (qname, qtype) => store.read((tx) => resolveDns(tx, qname, qtype, dnsOptions)),
      clock,
      logger,
      hotPaths,
      agent,
      sessionTimers: sessionTtl,
      shutdownSignal: shutdown.signal,
      aclResolver,
      clients,
      bodyReader,
      audit: auditFile,
      metrics,
      transport,
      ...(chaos ? { chaos } : {}),
      ...(logs ? { logs } : {}),
      tracer,
      insights: { analyser, feed: insightsFeed, syncStreams },
      fleet,
      tokenWatch,
      secrets: { secrets, writer: sealingWriter, ...(secretsAdmin ? { admin: secretsAdmin } : {}) },
    });

    // A follower's proposal within a traced write carries its traceparent: the leader's part of the
    // write ("raft propose") continues that trace, and the Raft driver's spans go under it.
    const proposeForPeer = async (headers: ReadonlyArray<readonly [string, string]>, body: Uint8Array) => {
      const parent = tracer.enabled ? headers.find(([name]) => name === 'traceparent')?.[1] : undefined;
      if (parent === undefined) return cluster.committer.proposeForTransportPeer(body);
      const span = tracer.startSpan('raft propose', 'server', { parent });
      try {
        return await tracer.within(span, () => cluster.committer.proposeForTransportPeer(body));
      } finally {
        span.end();
      }
    };
    stack.push('cluster', () => cluster.stop());
    await cluster.start();
    // Entries replayed from the WAL may seal values with a key the LMDB state did not show yet.
    checkKeyringCovers(readState, keyring, config.encryptKeyFile);
    rotation.start();
    listeners.serveHttp((req, client) => {
      clients.set(req, client);
      return app.fetch(req);
    });
    // Writes followers forward over the raft transport run through the same API; their proposals
    // (PROPOSE_METHOD) go to the committer.
    listeners.serveForwarded(async (_from, remoteAddress, r) =>
      r.method === PROPOSE_METHOD
        ? { status: 200, headers: [], body: await proposeForPeer(r.headers, r.body ?? new Uint8Array(0)) }
        : answerForwarded(app, clients, http.address, remoteAddress, r),
    );
    agentNode.address =
      config.raftAddr.host === '0.0.0.0'
        ? '127.0.0.1'
        : raftAddr.slice(0, raftAddr.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    stack.push('agent', () => agent.stop());
    agent.start(agentSnapshot);
    dns?.serve(store, dnsOptions, metrics.port, (dc, qname, qtype) => wan.dnsAnswer(dc, qname, qtype));
    const bridge = await startMqtt(
      config,
      {
        name,
        broker,
        state,
        writer: sealingWriter,
        aclResolver,
        clock,
        logger,
        metrics,
        deviceKeys,
        isLeader,
        fleet,
        tokenWatch,
      },
      stack,
    );

    // A dev server is ready once it leads; a cluster member once it started (leaders come and go).
    if (config.dev || config.bootstrapExpect === 1) {
      for (let i = 0; i < 400 && !isLeader(); i++) await new Promise((r) => setTimeout(r, 25));
    }
    const gc = new TombstoneGc({
      clock,
      logger,
      ttlMs: TOMBSTONE_TTL_MS,
      granularityMs: TOMBSTONE_GRANULARITY_MS,
      appliedIndex: () => applier.appliedIndex(),
      read: (fn) => store.read(fn),
      reap: async (upTo) => {
        // Only the leader proposes reaping; followers apply what it commits.
        if (isLeader()) await writer.submit({ type: 'kv.reap-tombstones', upTo, now: clock.now() });
      },
    });
    stack.push('tombstone gc', () => gc.stop());
    gc.start();
    stack.push('wan', () => wan.stop());
    wan.start();
    stack.push('acl replication', () => aclReplicator.stop());
    aclReplicator.start();
    logger.info('server ready', {
      node: name,
      datacenter: node.datacenter,
      http: http.address,
      raft: raftAddr,
      dns: dns?.address ?? 'off',
      mqtt: broker?.address ?? (config.mqttUrl ? 'external' : 'off'),
      data_dir: config.dataDir,
      https: config.httpTls !== undefined,
      applied_index: applier.appliedIndex(),
      hot_paths: Object.entries(hotPaths.impl)
        .map(([op, impl]) => `${op}=${impl}`)
        .join(','),
    });

    let stopping: Promise<void> | undefined;
    return {
      httpAddr: http.address,
      raftAddr,
      left,
      failed,
      async reloadTls() {
        if (!config.httpTls) return false;
        const next = await readHttpTls(config.httpTls);
        http.reloadTls(next);
        peerTls = next;
        logger.info('TLS certificate reloaded', { cert: config.httpTls.cert });
        return true;
      },
      // Not the start-up stack's reverse order: requests in flight must finish (HTTP closes with
      // its grace period) while the cluster and the store still serve them.
      stop(graceMs = 10_000) {
        stopping ??= (async () => {
          logger.info('shutting down');
          // Experiments end first (audited as 'shutdown'), while the audit log still takes records.
          chaos?.stop();
          gc.stop();
          rotation.stop();
          sessionTtl.deactivate();
          agent.stop();
          await dns?.close();
          await bridge?.stop();
          await broker?.close();
          shutdown.abort();
          watches.wakeAll();
          await http.close(graceMs);
          await auditFile?.flush();
          await cluster.stop();
          await transport.close();
          await store.close();
          await state.unlock();
          logger.info('shutdown complete');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await stack.unwind();
    throw err;
  }
}
