import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createApi } from '../core/api/app.js';
import type { ApiDeps, ClusterView, NodeInfo } from '../core/api/context.js';
import { DEFAULT_API_LIMITS } from '../core/api/context.js';
import { Applier } from '../core/fsm/applier.js';
import { StateMachine } from '../core/fsm/state-machine.js';
import { kvModule } from '../core/kv/state-machine.js';
import { TombstoneGc } from '../core/kv/tombstone-gc.js';
import { DEFAULT_COMMITTER_LIMITS, SingleNodeCommitter } from '../core/pipeline/single-node-committer.js';
import { WritePipeline } from '../core/pipeline/write-pipeline.js';
import type { Clock } from '../core/ports/clock.js';
import type { Logger } from '../core/ports/logger.js';
import { WatchRegistry } from '../core/watch/watch-registry.js';
import { systemClock } from '../runtimes/node/clock.js';
import { listenHttp } from '../runtimes/node/http-server.js';
import { loadHotPaths } from '../runtimes/node/hot-paths.js';
import { systemRng } from '../runtimes/node/rng.js';
import { VERSION } from '../runtimes/version.js';
import type { ServerConfig } from './config.js';
import { LmdbStateStore } from './lmdb-store.js';
import { loadNodeId, lockDataDir } from './data-dir.js';

/** A started server. */
export interface RunningServer {
  /** The HTTP API's bound address ("host:port"). */
  readonly httpAddr: string;
  /**
   * Shuts down cleanly: blocking queries return, in-flight requests finish (up to `graceMs`),
   * queued writes commit, then LMDB is closed. Idempotent.
   */
  stop(graceMs?: number): Promise<void>;
}

const TOMBSTONE_TTL_MS = 15 * 60_000;
const TOMBSTONE_GRANULARITY_MS = 30_000;

/**
 * Composition root of a single-node server: LMDB state, the KV state machine, the single-node
 * committer (stand-in for Raft) and the HTTP API.
 */
export async function startServer(config: ServerConfig, logger: Logger, clock: Clock = systemClock()): Promise<RunningServer> {
  const hotPaths = await loadHotPaths(config.hotPaths);
  await mkdir(config.dataDir, { recursive: true });
  const unlock = await lockDataDir(config.dataDir);
  let store: LmdbStateStore;
  let nodeId: string;
  const machine = new StateMachine([kvModule]);
  try {
    nodeId = await loadNodeId(config.dataDir);
    store = new LmdbStateStore(join(config.dataDir, 'state.mdb'), machine.tables);
  } catch (err) {
    await unlock();
    throw err;
  }
  const watches = new WatchRegistry(config.maxBlockingQueries, hotPaths.createPrefixMatcher());
  const applier = new Applier(store, machine, watches);
  const committer = new SingleNodeCommitter(applier, { ...DEFAULT_COMMITTER_LIMITS, maxPendingProposals: config.maxPendingWrites });
  const writer = new WritePipeline(committer);
  const shutdown = new AbortController();

  const cluster: ClusterView & { self?: string } = {
    leader: () => cluster.self,
    peers: () => (cluster.self ? [cluster.self] : []),
    lastContactMs: () => 0,
  };
  const node: { -readonly [K in keyof NodeInfo]: NodeInfo[K] } = {
    name: config.nodeName ?? hostname().split('.')[0] ?? 'konsul',
    id: nodeId,
    datacenter: config.datacenter,
    version: VERSION,
    raftAddr: '',
    httpAddr: '',
  };
  const deps: ApiDeps = {
    node,
    store,
    writer,
    watches,
    cluster,
    clock,
    rng: systemRng,
    logger: logger.child({ component: 'http' }),
    limits: { ...DEFAULT_API_LIMITS, kvMaxValueBytes: config.kvMaxValueBytes },
    shutdownSignal: shutdown.signal,
  };
  const app = createApi(deps);
  let listener;
  try {
    listener = await listenHttp(app.fetch, config.httpAddr.host, config.httpAddr.port);
  } catch (err) {
    await store.close();
    await unlock();
    throw err;
  }
  // Until clustering exists this node is its own leader; its HTTP address stands for its raft address.
  node.httpAddr = listener.address;
  node.raftAddr = listener.address;
  cluster.self = listener.address;

  const gc = new TombstoneGc({
    clock,
    logger,
    ttlMs: TOMBSTONE_TTL_MS,
    granularityMs: TOMBSTONE_GRANULARITY_MS,
    appliedIndex: () => applier.appliedIndex(),
    read: (fn) => store.read(fn),
    reap: async (upTo) => {
      await writer.submit({ type: 'kv.reap-tombstones', upTo });
    },
  });
  gc.start();
  logger.info('server ready', {
    node: node.name,
    datacenter: node.datacenter,
    http: listener.address,
    data_dir: config.dataDir,
    applied_index: applier.appliedIndex(),
    hot_paths: Object.entries(hotPaths.impl).map(([op, impl]) => `${op}=${impl}`).join(','),
  });

  let stopping: Promise<void> | undefined;
  const http = listener;
  return {
    httpAddr: listener.address,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        logger.info('shutting down');
        gc.stop();
        shutdown.abort();
        watches.wakeAll();
        await http.close(graceMs);
        await committer.close();
        await store.close();
        await unlock();
        logger.info('shutdown complete');
      })();
      return stopping;
    },
  };
}
