import { unreadableInScope } from '../core/api/authz.js';
import { peerFetch } from './peer-http.js';
import type { BodyReader } from '../core/api/body.js';
import { randomBytes } from 'node:crypto';
import type { SyncScope } from '../core/sync/types.js';
import { MqttAccess, SERVER_USERNAME } from './mqtt/access.js';
import { AuditFile } from './audit-log.js';
import type { ReadTxn } from '../core/ports/state-store.js';
import { AclResolver } from '../core/acl/resolve.js';
import { anonymousToken } from '../core/acl/state.js';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createApi } from '../core/api/app.js';
import { registerAgentMetricsRoute } from '../core/api/routes/agent-metrics.js';
import { registerFaultsRoute, registerInternalProposeRoute } from '../core/api/routes/internal.js';
import type { ApiDeps, NodeInfo } from '../core/api/context.js';
import { DEFAULT_API_LIMITS } from '../core/api/context.js';
import { WATCH_STREAM_TABLES } from '../core/api/routes/watch.js';
import { LocalAgent } from '../core/agent/agent.js';
import { autopilotModule } from '../core/cluster/autopilot.js';
import { membersModule } from '../core/cluster/members.js';
import { BadRequestError, ConfigError } from '../core/errors.js';
import { Applier } from '../core/fsm/applier.js';
import { StateMachine } from '../core/fsm/state-machine.js';
import { TombstoneGc } from '../core/kv/tombstone-gc.js';
import { WritePipeline } from '../core/pipeline/write-pipeline.js';
import type { Clock } from '../core/ports/clock.js';
import type { Logger } from '../core/ports/logger.js';
import { dataModules } from '../core/modules.js';
import type { SessionDestroyCommand } from '../core/session/state-machine.js';
import { SessionTtl } from '../core/session/ttl.js';
import { ChangeFeed } from '../core/watch/change-feed.js';
import { WatchRegistry } from '../core/watch/watch-registry.js';
import { systemClock } from '../runtimes/node/clock.js';
import { loadHotPaths } from '../runtimes/node/hot-paths.js';
import { type HttpClient, type HttpTls, listenHttp } from '../runtimes/node/http-server.js';
import { nodeProbes } from '../runtimes/node/probes.js';
import { systemRng } from '../runtimes/node/rng.js';
import { VERSION } from '../runtimes/version.js';
import { AgentStateFile } from './agent-store.js';
import { type DnsServer, startDns } from './dns.js';
import { Cluster } from './cluster/cluster.js';
import type { ServerConfig } from './config.js';
import { loadNodeId, lockDataDir } from './data-dir.js';
import { ServerMetrics } from './metrics.js';
import { MqttBridge } from './mqtt/bridge.js';
import { type EmbeddedBroker, startEmbeddedBroker } from './mqtt/broker.js';
import { loadDeviceKeys, type DeviceKey } from '../core/sync/device.js';
import { readFile } from 'node:fs/promises';
import { LmdbStateStore } from './lmdb-store.js';
import { RaftDriver } from './raft-driver.js';
import { RAFT_LOG_TABLE, RAFT_META_TABLE, RaftStorage } from './raft-storage.js';
import { RaftTransport } from './transport.js';

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
   * Reads the HTTPS certificate, key and CA files again and uses them for new connections
   * (the listener stays up). False without HTTPS; rejects (keeping the old ones) on a bad file.
   */
  reloadTls(): Promise<boolean>;
}

/** Reads the HTTPS PEM files; ConfigError names a file that cannot be read. */
async function readHttpTls(t: NonNullable<ServerConfig['httpTls']>): Promise<HttpTls> {
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  };
  return {
    cert: await read(t.cert, '--tls-cert'),
    key: await read(t.key, '--tls-key'),
    ...(t.ca ? { ca: await read(t.ca, '--tls-ca') } : {}),
    verifyIncoming: t.verifyIncoming,
  };
}

const TOMBSTONE_TTL_MS = 15 * 60_000;
const TOMBSTONE_GRANULARITY_MS = 30_000;

/**
 * Composition root of a server: LMDB state and Raft log, the state machine modules, the Raft
 * driver, the transport, the cluster coordinator and the HTTP API.
 */
export async function startServer(
  config: ServerConfig,
  logger: Logger,
  clock: Clock = systemClock(),
): Promise<RunningServer> {
  const hotPaths = await loadHotPaths(config.hotPaths);
  let deviceKeys: Map<string, DeviceKey> = new Map();
  if (config.mqttDeviceKeys) {
    let text: string;
    try {
      text = await readFile(config.mqttDeviceKeys, 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ConfigError(`cannot read --mqtt-device-keys ${config.mqttDeviceKeys}: ${why}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ConfigError(`--mqtt-device-keys ${config.mqttDeviceKeys} is not valid JSON`);
    }
    deviceKeys = await loadDeviceKeys(json);
  }
  const metrics = new ServerMetrics();
  await mkdir(config.dataDir, { recursive: true });
  const unlock = await lockDataDir(config.dataDir);
  const machine = new StateMachine([...dataModules(), membersModule, autopilotModule]);
  let store: LmdbStateStore;
  let nodeId: string;
  try {
    nodeId = await loadNodeId(config.dataDir);
    store = new LmdbStateStore(join(config.dataDir, 'state.mdb'), [...machine.tables, RAFT_LOG_TABLE, RAFT_META_TABLE]);
  } catch (err) {
    await unlock();
    throw err;
  }
  const watches = new WatchRegistry(config.maxBlockingQueries, hotPaths.createPrefixMatcher());
  // The Raft log is durable before anything commits, so applying need not wait for a flush.
  const applier = new Applier(store, machine, watches, 'committed');
  const feed = new ChangeFeed({
    tables: WATCH_STREAM_TABLES,
    maxEvents: config.watchBuffer,
    maxBytes: 64 * 1024 * 1024,
    maxSubscribers: config.maxWatchStreams,
    startIndex: applier.appliedIndex(),
  });
  applier.listen(feed);
  const storage = new RaftStorage(store, hotPaths);
  const name = config.nodeName ?? hostname().split('.')[0] ?? 'konsul';
  const shutdown = new AbortController();
  let leftResolve: () => void = () => undefined;
  const left = new Promise<void>((r) => (leftResolve = r));

  const node: { -readonly [K in keyof NodeInfo]: NodeInfo[K] } = {
    name,
    id: nodeId,
    datacenter: config.datacenter,
    version: VERSION,
    raftAddr: '',
    httpAddr: '',
  };
  // The cluster is created once both addresses are bound; the API reaches it through these.
  // eslint-disable-next-line prefer-const -- closures below read it before it is assigned (const would throw there)
  let cluster: Cluster | undefined;
  const clusterView = {
    leader: () => cluster?.leader(),
    peers: () => cluster?.peers() ?? [],
    lastContactMs: () => cluster?.lastContactMs() ?? 0,
    forward: (req: Request) => cluster?.forward(req) ?? Promise.resolve(undefined),
    barrier: () => (cluster ? cluster.barrier() : Promise.resolve()),
  };
  const committer = {
    propose: (data: Uint8Array) => (cluster as Cluster).committer.propose(data),
    close: async () => undefined,
  };
  const writer = new WritePipeline(committer);
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
  const operator = {
    join: (addr: string) => (cluster as Cluster).operator.join(addr),
    leave: () => (cluster as Cluster).operator.leave(),
    members: () => cluster?.operator.members() ?? [],
    raftConfiguration: () => cluster?.operator.raftConfiguration() ?? { Servers: [], Index: 0 },
    removePeer: (by: { id?: string; address?: string }) => (cluster as Cluster).operator.removePeer(by),
    transferLeader: (id?: string) => (cluster as Cluster).operator.transferLeader(id),
    autopilotHealth: () => cluster?.operator.autopilotHealth() ?? { Healthy: false, FailureTolerance: 0, Servers: [] },
  };
  const agentFile = new AgentStateFile(config.dataDir);
  const agentSnapshot = await agentFile.load();
  const agentNode = { name, id: nodeId, address: '', datacenter: config.datacenter };
  const agent = new LocalAgent({
    node: agentNode,
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
  });
  const aclResolver = new AclResolver(config.acl);
  // The socket peer of each request in flight (entries go with their Request objects).
  const clients = new WeakMap<Request, HttpClient>();
  const bodyReader: BodyReader = (req, maxBytes) => clients.get(req)?.readBody(maxBytes);
  const auditFile = config.auditLog
    ? new AuditFile(config.auditLog, logger.child({ component: 'audit' }), (n) => metrics.auditDropped.inc(n))
    : undefined;
  const deps: ApiDeps = {
    node,
    store,
    writer,
    watches,
    cluster: clusterView,
    clock,
    rng: systemRng,
    logger: logger.child({ component: 'http' }),
    limits: {
      ...DEFAULT_API_LIMITS,
      kvMaxValueBytes: config.kvMaxValueBytes,
      txnMaxOps: config.txnMaxOps,
      sessionTtlMinMs: config.sessionTtlMinMs,
    },
    hotPaths,
    operator,
    agent,
    sessionTimers: sessionTtl,
    changeFeed: feed,
    shutdownSignal: shutdown.signal,
    acl: aclResolver,
    rateLimit: config.rateLimit,
    clientAddress: (req) => clients.get(req)?.remoteAddress,
    bodyReader,
    ...(auditFile ? { audit: auditFile } : {}),
  };
  const app = createApi(deps);
  // Followers send internal writes (anti-entropy, tombstone reaping) here when this server leads.
  registerInternalProposeRoute(
    app,
    { proposeForPeer: (data) => (cluster as Cluster).committer.proposeForPeer(data) },
    { joinToken: config.joinToken, aclEnabled: config.acl.enabled },
  );
  registerAgentMetricsRoute(app, {
    prometheus: async () => ({ body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }),
    json: () => metrics.json(),
  });
  // eslint-disable-next-line prefer-const -- the faults route may read it before it is assigned (const would throw)
  let transport: RaftTransport | undefined;
  if (config.testFaults) {
    // Test-only: drop raft traffic to and from the named servers (simulated partitions).
    registerFaultsRoute(app, {
      block: (peers) => {
        transport?.blocked.clear();
        for (const b of peers) transport?.blocked.add(b);
        logger.warn('fault injection: blocking raft traffic', { peers: peers.join(',') });
      },
    });
  }

  let http;
  // The HTTPS material, also used to call other servers (forwarding); replaced on reload.
  let peerTls: HttpTls | undefined;
  try {
    http = await listenHttp(
      (req, client) => {
        clients.set(req, client);
        return app.fetch(req);
      },
      config.httpAddr.host,
      config.httpAddr.port,
      (peerTls = config.httpTls ? await readHttpTls(config.httpTls) : undefined),
    );
  } catch (err) {
    await store.close();
    await unlock();
    throw err;
  }
  node.httpAddr = http.address;
  const raftLogger = logger.child({ component: 'raft' });
  transport = new RaftTransport({
    self: { name, raftAddr: '', httpAddr: http.address },
    host: config.raftAddr.host,
    port: config.raftAddr.port,
    hp: hotPaths,
    logger: raftLogger,
    ...(config.raftTls ? { tls: config.raftTls } : {}),
    ...(config.joinToken ? { joinToken: config.joinToken } : {}),
    maxQueueMessages: 4096,
    onMessage: (m) => cluster?.driver?.receive(m),
    onControl: (c) => (cluster as Cluster).onControl(c),
  });
  let raftAddr: string;
  try {
    raftAddr = await transport.listen();
  } catch (err) {
    await http.close(0);
    await store.close();
    await unlock();
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new BadRequestError(`cannot listen on raft address ${config.raftAddr.host}:${config.raftAddr.port}: ${why}`);
  }
  node.raftAddr = raftAddr;
  const self = { name, raftAddr, httpAddr: http.address };
  transport.setSelf(self);
  const t = transport;
  cluster = new Cluster({
    self,
    // Servers call each other's API with Node's HTTP client (keep-alive); with HTTPS the CA checks
    // the peer and our certificate is the client's.
    peerFetch: peerFetch(() => peerTls),
    bodyReader,
    datacenter: config.datacenter,
    version: VERSION,
    single: config.dev || config.bootstrapExpect === 1,
    bootstrapExpect: config.bootstrapExpect,
    joins: config.joins,
    transport: t,
    storage,
    store,
    logger: raftLogger,
    leaderWaitMs: 5000,
    onLeft: () => leftResolve(),
    onRoleChange: (role) => (role === 'leader' ? sessionTtl.activate() : sessionTtl.deactivate()),
    ...(config.joinToken ? { joinToken: config.joinToken } : {}),
    makeDriver: () =>
      new RaftDriver({
        id: name,
        rng: systemRng,
        raft: { electionTicks: 10, heartbeatTicks: 1 },
        tickMs: config.raftTickMs,
        storage,
        store,
        stateTables: machine.tables,
        applier,
        logger: raftLogger,
        send: (messages) => t.send(messages),
        snapshotThreshold: config.snapshotThreshold,
        maxPending: config.maxPendingWrites,
        requestTimeoutMs: 10_000,
        maxQueuedMessages: 16_384,
      }),
  });
  await cluster.start();
  agentNode.address =
    config.raftAddr.host === '0.0.0.0'
      ? '127.0.0.1'
      : raftAddr.slice(0, raftAddr.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  agent.start(agentSnapshot);
  /** Closes what has started so far, when a later listener cannot start. */
  const undoStart = async (): Promise<void> => {
    agent.stop();
    await cluster.stop();
    await transport.close();
    await http.close(0);
    await store.close();
    await unlock();
  };
  let dns: DnsServer | undefined;
  if (config.dnsAddr) {
    try {
      dns = await startDns(
        config.dnsAddr.host,
        config.dnsAddr.port,
        store,
        {
          domain: 'consul',
          datacenter: config.datacenter,
          serviceTtl: config.dnsServiceTtl,
          nodeTtl: config.dnsNodeTtl,
          rng: systemRng,
          // DNS carries no token: with ACLs on it answers what the anonymous token may read.
          ...(config.acl.enabled
            ? { access: (tx: ReadTxn) => aclResolver.identityOf(tx, anonymousToken(tx)).authz }
            : {}),
        },
        logger.child({ component: 'dns' }),
      );
    } catch (err) {
      await undoStart();
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new BadRequestError(`cannot listen on DNS address ${config.dnsAddr.host}:${config.dnsAddr.port}: ${why}`);
    }
  }

  let broker: EmbeddedBroker | undefined;
  let bridge: MqttBridge | undefined;
  if (config.mqttAddr || config.mqttUrl) {
    // With ACLs on, the embedded broker checks every connection; servers use an internal secret.
    const internalSecret = randomBytes(32).toString('hex');
    const access = config.acl.enabled
      ? new MqttAccess({
          resolver: aclResolver,
          store,
          clock,
          datacenter: config.datacenter,
          internalSecret,
          logger: logger.child({ component: 'mqtt' }),
        })
      : undefined;
    try {
      if (config.mqttAddr)
        broker = await startEmbeddedBroker(
          config.mqttAddr.host,
          config.mqttAddr.port,
          logger.child({ component: 'mqtt' }),
          access,
        );
    } catch (err) {
      await dns?.close();
      await undoStart();
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new BadRequestError(
        `cannot listen on MQTT address ${config.mqttAddr?.host}:${config.mqttAddr?.port}: ${why}`,
      );
    }
    const embedded = broker !== undefined;
    const clusterRef = cluster;
    bridge = new MqttBridge({
      url: broker ? `mqtt://${broker.address}` : (config.mqttUrl as string),
      clientId: `konsul-server-${config.datacenter}-${name}`,
      datacenter: config.datacenter,
      active: () => embedded || clusterRef.driver?.status().role === 'leader',
      source: { feed, read: (fn) => store.read(fn) },
      writer,
      clock,
      logger: logger.child({ component: 'mqtt' }),
      metrics,
      deviceKeys,
      kvMaxValueBytes: config.kvMaxValueBytes,
      progressMs: 5000,
      ...(access && broker ? { credentials: { username: SERVER_USERNAME, password: internalSecret } } : {}),
      ...(config.acl.enabled
        ? {
            mayRead: (token: string | undefined, scope: SyncScope) => {
              try {
                const { authz } = store.read((tx) => aclResolver.resolve(tx, token, clock.now()));
                return unreadableInScope(authz, scope) === undefined;
              } catch {
                return false;
              }
            },
          }
        : {}),
    });
    await bridge.start();
  }

  // A dev server is ready once it leads; a cluster member once it started (leaders come and go).
  if (config.dev || config.bootstrapExpect === 1) {
    for (let i = 0; i < 400 && cluster.driver?.status().role !== 'leader'; i++)
      await new Promise((r) => setTimeout(r, 25));
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
      if (cluster?.driver?.status().role === 'leader')
        await writer.submit({ type: 'kv.reap-tombstones', upTo, now: clock.now() });
    },
  });
  gc.start();
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
  const c = cluster;
  return {
    httpAddr: http.address,
    raftAddr,
    left,
    async reloadTls() {
      if (!config.httpTls) return false;
      const next = await readHttpTls(config.httpTls);
      http.reloadTls(next);
      peerTls = next;
      logger.info('TLS certificate reloaded', { cert: config.httpTls.cert });
      return true;
    },
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        logger.info('shutting down');
        gc.stop();
        sessionTtl.deactivate();
        agent.stop();
        await dns?.close();
        await bridge?.stop();
        await broker?.close();
        shutdown.abort();
        watches.wakeAll();
        await http.close(graceMs);
        await auditFile?.flush();
        await c.stop();
        await t.close();
        await store.close();
        await unlock();
        logger.info('shutdown complete');
      })();
      return stopping;
    },
  };
}
