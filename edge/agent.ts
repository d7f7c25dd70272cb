import { Secrets } from '../core/sealing/secrets.js';
import { Keyring } from '../core/secrets/keyring.js';
import { GRANT_HEADER } from '../core/acl/grant.js';
import { WEB_STREAM_BODIES } from '../core/api/body.js';
import { type ApiDeps, DEFAULT_API_LIMITS } from '../core/api/context.js';
import type { Clock } from '../core/ports/clock.js';
import type { Logger } from '../core/ports/logger.js';
import type { Rng } from '../core/ports/rng.js';
import type { RuntimeAdapter } from '../core/ports/runtime.js';
import { MemoryStateStore } from '../core/store/memory-store.js';
import { Replica, REPLICA_TABLES, type ReplicaDelta } from '../core/sync/replica.js';
import { normalizeScope } from '../core/sync/scope.js';
import { randomUuid } from '../core/util/uuid.js';
import { WatchRegistry } from '../core/watch/watch-registry.js';
import { createEdgeApi } from './api.js';
import { createEdgeMetrics } from './metrics.js';
import { UpstreamOnlyWriter } from './writer.js';
import type { EdgeConfig } from './config.js';
import { Outbox } from './outbox.js';
import { startAnnouncer } from './announce.js';
import { EdgeAclFollower } from './acl.js';
import { GrantBook } from './grants.js';
import { UpstreamChooser } from './upstreams.js';
import { EdgePersistence, memoryFileStore } from './persist.js';
import { ReplicaSink } from './sink.js';

/** A running edge agent. */
export interface RunningEdgeAgent {
  readonly httpAddr: string;
  readonly agentId: string;
  stop(): Promise<void>;
}

/** How often pending outbox items are retried while any wait (ms). */
const REPLAY_EVERY_MS = 2000;
/** A link without a message for this long counts as down (ms) (servers send progress every 5-15 s). */
const STALE_LINK_MS = 45_000;

/**
 * Composition root of `konsul edge`: the replica (in memory, ordered by the hot-path key index,
 * persisted in the runtime's files), the sync client (HTTP or MQTT), the outbox and the local API.
 */
export async function startEdgeAgent(
  config: EdgeConfig,
  runtime: RuntimeAdapter,
  logger: Logger,
  clock: Clock,
  rng: Rng,
): Promise<RunningEdgeAgent> {
  const scope = normalizeScope({ prefixes: config.prefixes, services: config.services });
  // Requests to the servers go through the runtime's client where it has a lighter one than fetch.
  const upstreamFetch = runtime.fetch ?? fetch;
  // Several upstreams (in several datacenters): the nearest answering one is used.
  const upstreams = new UpstreamChooser({
    bases: config.upstreams,
    fetch: upstreamFetch,
    logger,
    probeEveryMs: 10_000,
  });
  const upstream = () => upstreams.current();
  const persist = new EdgePersistence(config.storage === 'fs' ? runtime.files(config.dataDir) : memoryFileStore());
  const agentId = config.nodeName ?? (await persist.getMeta<string>('agent-id')) ?? randomUuid(rng);
  await persist.setMeta('agent-id', agentId);
  // The datacenter the replica came from, when the agent has upstreams in several.
  let replicaDc = await persist.getMeta<string>('replica-datacenter');
  // TypeScript until a table holds thousands of keys: compiling the .wasm cost Bun about 8 ms of
  // a 50 ms start, and a replica of a few thousand keys is as fast either way.
  const hotPaths = await runtime.loadHotPaths('deferred');
  const watches = new WatchRegistry(16_384, hotPaths.createPrefixMatcher());
  const store = new MemoryStateStore(REPLICA_TABLES, () => hotPaths.createKeyIndex());
  const replica = new Replica(store, watches, scope);

  const saved = await persist.loadReplica();
  const sameScope = saved.meta && JSON.stringify(saved.meta.scope) === JSON.stringify(scope);
  if (saved.meta && sameScope) {
    await replica.load(saved.meta.index, saved.kv, saved.health);
    logger.info('replica loaded', { index: saved.meta.index, keys: saved.kv.length, instances: saved.health.length });
  } else if (saved.meta) {
    logger.info('scope changed: the replica starts over', { was: JSON.stringify(saved.meta.scope) });
  }
  const persistDelta = (delta: ReplicaDelta) =>
    persist
      .saveDelta(delta, { scope, agentId })
      .catch((err: unknown) => logger.error('persisting the replica failed', { error: (err as Error).message }));
  let linkUp = false;
  let upstreamDownUntil = 0;
  const startedAt = clock.now();
  const online = () => linkUp && clock.now() >= upstreamDownUntil && clock.now() - sink.lastMessageAt < STALE_LINK_MS;
  const lastContactMs = () => clock.now() - (sink.lastMessageAt === 0 ? startedAt : sink.lastMessageAt);
  const metrics = createEdgeMetrics({
    online,
    replicaIndex: () => replica.lastIndex,
    serverIndex: () => sink.serverIndex,
    lastContactMs,
    outboxPending: () => outbox.pending,
    outboxKept: () => outbox.list().length,
    rss: () => runtime.rss(),
  });
  const sink = new ReplicaSink(replica, persistDelta, logger, () => clock.now(), metrics.port);

  const outbox = new Outbox({
    persist,
    logger,
    clock,
    rng,
    max: config.outboxMax,
    agentId,
    metrics: metrics.port,
    sawIndex: (index) => sink.seen(index),
    upstream: async (body, key, grant) => {
      const res = await upstreamFetch(`${upstream()}/v1/txn`, {
        method: 'PUT',
        body,
        headers: {
          'Content-Type': 'application/json',
          'X-Konsul-Idempotency-Key': key,
          // The agent sends it; with a grant the servers check it as the writer the grant names.
          ...(config.token ? { 'X-Consul-Token': config.token } : {}),
          ...(grant ? { [GRANT_HEADER]: grant } : {}),
        },
      });
      return { status: res.status, body: await res.text(), headers: res.headers };
    },
  });
  await outbox.load();
  // With ACLs on, tokens are checked here against replicated ACL data, and writes queued while
  // offline carry their writer's grant.
  const acl = await EdgeAclFollower.open({
    upstream,
    token: config.token,
    persist,
    logger,
    rng,
    fetch: upstreamFetch,
  });
  acl.start();
  const grants = new GrantBook({
    upstream,
    agentId,
    agentToken: config.token,
    persist,
    logger,
    now: () => clock.now(),
    fetch: upstreamFetch,
  });
  await grants.load();

  const reconnects = metrics.port.counter(
    'konsul_edge_sync_reconnects_total',
    'Times the sync link to the servers opened again after it was lost',
  );
  let linkLost = false;
  const onLink = (up: boolean): void => {
    if (up && linkLost) reconnects.inc();
    if (!up) linkLost = true;
    linkUp = up;
    if (up) {
      void outbox.replay();
      announceNow();
    }
  };
  // Announces at once when the link comes up (set once the announcer exists).
  let announceNow = (): void => undefined;
  // Only the chosen transport is loaded (the MQTT client library is not small).
  const sync =
    config.sync === 'http'
      ? new (await import('./sync-http.js')).HttpSync({
          upstream,
          agentId,
          token: config.token,
          datacenter: () => upstreams.datacenter(),
          replicaDatacenter: {
            get: () => replicaDc,
            set: (dc: string) => {
              if (dc === replicaDc) return;
              replicaDc = dc;
              void persist.setMeta('replica-datacenter', dc);
            },
          },
          failed: (base: string) => upstreams.failed(base),
          prefixes: scope.prefixes,
          services: scope.services,
          replica,
          sink,
          logger,
          onLink,
          fetch: upstreamFetch,
        })
      : new (await import('./sync-mqtt.js')).MqttSync({
          url: config.mqttUrl as string,
          protocol: config.mqttProtocol,
          sessionExpirySeconds: config.mqttSessionExpirySeconds,
          announceExpirySeconds: Math.ceil(config.announceEveryMs / 1000),
          agentId,
          token: config.token,
          datacenter: config.datacenter,
          prefixes: scope.prefixes,
          services: scope.services,
          replica,
          sink,
          logger,
          rng,
          onLink,
        });
  // With several upstreams the first probe round picks the nearest before the stream opens.
  await upstreams.start();
  sync.start();
  // The servers' fleet table hears of this agent over its sync link.
  const announcer = startAnnouncer({
    everyMs: config.announceEveryMs,
    logger,
    report: () => ({
      Runtime: runtime.name,
      RuntimeVersion: runtime.version,
      Version: config.version,
      Arch: runtime.arch,
      Datacenter: config.datacenter,
      Prefixes: scope.prefixes,
      Services: scope.services,
      ReplicaIndex: replica.lastIndex,
      OutboxDepth: outbox.pending,
    }),
    send:
      'announce' in sync
        ? (json) => Promise.resolve(sync.announce(json))
        : async (json) => {
            const res = await upstreamFetch(`${upstream()}/v1/edge/agents/${encodeURIComponent(agentId)}`, {
              method: 'PUT',
              body: json,
              headers: {
                'Content-Type': 'application/json',
                ...(config.token ? { 'X-Consul-Token': config.token } : {}),
              },
            });
            await res.body?.cancel();
            if (!res.ok) logger.debug('announcement refused', { status: res.status });
            return res.ok;
          },
  });
  announceNow = () => announcer.now();
  const replayTimer = setInterval(() => {
    if (outbox.pending > 0) void outbox.replay();
  }, REPLAY_EVERY_MS);

  const node = {
    name: agentId,
    id: agentId,
    datacenter: config.datacenter,
    version: config.version,
    raftAddr: '',
    httpAddr: '',
  };
  const shutdown = new AbortController();
  const deps: ApiDeps = {
    node,
    store,
    writer: new UpstreamOnlyWriter(),
    watches,
    cluster: {
      leader: () => (online() ? new URL(upstream()).host : undefined),
      peers: () => [],
      lastContactMs,
      replica: true,
      // The edge API forwards what the servers must answer before any route runs (edge/api.ts).
      forward: () => Promise.resolve(undefined),
      barrier: () => Promise.resolve(),
    },
    clock,
    rng,
    logger: logger.child({ component: 'http' }),
    limits: DEFAULT_API_LIMITS,
    hotPaths,
    // Tokens are matched by their salted hashes in the replicated ACL data (edge/acl.ts).
    acl: acl.resolver,
    bodyReader: WEB_STREAM_BODIES,
    shutdownSignal: shutdown.signal,
    // Replicated values stay sealed on disk; they are opened when answering (503 without the key).
    secrets: new Secrets(
      config.encryptKeys ? await Keyring.load(globalThis.crypto.subtle, config.encryptKeys) : undefined,
      [],
    ),
  };
  const app = createEdgeApi({
    deps,
    scope,
    upstream,
    fetch: upstreamFetch,
    acl,
    aclRequired: config.aclRequired,
    grants,
    outbox,
    online,
    upstreamFailed: () => {
      upstreamDownUntil = clock.now() + 2000;
      upstreams.failed(upstream());
    },
    sawIndex: (index) => sink.seen(index),
    metrics: metrics.reader,
    maxBodyBytes: 1024 * 1024,
    ui: runtime.readUiFile,
    status: () => ({
      Agent: agentId,
      Runtime: runtime.name,
      Upstream: upstream(),
      ...(upstreams.datacenter() !== undefined ? { UpstreamDatacenter: upstreams.datacenter() } : {}),
      Sync: config.sync,
      Connected: online(),
      Index: replica.lastIndex,
      LastContactMs: deps.cluster.lastContactMs(),
      Scope: { Prefixes: scope.prefixes, Services: scope.services },
      Outbox: { Pending: outbox.pending, Kept: outbox.list().length },
      Acl: { Mode: acl.mode, Index: acl.index, Grants: grants.size },
      Storage: config.storage,
      // null where the runtime cannot tell (Bun under qemu user-mode emulation reports 0).
      RssBytes: runtime.rss() || null,
    }),
  });
  const http = await runtime.serve(app.fetch, config.httpAddr.host, config.httpAddr.port);
  node.httpAddr = http.address;
  logger.info('edge agent ready', {
    agent: agentId,
    runtime: runtime.name,
    http: http.address,
    upstream: upstream(),
    sync: config.sync,
    index: replica.lastIndex,
  });

  let stopping: Promise<void> | undefined;
  return {
    httpAddr: http.address,
    agentId,
    stop() {
      stopping ??= (async () => {
        clearInterval(replayTimer);
        announcer.stop();
        shutdown.abort();
        watches.wakeAll();
        await http.close();
        await sync.stop();
        await acl.stop();
        upstreams.stop();
        await persist.close();
        logger.info('edge agent stopped');
      })();
      return stopping;
    },
  };
}
