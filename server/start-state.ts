import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { WATCH_STREAM_TABLES } from '../core/api/routes/watch.js';
import { autopilotModule } from '../core/cluster/autopilot.js';
import { membersModule } from '../core/cluster/members.js';
import { CATALOG_TABLES } from '../core/catalog/types.js';
import { Applier } from '../core/fsm/applier.js';
import { META_TABLE } from '../core/fsm/meta.js';
import { StateMachine } from '../core/fsm/state-machine.js';
import { dataModules } from '../core/modules.js';
import { CachedTablesStore } from '../core/store/cached-tables.js';
import { DISK_FULL_RETRY_MS } from '../core/replication/driver.js';
import { WriteBehindStore } from '../core/store/write-behind.js';
import type { HotPaths } from '../core/ports/hot-paths.js';
import type { Logger } from '../core/ports/logger.js';
import { ChangeFeed } from '../core/watch/change-feed.js';
import { WatchRegistry } from '../core/watch/watch-registry.js';
import type { ServerConfig } from './config.js';
import { loadNodeId, lockDataDir } from './data-dir.js';
import { LmdbStateStore } from './lmdb-store.js';
import { RAFT_LOG_TABLE, RAFT_META_TABLE } from '../core/replication/storage.js';
import { describeFailure, StartupError } from './start-errors.js';
import { WalLogStorage } from './wal-log-storage.js';
import type { EntriesFrameCache } from '../core/codec/entries.js';
import type { StartupStack } from './startup-stack.js';
import { systemClock } from '../runtimes/node/clock.js';
import { type Metrics, NO_METRICS } from '../core/ports/metrics.js';

/** How long applied writes may gather before LMDB commits them (see WriteBehindOptions.commitDelay). */
const STATE_COMMIT_DELAY_MS = 10;

/** A server's state: the locked data dir, the LMDB store and what applies committed entries to it. */

export interface ServerState {
  /** The node's UUID, kept in the data dir. */
  readonly nodeId: string;
  readonly store: CachedTablesStore;
  /** The state machine's modules (KV, catalog, sessions, ACLs, events, members, autopilot …). */
  readonly machine: StateMachine;
  readonly watches: WatchRegistry;
  readonly applier: Applier;
  /** Recent changes for watch streams. */
  readonly feed: ChangeFeed;
  /** The Raft log and hard state, in the WAL (snapshots in the LMDB environment). */
  readonly storage: WalLogStorage;
  /** Changes applied in memory and not yet committed to LMDB (WriteBehindStore.backlogSize). */
  readonly uncommitted: () => number;
  /** Rows of a table committed to LMDB (LmdbStateStore.entryCount: no scan; behind by the uncommitted changes). */
  readonly committedRows: (table: string) => number;
  /** Releases the data dir's lock (after the store is closed). */
  readonly unlock: () => Promise<void>;
}

/**
 * Creates and locks the data dir, then opens the LMDB store (state tables and the Raft log) and
 * the parts that apply committed entries to it; pushes the lock and the store onto `stack`.
 * Rejects with StartupError (--data-dir) when the dir cannot be created or another server holds it.
 */
export async function openState(
  config: ServerConfig,
  hotPaths: HotPaths,
  stack: StartupStack,
  logger: Logger,
  entriesFrames?: EntriesFrameCache,
  metrics: Metrics = NO_METRICS,
): Promise<ServerState> {
  await mkdir(config.dataDir, { recursive: true }).catch((err: unknown) => {
    throw new StartupError(
      '--data-dir',
      config.dataDir,
      `cannot create data dir ${config.dataDir}: ${describeFailure(err)} (--data-dir)`,
    );
  });
  const unlock = await lockDataDir(config.dataDir);
  stack.push('data dir lock', unlock);
  const machine = new StateMachine([...dataModules(), membersModule, autopilotModule], metrics);
  const nodeId = await loadNodeId(config.dataDir);
  const lmdb = new LmdbStateStore(join(config.dataDir, 'state.mdb'), [
    ...machine.tables,
    RAFT_LOG_TABLE,
    RAFT_META_TABLE,
  ]);
  // The Raft log in the WAL is durable before anything applies, so LMDB takes the applied state
  // behind the log, many Readies to a commit (gathered for up to STATE_COMMIT_DELAY_MS, so that
  // a trickle of writes does not cost LMDB a transaction and a sync each), while reads see it in
  // memory at once. Closing commits what is still behind, then closes LMDB.
  const cached = [...CATALOG_TABLES, META_TABLE];
  const behind = new WriteBehindStore(lmdb, {
    maxKeyBytes: LmdbStateStore.MAX_KEY_BYTES,
    commitDelay: { clock: systemClock(), ms: STATE_COMMIT_DELAY_MS },
    // A full disk holds the commits (and refuses new writes with 507 disk_full) until space is freed.
    retryWhenFull: { clock: systemClock(), ms: DISK_FULL_RETRY_MS },
    // The cached store made next answers these from memory: the write-behind layer need not keep them.
    answeredAbove: cached,
  });
  stack.push('state store', () => behind.close());
  // Catalog and health reads (HTTP, DNS, Prometheus SD, edge sync) are answered from memory; the
  // tables' modification indexes are cached with them so a read never pairs new data with an old index.
  const loading = performance.now();
  const store = new CachedTablesStore(behind, cached, META_TABLE);
  logger.info('catalog loaded into memory', {
    ms: Math.round(performance.now() - loading),
    ...store.cachedSizes(),
  });
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
  // The raft_log table stays among the tables so a data dir from before the WAL can be moved over.
  const storage = await WalLogStorage.open({
    dir: join(config.dataDir, 'wal'),
    store,
    hp: hotPaths,
    logger,
    ...(entriesFrames ? { entriesFrames } : {}),
  });
  stack.push('raft WAL', () => storage.close());
  const uncommitted = () => behind.backlogSize();
  const committedRows = (table: string) => lmdb.entryCount(table);
  return { nodeId, store, machine, watches, applier, feed, storage, uncommitted, committedRows, unlock };
}
