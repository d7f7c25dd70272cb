import type { AuditSink } from '../core/api/audit-sink.js';
import type { RateLimitSettings } from '../core/api/rate-limit.js';
import { AclResolver, type AclSettings } from '../core/acl/resolve.js';
import type { Hono } from 'hono';
import { createApi } from '../core/api/app.js';
import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { type ApiDeps, type ApiLimits, DEFAULT_API_LIMITS } from '../core/api/context.js';
import { Applier } from '../core/fsm/applier.js';
import { StateMachine } from '../core/fsm/state-machine.js';
import { dataModules } from '../core/modules.js';
import { WATCH_STREAM_TABLES } from '../core/api/routes/watch.js';
import { SingleNodeCommitter } from '../core/pipeline/single-node-committer.js';
import { WritePipeline } from '../core/pipeline/write-pipeline.js';
import { silentLogger } from '../core/ports/logger.js';
import type { StateStore } from '../core/ports/state-store.js';
import { MemoryStateStore } from '../core/store/memory-store.js';
import { SessionTtl } from '../core/session/ttl.js';
import type { SessionDestroyCommand } from '../core/session/state-machine.js';
import { ChangeFeed } from '../core/watch/change-feed.js';
import { WatchRegistry } from '../core/watch/watch-registry.js';
import { ManualClock } from './manual-clock.js';
import { seededRng } from './seeded-rng.js';

/** A complete single-node stack in memory, for tests that drive the API without sockets. */
export interface TestNode {
  readonly app: Hono;
  readonly deps: ApiDeps;
  readonly store: StateStore;
  readonly clock: ManualClock;
  readonly shutdown: AbortController;
  /** The session TTL clock, active as on a leader (sweep it after advancing the clock). */
  readonly sessionTtl: SessionTtl;
  /** The change feed behind watch streams. */
  readonly feed: ChangeFeed;
  /** Sends a request to the app ("/v1/kv/a", init). */
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** Builds a TestNode on a MemoryStateStore with a ManualClock and a seeded Rng. */
export function createTestNode(
  options: {
    limits?: Partial<ApiLimits>;
    store?: StateStore;
    maxWatchers?: number;
    feed?: { maxEvents?: number; maxBytes?: number; maxSubscribers?: number };
    acl?: AclSettings;
    rateLimit?: RateLimitSettings;
    audit?: AuditSink;
  } = {},
): TestNode {
  const machine = new StateMachine(dataModules());
  const store = options.store ?? new MemoryStateStore(machine.tables);
  const watches = new WatchRegistry(options.maxWatchers ?? 1000);
  const applier = new Applier(store, machine, watches);
  const writer = new WritePipeline(new SingleNodeCommitter(applier));
  const clock = new ManualClock();
  const shutdown = new AbortController();
  const feed = new ChangeFeed({
    tables: WATCH_STREAM_TABLES,
    maxEvents: options.feed?.maxEvents ?? 10_000,
    maxBytes: options.feed?.maxBytes ?? 64 * 1024 * 1024,
    maxSubscribers: options.feed?.maxSubscribers ?? 100,
    startIndex: applier.appliedIndex(),
  });
  applier.listen(feed);
  const sessionTtl = new SessionTtl({
    clock,
    logger: silentLogger,
    read: (fn) => store.read(fn),
    expire: async (id) => {
      await writer.submit<boolean, SessionDestroyCommand>({ type: 'session.destroy', id, now: clock.now() });
    },
    sweepMs: 1000,
    maxTracked: 100_000,
  });
  sessionTtl.activate();
  const deps: ApiDeps = {
    node: {
      name: 'test',
      id: '00000000-0000-4000-8000-000000000000',
      datacenter: 'dc1',
      version: '0.0.0',
      raftAddr: '127.0.0.1:8300',
      httpAddr: '127.0.0.1:8500',
    },
    store,
    writer,
    watches,
    cluster: { leader: () => '127.0.0.1:8300', peers: () => ['127.0.0.1:8300'], lastContactMs: () => 0 },
    clock,
    rng: seededRng(1),
    logger: silentLogger,
    limits: { ...DEFAULT_API_LIMITS, ...options.limits },
    hotPaths: createTsHotPaths(),
    sessionTimers: sessionTtl,
    changeFeed: feed,
    shutdownSignal: shutdown.signal,
    ...(options.acl ? { acl: new AclResolver(options.acl) } : {}),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(options.audit ? { audit: options.audit } : {}),
    // Tests name the client's address with a header (real listeners use the socket's peer).
    clientAddress: (req) => req.headers.get('x-test-client') ?? '127.0.0.1',
  };
  const app = createApi(deps);
  return {
    app,
    deps,
    store,
    clock,
    shutdown,
    sessionTtl,
    feed,
    request: (path, init) => Promise.resolve(app.request(`http://konsul.test${path}`, init)),
  };
}
