import type { Keyring } from '../core/secrets/keyring.js';
import { Secrets } from '../core/sealing/secrets.js';
import { SealingWriter } from '../core/sealing/sealing-writer.js';
import { FleetReporter } from '../core/fleet/reporter.js';
import { TokenWatch } from '../core/acl/token-watch.js';
import type { AuditSink } from '../core/api/audit-sink.js';
import type { RateLimitSettings } from '../core/api/rate-limit.js';
import { AclResolver, type AclSettings } from '../core/acl/resolve.js';
import type { Hono } from 'hono';
import { createApi } from '../core/api/app.js';
import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { NO_AUDIT } from '../core/api/audit-sink.js';
import { WEB_STREAM_BODIES } from '../core/api/body.js';
import { type ApiLimits, DEFAULT_API_LIMITS, type OperatorPort, type ServerApiDeps } from '../core/api/context.js';
import { NO_RATE_LIMITS } from '../core/api/rate-limit.js';
import { LocalAgent } from '../core/agent/agent.js';
import { AGENT_WATCH_TARGET } from '../core/api/hash-blocking.js';
import type { Probes } from '../core/agent/probes.js';
import { BadRequestError, RefusedError } from '../core/errors.js';
import { Applier } from '../core/fsm/applier.js';
import { StateMachine } from '../core/fsm/state-machine.js';
import { autopilotModule } from '../core/cluster/autopilot.js';
import { membersModule } from '../core/cluster/members.js';
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

const NODE_ID = '00000000-0000-4000-8000-000000000000';

/** Probes for a node whose agent runs no checks (the test node never starts its agent). */
const NO_PROBES: Probes = {
  http: async () => ({ status: 'critical', output: 'no probes in the test node' }),
  tcp: async () => ({ status: 'critical', output: 'no probes in the test node' }),
  udp: async () => ({ status: 'critical', output: 'no probes in the test node' }),
  grpc: async () => ({ status: 'critical', output: 'no probes in the test node' }),
  script: async () => ({ status: 'critical', output: 'no probes in the test node' }),
};

/** The operator port of a node that is alone and cannot join anything (no transport). */
const standaloneOperator: OperatorPort = {
  join: async (addr) => {
    throw new BadRequestError(`the test node cannot join ${addr}: it has no raft transport`);
  },
  leave: async () => {
    throw new BadRequestError('the test node cannot leave: it is not in a cluster');
  },
  members: () => [],
  raftConfiguration: () => ({ Servers: [], Index: 0 }),
  // As a server's operator answers (Consul's RPC errors, 500).
  removePeer: async (by) => {
    const which = by.id !== undefined ? `id ${JSON.stringify(by.id)}` : `address ${JSON.stringify(by.address)}`;
    throw new RefusedError(`${which} was not found in the Raft configuration`);
  },
  transferLeader: async () => {
    throw new RefusedError('no other voter to transfer leadership to');
  },
  autopilotHealth: () => ({ Healthy: true, FailureTolerance: 0, Servers: [] }),
  // It runs no Raft, so it sees no leader change.
  leaderHistory: () => [],
};

/** A complete single-node stack in memory, for tests that drive the API without sockets. */
export interface TestNode {
  readonly app: Hono;
  readonly deps: ServerApiDeps;
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
    /** Encrypted values: the keyring and the encrypted prefixes (none: every value). */
    secrets?: { keyring: Keyring; prefixes?: readonly string[] };
  } = {},
): TestNode {
  // A server's modules: the data modules and the cluster's member records and autopilot settings.
  const machine = new StateMachine([...dataModules(), membersModule, autopilotModule]);
  const store = options.store ?? new MemoryStateStore(machine.tables);
  const watches = new WatchRegistry(options.maxWatchers ?? 1000);
  const applier = new Applier(store, machine, watches);
  const pipeline = new WritePipeline(new SingleNodeCommitter(applier));
  const secrets = options.secrets
    ? new Secrets(options.secrets.keyring, options.secrets.prefixes ?? [], (fn) => store.read(fn))
    : undefined;
  const writer = secrets ? new SealingWriter(pipeline, secrets) : pipeline;
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
  const fleet = new FleetReporter({
    writer,
    clock,
    logger: silentLogger,
    server: 'test',
    appliedIndex: () => applier.appliedIndex(),
  });
  const aclResolver = new AclResolver(options.acl ?? { enabled: false, defaultPolicy: 'allow' });
  const tokenWatch = new TokenWatch({ resolver: aclResolver, read: (fn) => store.read(fn), clock });
  applier.listen(tokenWatch);
  const deps: ServerApiDeps = {
    fleet,
    tokenWatch,
    node: {
      name: 'test',
      id: NODE_ID,
      datacenter: 'dc1',
      version: '0.0.0',
      raftAddr: '127.0.0.1:8300',
      httpAddr: '127.0.0.1:8500',
    },
    store,
    writer,
    watches,
    cluster: {
      leader: () => '127.0.0.1:8300',
      peers: () => ['127.0.0.1:8300'],
      lastContactMs: () => 0,
      replica: false,
      forward: () => Promise.resolve(undefined),
      barrier: () => Promise.resolve(),
    },
    clock,
    rng: seededRng(1),
    logger: silentLogger,
    limits: { ...DEFAULT_API_LIMITS, ...options.limits },
    hotPaths: createTsHotPaths(),
    sessionTimers: sessionTtl,
    changeFeed: feed,
    shutdownSignal: shutdown.signal,
    acl: aclResolver,
    rateLimit: options.rateLimit ?? NO_RATE_LIMITS,
    audit: options.audit ?? NO_AUDIT,
    bodyReader: WEB_STREAM_BODIES,
    operator: standaloneOperator,
    agent: new LocalAgent({
      node: { name: 'test', id: NODE_ID, address: '127.0.0.1', datacenter: 'dc1' },
      clock,
      rng: seededRng(2),
      logger: silentLogger,
      probes: NO_PROBES,
      store,
      writer,
      persist: async () => undefined,
      enableScriptChecks: false,
      syncIntervalMs: 60_000,
      checkUpdateIntervalMs: 300_000,
      maxServices: 1000,
      maxChecks: 1000,
      onLocalChange: () => watches.notify([AGENT_WATCH_TARGET]),
    }),
    // Tests name the client's address with a header (real listeners use the socket's peer).
    clientAddress: (req) => req.headers.get('x-test-client') ?? '127.0.0.1',
    ...(secrets ? { secrets } : {}),
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
