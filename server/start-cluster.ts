import type { BodyReader } from '../core/api/body.js';
import type { Clock } from '../core/ports/clock.js';
import type { Logger } from '../core/ports/logger.js';
import type { Metrics } from '../core/ports/metrics.js';
import type { HttpTls } from '../runtimes/node/http-server.js';
import { systemRng } from '../runtimes/node/rng.js';
import { Cluster } from './cluster/cluster.js';
import type { ServerConfig } from './config.js';
import { peerFetch } from './peer-http.js';
import { RaftDriver } from '../core/replication/driver.js';
import type { Listeners } from './start-listeners.js';
import type { ServerState } from './start-state.js';
import type { Tracer } from '../core/ports/tracing.js';

/** What the cluster is built from besides the configuration. */
export interface ClusterParts {
  readonly name: string;
  readonly listeners: Listeners;
  readonly state: ServerState;
  readonly logger: Logger;
  /** Time for Raft ticks and request deadlines. */
  readonly clock: Clock;
  /** The HTTPS material in use (changes on reload); servers call each other's API with it. */
  readonly peerTls: () => HttpTls | undefined;
  readonly bodyReader: BodyReader;
  /** Told when this server left the cluster (it then stops). */
  readonly onLeft: () => void;
  /** Told whenever this server's Raft role changes. */
  readonly onRoleChange: (role: string) => void;
  /** Told when the Raft loop stopped on a write it could not make (RaftDriverOptions.onFatal). */
  readonly onFatal: (err: unknown) => void;
  /** Where the Raft driver's metrics go. */
  readonly metrics: Metrics;
  /** Opens the spans of requests forwarded to the leader, proposals and the Raft driver's. */
  readonly tracer: Tracer;
}

/**
 * Builds the cluster coordinator over the bound raft transport and the Raft driver (not started:
 * call start()), and routes the transport's messages and control requests to it.
 */
export function createCluster(config: ServerConfig, p: ClusterParts): Cluster {
  const { listeners, state } = p;
  const transport = listeners.transport;
  const raftLogger = p.logger.child({ component: 'raft' });
  const cluster = new Cluster({
    self: { name: p.name, raftAddr: listeners.raftAddr, httpAddr: listeners.http.address },
    // Servers call each other's API with Node's HTTP client (keep-alive); with HTTPS the CA checks
    // the peer and our certificate is the client's.
    peerFetch: peerFetch(p.peerTls),
    bodyReader: p.bodyReader,
    aclEnabled: config.acl.enabled,
    tracer: p.tracer,
    datacenter: config.datacenter,
    version: config.version,
    edgeOfflineAfterMs: config.edgeOfflineAfterMs ?? 30_000,
    single: config.dev || config.bootstrapExpect === 1,
    ...(config.testBug ? { testBug: config.testBug } : {}),
    bootstrapExpect: config.bootstrapExpect,
    joins: config.joins,
    transport,
    storage: state.storage,
    store: state.store,
    logger: raftLogger,
    clock: p.clock,
    leaderWaitMs: 5000,
    onLeft: p.onLeft,
    onRoleChange: p.onRoleChange,
    ...(config.joinToken ? { joinToken: config.joinToken } : {}),
    makeDriver: () =>
      new RaftDriver({
        id: p.name,
        rng: systemRng,
        clock: p.clock,
        raft: { electionTicks: 10, heartbeatTicks: 1, maxLogBytesInMemory: config.raftLogMemoryBytes },
        tickMs: config.raftTickMs,
        storage: state.storage,
        store: state.store,
        stateTables: state.machine.tables,
        applier: state.applier,
        logger: raftLogger,
        transport,
        snapshotThreshold: config.snapshotThreshold,
        snapshotIntervalMs: config.snapshotIntervalMs,
        maxPending: config.maxPendingWrites,
        requestTimeoutMs: 10_000,
        maxQueuedMessages: 16_384,
        metrics: p.metrics,
        tracer: p.tracer,
        onFatal: p.onFatal,
      }),
  });
  listeners.attachRaft({
    onMessage: (m) => cluster.driver?.receive(m),
    onControl: (c) => cluster.onControl(c),
  });
  return cluster;
}
