import type { LocalizedRequest } from '../../core/api/context.js';
import type { RouteFacts } from '../../core/api/route-table.js';
import type { BodyReader } from '../../core/api/body.js';
import { LeaderHistory } from '../../core/cluster/leader-history.js';
import type { Clock } from '../../core/ports/clock.js';
import type { ClusterView } from '../../core/api/context.js';
import { NoLeaderError } from '../../core/errors.js';
import { WritePipeline } from '../../core/pipeline/write-pipeline.js';
import type { Logger } from '../../core/ports/logger.js';
import type { StateStore } from '../../core/ports/state-store.js';
import type { peerFetch } from '../peer-http.js';
import type { RaftDriver } from '../../core/replication/driver.js';
import type { LogStorage } from '../../core/replication/storage.js';
import type { ControlMessage, PeerInfo, RaftTransport } from '../transport.js';
import { AutopilotHealth } from './autopilot-health.js';
import { ClusterCommitter } from './committer.js';
import { LeaderWatch } from './leader-watch.js';
import { Formation } from './formation.js';
import { LeaderForwarder } from './forwarder.js';
import { LeaderDuties } from './leader-duties.js';
import { ClusterOperator } from './operator.js';
import { ClusterState } from './state.js';
import type { Tracer } from '../../core/ports/tracing.js';

/** Options of the cluster coordinator. */
export interface ClusterOptions {
  readonly self: PeerInfo;
  readonly datacenter: string;
  readonly version: string;
  /** Silence after which the leader marks a fleet member offline (ms). */
  readonly edgeOfflineAfterMs: number;
  /** Bootstrap a single-node cluster when there is no state (dev mode). */
  readonly single: boolean;
  /** A bug planted for the nemesis to catch (ServerConfig.testBug; tests only). */
  readonly testBug?: 'stale-consistent-reads';
  /** Servers to gather before bootstrapping a new cluster (0: never bootstrap; join one instead). */
  readonly bootstrapExpect: number;
  /** Raft addresses of servers to contact (retried with backoff). */
  readonly joins: readonly string[];
  readonly transport: RaftTransport;
  readonly storage: LogStorage;
  readonly store: StateStore;
  readonly logger: Logger;
  /** Time of the leader changes the history records (the Raft driver's clock). */
  readonly clock: Clock;
  /** Creates the Raft driver from what storage holds. */
  readonly makeDriver: () => RaftDriver;
  /** How long a forwarded request waits for a leader to appear. */
  readonly leaderWaitMs: number;
  /** Called when this server has left the cluster (it should then stop). */
  readonly onLeft: () => void;
  /** Presented to the leader when forwarding internal proposals. */
  readonly joinToken?: string;
  /** Told whenever this server's Raft role changes (e.g. to start or stop leader-only timers). */
  readonly onRoleChange?: (role: string) => void;
  /** Calls to other servers' APIs (HTTP, or HTTPS when the API is served over TLS). */
  readonly peerFetch: ReturnType<typeof peerFetch>;
  /** Reads request bodies to forward straight from the runtime (see BodyReader). */
  readonly bodyReader?: BodyReader;
  /** ACLs are on (a follower checks a token against state as new as the leader's before a write it runs itself). */
  readonly aclEnabled: boolean;
  /** Opens the spans of requests forwarded to the leader (NO_TRACER when absent). */
  readonly tracer?: Tracer;
}

/**
 * Runs a server's part in the cluster around the Raft driver. It owns the driver's lifecycle and
 * the background rounds, and ties together the roles, each in its own module with its own state:
 * formation (bootstrap, discovery, joining, control requests), the leader's duties and autopilot,
 * the committer (`committer`, also behind `writer`), forwarding to the leader (`forward`) and the
 * operator API (`operator`). It is the server's ClusterView.
 */
export class Cluster implements ClusterView {
  /** A server answers from the cluster's state, never as a replica. */
  readonly replica = false;
  /** Proposes commands through Raft from any server (the leader's /v1/internal/propose included). */
  readonly committer: ClusterCommitter;
  /** Encodes and commits commands through `committer`; the server's single write path. */
  readonly writer: WritePipeline;
  /** The operator API (/v1/agent/join, leave, members, /v1/operator/raft and autopilot). */
  readonly operator: ClusterOperator;
  private readonly state: ClusterState;
  private readonly formation: Formation;
  private readonly duties: LeaderDuties;
  private readonly forwarder: LeaderForwarder;
  /** What this server sent to the leader and waits for (forwarded requests, proposals). */
  private readonly watch: LeaderWatch;
  /** The leader changes this server observed (GET /v1/operator/raft/leader-history). */
  private readonly history: LeaderHistory;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: ClusterOptions) {
    const state = new ClusterState(o.self, o.transport, o.store);
    this.state = state;
    this.history = new LeaderHistory(o.clock);
    this.watch = new LeaderWatch(state);
    this.committer = new ClusterCommitter({
      state,
      transport: o.transport,
      watch: this.watch,
      peerFetch: o.peerFetch,
      leaderWaitMs: o.leaderWaitMs,
      ...(o.joinToken ? { joinToken: o.joinToken } : {}),
      ...(o.tracer ? { tracer: o.tracer } : {}),
    });
    this.writer = new WritePipeline(this.committer);
    const health = new AutopilotHealth(state, o.store, o.version);
    this.duties = new LeaderDuties({
      state,
      store: o.store,
      writer: this.writer,
      health,
      datacenter: o.datacenter,
      logger: o.logger,
      clock: o.clock,
      edgeOfflineAfterMs: o.edgeOfflineAfterMs,
    });
    this.formation = new Formation({
      state,
      transport: o.transport,
      storage: o.storage,
      logger: o.logger,
      single: o.single,
      bootstrapExpect: o.bootstrapExpect,
      joins: o.joins,
      duties: this.duties,
      startDriver: () => this.startDriver(),
    });
    this.forwarder = new LeaderForwarder({
      state,
      peerFetch: o.peerFetch,
      leaderWaitMs: o.leaderWaitMs,
      logger: o.logger,
      transport: o.transport,
      readBarrier: () => this.barrier(),
      watch: this.watch,
      aclEnabled: o.aclEnabled,
      ...(o.bodyReader ? { bodyReader: o.bodyReader } : {}),
      ...(o.tracer ? { tracer: o.tracer } : {}),
    });
    this.operator = new ClusterOperator({
      state,
      transport: o.transport,
      formation: this.formation,
      duties: this.duties,
      health,
      history: this.history,
      datacenter: o.datacenter,
      version: o.version,
      logger: o.logger,
      onLeft: o.onLeft,
    });
  }

  /** The running Raft driver (undefined before start() and briefly while a new cluster bootstraps). */
  get driver(): RaftDriver | undefined {
    return this.state.driver;
  }

  /** Starts Raft (bootstrapping a single-node cluster when asked) and the background rounds. */
  async start(): Promise<void> {
    await this.formation.bootstrapIfSingle();
    this.startDriver();
    this.every(1000, () => this.formation.discover());
    this.every(500, () => this.duties.run());
    void this.formation.discover();
  }

  /** Stops the rounds, aborts forwarded requests and proposals in flight, and closes the driver. */
  async stop(): Promise<void> {
    this.state.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.watch.stop();
    await this.state.driver?.close();
  }

  /** Answers another server's control request (the transport authenticated it already). */
  onControl(c: ControlMessage): Promise<ControlMessage> {
    return this.formation.onControl(c);
  }

  // ---- ClusterView -------------------------------------------------------------------------------

  leader(): string | undefined {
    return this.state.leaderInfo()?.raftAddr;
  }

  /** The servers this one knows in its datacenter (itself included), and the leader's name when known. */
  localServers(): { readonly servers: readonly PeerInfo[]; readonly leader: string | undefined } {
    return { servers: this.state.knownPeers(), leader: this.state.leaderInfo()?.name };
  }

  /**
   * Asks every other server of the configuration (voters and learners) for `path` on its API
   * (GET, with `headers`), at most `timeoutMs` each, all at once. Each answer is the JSON body of
   * a 200, or the reason there is none.
   */
  async askServers(
    path: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<Array<{ readonly server: string; readonly body?: unknown; readonly error?: string }>> {
    const conf = this.state.driver?.membership();
    const names = [...(conf?.voters ?? []), ...(conf?.learners ?? [])].filter((n) => n !== this.state.self.name);
    return Promise.all(
      names.map(async (server) => {
        const peer = this.state.addressOf(server);
        if (!peer) return { server, error: 'address unknown' };
        try {
          const init = { method: 'GET', headers, signal: AbortSignal.timeout(timeoutMs) };
          const res = await this.o.peerFetch(peer.httpAddr, path, init);
          if (res.status !== 200) return { server, error: `answered ${res.status}` };
          return { server, body: (await res.json()) as unknown };
        } catch (err) {
          return { server, error: (err as Error).message };
        }
      }),
    );
  }

  term(): number {
    return this.state.driver?.status().term ?? 0;
  }

  /** A server's addresses by node name (discovery, else the replicated member records); undefined when unknown. */
  addressOf(name: string): PeerInfo | undefined {
    return this.state.addressOf(name);
  }

  peers(): string[] {
    const conf = this.state.driver?.membership();
    return (conf?.voters ?? [])
      .map((n) => this.state.addressOf(n)?.raftAddr)
      .filter((a): a is string => a !== undefined);
  }

  lastContactMs(): number {
    const ms = this.state.driver?.lastContactMs() ?? Infinity;
    return Number.isFinite(ms) ? ms : 0;
  }

  async barrier(): Promise<void> {
    if (!this.state.driver) throw new NoLeaderError();
    // The planted bug: a follower answers from whatever it has applied, however old.
    if (this.o.testBug === 'stale-consistent-reads' && this.state.driver.role() !== 'leader') return;
    await this.state.driver.readBarrier();
  }

  forward(
    req: Request,
    route: RouteFacts,
    localize?: (req: Request) => Promise<LocalizedRequest>,
  ): Promise<Response | undefined> {
    return this.forwarder.forward(req, route, localize);
  }

  // ---- internals ---------------------------------------------------------------------------------

  private every(ms: number, fn: () => Promise<void> | void): void {
    const t = setInterval(() => {
      if (this.state.stopped) return;
      Promise.resolve(fn()).catch((err: unknown) =>
        this.o.logger.debug('cluster task failed', { error: (err as Error).message }),
      );
    }, ms);
    this.timers.push(t);
  }

  private startDriver(): void {
    const d = this.o.makeDriver();
    d.onRoleChange((role, lead, term) => {
      if (role === 'leader') this.state.leaderSince = Date.now();
      this.history.observe(lead, term);
      this.o.logger.info('raft role changed', { role, leader: lead ?? null });
      this.o.onRoleChange?.(role);
    });
    d.start();
    this.state.driver = d;
  }
}
