import { DiskFullError, NoLeaderError, OverloadedError, ShuttingDownError } from '../errors.js';
import type { Applier, StagedApply } from '../fsm/applier.js';
import { writeAppliedIndex, writeConfState } from '../fsm/meta.js';
import type { ApplyResult, CommittedEntry } from '../fsm/state-machine.js';
import type { Clock, TimerHandle } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import {
  type CounterMetric,
  type HistogramMetric,
  LATENCY_BUCKETS,
  MetricChildren,
  type Metrics,
  NO_METRICS,
} from '../ports/metrics.js';
import type { Rng } from '../ports/rng.js';
import { NO_TRACER, type Tracer } from '../ports/tracing.js';
import type { ReadView, StateStore, WriteTxn } from '../ports/state-store.js';
import type { Transport } from '../ports/transport.js';
import { applyToConf } from '../raft/conf-change.js';
import type { RaftConfig } from '../raft/config.js';
import { ProposalDroppedError, ProposalTimeoutError } from '../raft/errors.js';
import { confChangeOf } from '../raft/raft.js';
import { type RaftStatus, RawNode } from '../raft/raw-node.js';
import type { ConfChange, ConfState, Entry, Message, NodeId, RaftRole, Ready } from '../raft/types.js';
import { DumpBuilder, parseDump, replaceTables } from '../snapshot/state-snapshot.js';
import type { LogStorage } from './storage.js';
import { type ProposalTrace, Waiters } from './waiters.js';

/**
 * Deliberate driver mistakes, for proving that the simulator catches them (testing/sim).
 * Never set outside tests.
 */
export interface DriverBugs {
  /**
   * Count entries as applied (serve reads, take snapshots) when the transaction applying them is
   * issued, not when it has completed: reads and snapshots then miss writes that are committed.
   */
  readonly applyBeforeDurable?: boolean;
  /**
   * Send every Ready's messages before its write, so followers acknowledge entries and grant
   * votes they may lose in a crash (§5.3).
   */
  readonly ackBeforePersist?: boolean;
  /**
   * Report a Ready durable when its write is issued, so a leader counts its own unpersisted
   * entries toward commitment.
   */
  readonly countUnpersistedOwnEntries?: boolean;
}

/** What the driver tells an observer (the simulator's checkers; metrics). Called after the fact, in order. */
export interface RaftObserver {
  /** Committed entries whose apply transaction completed, with one result per entry. */
  applied?(entries: readonly Entry[], results: readonly ApplyResult[]): void;
  /** A snapshot from the leader replaced the state at `index`. */
  snapshotInstalled?(index: number): void;
}

/** How often a log write refused for want of disk space is tried again (ms). */
export const DISK_FULL_RETRY_MS = 1000;

/** Options of the driver; bounds are positive integers. */
export interface RaftDriverOptions {
  readonly id: NodeId;
  readonly rng: Rng;
  readonly clock: Clock;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'rng'>>;
  /** Milliseconds between Raft ticks (the election timeout is electionTicks to twice that). */
  readonly tickMs: number;
  readonly storage: LogStorage;
  /** The store the storage and the state machine share (snapshots are dumped from it). */
  readonly store: StateStore;
  /** State tables (what snapshots hold), i.e. the state machine's tables. */
  readonly stateTables: readonly string[];
  readonly applier: Applier;
  readonly logger: Logger;
  readonly transport: Transport<Message>;
  /** Compact the log when this many applied entries follow the last snapshot. */
  readonly snapshotThreshold: number;
  /**
   * After a compaction snapshot starts, the next waits at least this long (ms; default 0), as
   * Consul's raft_snapshot_interval spaces its snapshots, unless 8 × snapshotThreshold entries
   * have been applied since the last one (which bounds the log kept in memory).
   */
  readonly snapshotIntervalMs?: number;
  /**
   * Rows a compaction snapshot encodes per turn of the event loop (default 512, a few ms of
   * catalog rows): the snapshot is built from a read view in slices, between which writes keep
   * committing, then joined into one array SNAPSHOT_JOIN_BYTES per turn.
   */
  readonly snapshotRowsPerSlice?: number;
  /** Proposals and reads waiting for a result or for their turn; more are refused. */
  readonly maxPending: number;
  /** How long a proposal or read may wait before it fails (outcome unknown for writes). */
  readonly requestTimeoutMs: number;
  /** Messages queued while Raft cannot be stepped; more are dropped (Raft retransmits). */
  readonly maxQueuedMessages: number;
  /**
   * Ready writes in flight at once (default 1: each Ready is durable before the next is made).
   * Above 1, Raft is stepped and further Readies are written while earlier writes run.
   */
  readonly maxWritesInFlight?: number;
  readonly observer?: RaftObserver;
  /** Where the driver's metrics go (konsul_raft_*; see docs/OBSERVABILITY.md); none by default. */
  readonly metrics?: Metrics;
  /**
   * Opens "raft replicate" (appended to the log here until committed) and "raft apply" (committed
   * until applied here and its result known) spans for a proposal made within a traced write, as
   * children of the span current when propose() was called. NO_TRACER by default.
   */
  readonly tracer?: Tracer;
  /**
   * Told once when the loop stops on a failure it cannot go on from (a log or state write that
   * failed, e.g. on a full disk): nothing more can be made durable here, so the owner should stop
   * the server and let a restart recover from what is on disk.
   */
  readonly onFatal?: (err: unknown) => void;
  readonly plantedBugs?: DriverBugs;
}

/** The driver's instruments. */
interface DriverMetrics {
  readonly leaderChanges: CounterMetric;
  readonly elections: CounterMetric;
  readonly commit: HistogramMetric;
  readonly apply: HistogramMetric;
  readonly appliedEntries: CounterMetric;
  /** konsul_raft_rpc_seconds per peer and kind. */
  readonly rpc: MetricChildren<HistogramMetric>;
  readonly snapshots: CounterMetric;
  readonly snapshotBuild: HistogramMetric;
  readonly snapshotsInstalled: CounterMetric;
  readonly snapshotBytes: HistogramMetric;
}

const ROLES: readonly RaftRole[] = ['follower', 'preCandidate', 'candidate', 'leader'];

/** Bucket bounds in bytes for snapshots, 64 KiB to 4 GiB. */
const SNAPSHOT_BYTE_BUCKETS = [2 ** 16, 2 ** 20, 2 ** 22, 2 ** 24, 2 ** 26, 2 ** 28, 2 ** 30, 2 ** 32];

/** Which response ends the round trip a leader's message starts. */
const RESPONSE_OF: Partial<Record<Message['type'], { readonly type: Message['type']; readonly rpc: string }>> = {
  app: { type: 'appResp', rpc: 'append' },
  heartbeat: { type: 'heartbeatResp', rpc: 'heartbeat' },
  snap: { type: 'snapResp', rpc: 'install_snapshot' },
};

type Input =
  | {
      kind: 'propose';
      data: Uint8Array;
      /** The traceparent of the write's span, when traced. */
      parent: string | undefined;
      resolve: (r: ApplyResult) => void;
      reject: (e: unknown) => void;
    }
  | { kind: 'read'; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'conf'; cc: ConfChange; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'transfer'; to: NodeId; resolve: () => void; reject: (e: unknown) => void };

/** A Ready whose write was issued; `done` once the write completed (results in `staged`). */
interface InFlight {
  readonly rd: Ready;
  /** The term when the Ready was made: the one its soft state's role belongs to. */
  readonly term: number;
  readonly sentEarly: boolean;
  /** Committed entries as handed to the state machine (membership changes carry the new membership). */
  readonly batch: readonly CommittedEntry[];
  /** The write's log part is on disk (LogStorage's onDurable); its messages may go. */
  durable: boolean;
  /** Whether raw.persisted and the messages were done for it already. */
  acked: boolean;
  done: boolean;
  staged: StagedApply | undefined;
}

const notApplied = () => new ProposalDroppedError();
const leaderChanged = () => new NoLeaderError('No cluster leader: the leader changed before it confirmed the read');

/** Bytes of a built snapshot joined into one array per turn of the event loop (a few ms of copying). */
const SNAPSHOT_JOIN_BYTES = 4 * 1024 * 1024;

/** Entries past the threshold, as a multiple of it, after which a snapshot no longer waits for its interval. */
const SNAPSHOT_BACKLOG_FACTOR = 8;

/** A compaction snapshot being built from a read view of the state at `index`. */
interface SnapshotBuild {
  readonly index: number;
  readonly startedAt: number;
  readonly conf: ConfState;
  readonly view: ReadView;
  readonly builder: DumpBuilder;
  timer: TimerHandle | undefined;
  /** Every row is encoded (the view is closed); the chunks are being joined. */
  encoded: boolean;
  /** Joined into one array: ready to compact. */
  done: boolean;
}

/**
 * Runs a RawNode against storage, a transport and the state machine, on a Clock: the one loop
 * every server runs and the simulator checks. For each Ready, in order: a leader's messages go
 * out first when allowed (its log write overlaps replication, thesis §10.2.1); the log write and
 * the applying of the committed entries share one transaction, synced only when the Ready must
 * be; when that write completes the Ready is reported durable (RawNode.persisted, from which a
 * leader counts its own entries), the remaining messages go out, and proposals, reads and
 * watchers learn the results. Raft is advanced as soon as a write is issued; it is stepped,
 * ticked or given proposals only while fewer than maxWritesInFlight writes run, never between
 * ready() and advance(). Reads and snapshots use the index whose apply has completed.
 * Single-threaded: every method runs to completion; writes complete through the store's promises.
 */
export class RaftDriver {
  readonly raw: RawNode;
  private conf: ConfState;
  /** Membership as of the last committed entry handed to a write (ahead of `conf` while writes run). */
  private stagedConf: ConfState;
  private appliedIndex: number;
  private readonly messages: Message[] = [];
  private readonly inputs: Input[] = [];
  private readonly waiters = new Waiters();
  private readonly inflight: InFlight[] = [];
  /** When the last compaction snapshot started (clock ms), if one did since start-up. */
  private lastSnapshotStart: number | undefined;
  private readonly maxInFlight: number;
  private ticks = 0;
  private pumping = false;
  private dirty = false;
  private closed = false;
  private tickTimer: TimerHandle | undefined;
  private readSeq = 0;
  /**
   * Starts every read context: this node and the moment this driver was made, so a context is
   * unique in the cluster and never one a leader still holds from this node's previous run.
   */
  private readonly readPrefix: string;
  /** Reads in ReadIndex rounds under way (counted one by one against maxPending). */
  private readsWaiting = 0;
  /**
   * Reads that arrived while a ReadIndex round of this node had no read point yet: they go in
   * the next round, all together, once that one has its point (or failed). Counted against
   * maxPending too.
   */
  private heldReads: Array<Extract<Input, { kind: 'read' }>> = [];
  private lastLeaderContact = 0;
  private readonly roleListeners: Array<(role: RaftStatus['role'], lead: NodeId | undefined, term: number) => void> =
    [];
  private drained: Array<() => void> = [];
  /** The compaction snapshot being built (at most one). */
  private building: SnapshotBuild | undefined;
  private readonly m: DriverMetrics;
  /** Per peer, when its last message arrived (clock ms). */
  private readonly lastHeard = new Map<NodeId, number>();
  /** Per peer and round-trip kind, the timer of the oldest message still unanswered. */
  private readonly roundTrips = new Map<string, () => number>();
  /** The leader as of the last durable Ready (for counting leader changes). */
  private knownLeader: NodeId | undefined;
  /** Set while the log cannot be appended to for want of disk space (the write is retried). */
  private diskFull: DiskFullError | undefined;
  private diskRetry: TimerHandle | undefined;

  private readonly tracer: Tracer;

  /** Loads what the storage holds and builds the RawNode; call start() to begin ticking. */
  constructor(private readonly o: RaftDriverOptions) {
    this.tracer = o.tracer ?? NO_TRACER;
    const init = o.storage.load();
    this.conf = init.conf ?? { voters: [], learners: [] };
    this.stagedConf = this.conf;
    this.appliedIndex = init.applied ?? 0;
    this.maxInFlight = o.maxWritesInFlight ?? 1;
    this.readPrefix = `${o.id}.${o.clock.now()}.`;
    // A Ready's entries and the committed ones it applies share one write, the log first: as
    // the only voter a leader may commit what it has just appended.
    // eslint-disable-next-line no-restricted-syntax -- built once, at start-up
    this.raw = new RawNode({ ...o.raft, id: o.id, rng: o.rng, soleVoterCommitsUnpersisted: true }, init);
    const metrics = o.metrics ?? NO_METRICS;
    const rpc = metrics.histogram(
      'konsul_raft_rpc_seconds',
      'Round trip of a leader message to a peer and its answer, by peer and kind',
      LATENCY_BUCKETS,
      ['peer', 'type'],
    );
    this.m = {
      leaderChanges: metrics.counter('konsul_raft_leader_changes_total', 'Times this server saw the leader change'),
      elections: metrics.counter('konsul_raft_elections_total', 'Elections this server started (as candidate)'),
      commit: metrics.histogram(
        'konsul_raft_commit_seconds',
        'From a proposal on this server to its entry applied here',
        LATENCY_BUCKETS,
      ),
      apply: metrics.histogram(
        'konsul_raft_apply_seconds',
        'Applying one batch of committed entries to the state machine',
        LATENCY_BUCKETS,
      ),
      appliedEntries: metrics.counter('konsul_raft_applied_entries_total', 'Committed entries applied here'),
      rpc: new MetricChildren((labels) => rpc.labels(labels)),
      snapshots: metrics.counter('konsul_raft_snapshots_total', 'Compaction snapshots taken here'),
      snapshotBuild: metrics.histogram(
        'konsul_raft_snapshot_build_seconds',
        'Building a compaction snapshot (in slices, while writes go on)',
        [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      ),
      snapshotsInstalled: metrics.counter(
        'konsul_raft_snapshots_installed_total',
        'Snapshots from the leader installed here (InstallSnapshot)',
      ),
      snapshotBytes: metrics.histogram(
        'konsul_raft_snapshot_bytes',
        'Size of the compaction snapshots taken here',
        SNAPSHOT_BYTE_BUCKETS,
      ),
    };
    metrics.gauge('konsul_raft_state', "This server's Raft role (1 for the current one)", ['state'], () =>
      ROLES.map((r) => [{ state: r }, this.raw.raft.role === r ? 1 : 0] as const),
    );
    metrics.gauge('konsul_raft_term', 'Current Raft term', [], () => this.raw.raft.term);
    metrics.gauge(
      'konsul_raft_commit_index',
      'Highest log index known committed',
      [],
      () => this.raw.raft.log.committed,
    );
    metrics.gauge(
      'konsul_raft_applied_index',
      'Highest log index applied to the state machine',
      [],
      () => this.appliedIndex,
    );
    metrics.gauge('konsul_raft_last_index', 'Last index in the Raft log', [], () => this.raw.raft.log.lastIndex());
    metrics.gauge(
      'konsul_raft_last_contact_seconds',
      "Seconds since the last message from each peer (a leader's followers; a follower's leader)",
      ['peer'],
      () => {
        const now = this.o.clock.now();
        const peers = this.raw.raft.role === 'leader' ? [...this.lastHeard.keys()] : [this.raw.raft.lead];
        return peers
          .filter((p): p is NodeId => p !== undefined && p !== this.o.id && this.lastHeard.has(p))
          .map((p) => [{ peer: p }, (now - (this.lastHeard.get(p) as number)) / 1000] as const);
      },
    );
  }

  /** Starts ticking every tickMs. */
  start(): void {
    const tick = () => {
      if (this.closed) return;
      this.ticks++;
      this.waiters.expire(
        this.o.clock.now(),
        () => new ProposalTimeoutError(),
        () => new NoLeaderError('No cluster leader: read could not be confirmed'),
      );
      this.tickTimer = this.o.clock.setTimer(tick, this.o.tickMs);
      this.pump();
    };
    this.tickTimer = this.o.clock.setTimer(tick, this.o.tickMs);
    this.pump();
  }

  /** Membership as of the applied index. */
  membership(): ConfState {
    return this.conf;
  }

  status(): RaftStatus {
    return this.raw.status();
  }

  /** This node's role (cheaper than status() on every request). */
  role(): RaftStatus['role'] {
    return this.raw.raft.role;
  }

  /**
   * Whether this node leads and is handing the leadership over: the new leader may be elected and
   * commit writes before this one hears of it, so its own state is no longer the latest for sure.
   */
  transferringLeadership(): boolean {
    return this.raw.raft.transferring();
  }

  /** The leader this node knows of, if any (cheaper than status() on every request). */
  leader(): NodeId | undefined {
    return this.raw.raft.lead;
  }

  /** Index of the last entry whose apply has completed (what reads of the store see). */
  applied(): number {
    return this.appliedIndex;
  }

  /** Ready writes issued and not yet completed. */
  get writesInFlight(): number {
    return this.inflight.length;
  }

  /** Milliseconds since the last message from the leader (0 on the leader, Infinity before any). */
  lastContactMs(): number {
    if (this.raw.raft.role === 'leader') return 0;
    return this.lastLeaderContact === 0 ? Infinity : this.o.clock.now() - this.lastLeaderContact;
  }

  /**
   * Calls `fn` whenever role or leader changes (once the Ready that changed it is durable), with
   * the term the new role belongs to (the node may have moved to a later term since).
   */
  onRoleChange(fn: (role: RaftStatus['role'], lead: NodeId | undefined, term: number) => void): void {
    this.roleListeners.push(fn);
  }

  /** A message from a peer. Dropped when closed or when maxQueuedMessages wait already. */
  receive(m: Message): void {
    if (this.closed || this.messages.length >= this.o.maxQueuedMessages) return;
    this.lastHeard.set(m.from, this.o.clock.now());
    if (m.type === 'appResp' || m.type === 'heartbeatResp' || m.type === 'snapResp') {
      const key = `${m.from}\u0000${m.type}`;
      const end = this.roundTrips.get(key);
      if (end) {
        this.roundTrips.delete(key);
        end();
      }
    }
    this.messages.push(m);
    this.pump();
  }

  /**
   * The DiskFullError while this node's log cannot be appended to for want of space (its write is
   * retried every DISK_FULL_RETRY_MS), else undefined. Writes proposed through this node wait for
   * it to apply them, so its owner refuses them meanwhile.
   */
  diskFullError(): DiskFullError | undefined {
    if (!this.diskFull) return undefined;
    return new DiskFullError(
      `the disk under this server's data dir is full: writes are refused until space is freed`,
      this.diskFull,
    );
  }

  /** Proposes an encoded command; resolves once it is applied here (see Committer). */
  propose(data: Uint8Array): Promise<ApplyResult> {
    const full = this.diskFullError();
    if (full) return Promise.reject(full);
    const parent = this.tracer.enabled ? this.tracer.current() : undefined;
    return this.enqueue((resolve, reject) => ({ kind: 'propose', data, parent, resolve, reject }));
  }

  /**
   * Resolves once this node has applied everything committed when the call was made (ReadIndex;
   * on a follower the read point comes from the leader, one round trip for all reads waiting).
   * Rejects with NotLeaderError when no leader is known, NoLeaderError when none confirmed it in time.
   */
  readBarrier(): Promise<void> {
    if (this.diskFull)
      return Promise.reject(
        new DiskFullError(`the disk under this server's data dir is full: it cannot catch up for a consistent read`),
      );
    return this.enqueue((resolve, reject) => ({ kind: 'read', resolve, reject }));
  }

  /** Proposes a membership change; resolves when accepted by Raft (not when applied). */
  changeMembership(cc: ConfChange): Promise<void> {
    return this.enqueue((resolve, reject) => ({ kind: 'conf', cc, resolve, reject }));
  }

  /** Starts a leadership transfer. */
  transferLeader(to: NodeId): Promise<void> {
    return this.enqueue((resolve, reject) => ({ kind: 'transfer', to, resolve, reject }));
  }

  /**
   * Pauses (true) or resumes (false) applying committed entries here (RawNode.holdApply): Raft
   * goes on replicating and committing, but reads that need the applied index and proposals made
   * here wait (and time out after requestTimeoutMs, a write's outcome then unknown) until it
   * resumes and catches up. For chaos experiments.
   */
  pauseApply(paused: boolean): void {
    if (this.closed) return;
    this.raw.holdApply(paused);
    this.o.logger.info(paused ? 'applying committed entries paused' : 'applying committed entries resumed', {
      applied: this.appliedIndex,
      commit: this.raw.raft.log.committed,
    });
    this.pump();
  }

  /** Stops ticking, waits for the writes in flight, and fails everything still pending. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.diskRetry !== undefined) this.o.clock.clearTimer(this.diskRetry);
    // A write waiting for disk space never completes: nothing waits for it.
    if (this.diskFull) this.inflight.length = 0;
    if (this.tickTimer !== undefined) this.o.clock.clearTimer(this.tickTimer);
    this.abandonSnapshot();
    if (this.inflight.some((w) => !w.done)) await new Promise<void>((resolve) => this.drained.push(resolve));
    this.failPending(new ShuttingDownError('raft'));
  }

  private enqueue<T>(make: (resolve: (v: T) => void, reject: (e: unknown) => void) => Input): Promise<T> {
    if (this.closed) return Promise.reject(new ShuttingDownError('raft'));
    const pending = this.inputs.length + this.waiters.proposals.size + this.readsWaiting + this.heldReads.length;
    if (pending >= this.o.maxPending) {
      return Promise.reject(new OverloadedError(`too many pending requests (limit ${this.o.maxPending})`));
    }
    return new Promise<T>((resolve, reject) => {
      this.inputs.push(make(resolve as never, reject));
      this.pump();
    });
  }

  /** Does whatever can be done now: finish completed writes, feed Raft, issue Readies. Never re-entered. */
  private pump(): void {
    if (this.pumping) {
      this.dirty = true;
      return;
    }
    // Nothing can move until the oldest write completes (its completion pumps again); messages and
    // requests wait in their queues meanwhile.
    const oldest = this.inflight[0];
    if (this.inflight.length >= this.maxInFlight && oldest && !oldest.done) {
      // Its log part may be on disk already: acknowledge it (the rest waits for its completion).
      if (oldest.durable && !oldest.acked) {
        try {
          this.finishCompleted();
        } catch (err) {
          this.fatal(err);
        }
      }
      return;
    }
    this.pumping = true;
    try {
      do {
        this.dirty = false;
        this.finishCompleted();
        while (!this.closed && this.inflight.length < this.maxInFlight) {
          this.feed();
          if (!this.raw.hasReady()) break;
          // A snapshot from the leader replaces the state: install it with no other write running.
          if (this.raw.raft.pendingSnapshot && this.inflight.length > 0) break;
          const rd = this.raw.ready();
          this.issue(rd);
          this.raw.advance(rd);
          this.finishCompleted();
        }
        this.waiters.resolveReads(this.readableIndex());
        this.maybeCompact();
      } while (this.dirty && !this.closed);
    } catch (err) {
      this.fatal(err);
    } finally {
      this.pumping = false;
    }
  }

  /** The applied index reads and snapshots may rely on. */
  private readableIndex(): number {
    return this.o.plantedBugs?.applyBeforeDurable ? this.raw.raft.log.applied : this.appliedIndex;
  }

  /** Feeds queued ticks, messages and requests into the RawNode (only between Readies). */
  private feed(): void {
    for (; this.ticks > 0; this.ticks--) this.raw.tick();
    if (this.messages.length > 0) {
      const lead = this.raw.raft.lead;
      for (const m of this.messages.splice(0)) {
        if (m.from === lead || m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
          this.lastLeaderContact = this.o.clock.now();
        }
        this.raw.step(m);
      }
    }
    let reads: Array<Extract<Input, { kind: 'read' }>> | undefined;
    for (const input of this.inputs.splice(0)) {
      if (input.kind === 'read') {
        (reads ??= []).push(input);
        continue;
      }
      try {
        this.accept(input);
      } catch (err) {
        input.reject(err);
      }
    }
    if (reads) for (const r of reads) this.heldReads.push(r);
    // One round at a time: reads that come while one waits for its read point join the next, so
    // under load a round serves every read that arrived during the one before (etcd's read loop).
    if (this.heldReads.length > 0 && !this.waiters.hasUnconfirmedRead()) {
      const held = this.heldReads;
      this.heldReads = [];
      this.acceptReads(held);
    }
  }

  /**
   * One ReadIndex request for `reads` (on a follower, one
   * round trip to the leader; on a leader, one heartbeat round): each is answered once the read
   * point is applied here.
   */
  private acceptReads(reads: ReadonlyArray<Extract<Input, { kind: 'read' }>>): void {
    const ctx = `${this.readPrefix}${++this.readSeq}`;
    try {
      this.raw.readIndex(ctx);
    } catch (err) {
      for (const r of reads) r.reject(err);
      return;
    }
    this.readsWaiting += reads.length;
    const raft = this.raw.raft;
    this.waiters.addRead(ctx, {
      deadline: this.o.clock.now() + this.o.requestTimeoutMs,
      leader: raft.role === 'leader' ? this.o.id : raft.lead,
      resolve: () => {
        this.readsWaiting -= reads.length;
        for (const r of reads) r.resolve();
      },
      reject: (e) => {
        this.readsWaiting -= reads.length;
        for (const r of reads) r.reject(e);
      },
    });
  }

  /** A proposal, membership change or transfer (reads go to acceptReads). */
  private accept(input: Exclude<Input, { kind: 'read' }>): void {
    const deadline = this.o.clock.now() + this.o.requestTimeoutMs;
    switch (input.kind) {
      case 'propose': {
        const { index, term } = this.raw.propose(input.data);
        const committed = this.m.commit.startTimer();
        if (input.parent === undefined) {
          const resolve = (r: ApplyResult): void => {
            committed();
            input.resolve(r);
          };
          this.waiters.addProposal(index, { term, deadline, resolve, reject: input.reject }, notApplied);
          return;
        }
        const attributes = { 'konsul.raft.index': index, 'konsul.raft.term': term };
        const trace: ProposalTrace = {
          replicate: this.tracer.startSpan('raft replicate', 'internal', { parent: input.parent, attributes }),
          apply: undefined,
          parent: input.parent,
        };
        const endSpans = (failure?: string): void => {
          for (const span of [trace.replicate, trace.apply]) {
            if (failure !== undefined) span?.fail(failure);
            span?.end();
          }
        };
        const w = {
          term,
          deadline,
          trace,
          resolve: (r: ApplyResult): void => {
            committed();
            endSpans();
            input.resolve(r);
          },
          reject: (e: unknown): void => {
            endSpans(e instanceof Error ? e.message : 'not applied');
            input.reject(e);
          },
        };
        this.waiters.addProposal(index, w, notApplied);
        return;
      }
      case 'conf':
        this.raw.proposeConfChange(input.cc);
        input.resolve();
        return;
      case 'transfer':
        this.raw.transferLeader(input.to);
        input.resolve();
        return;
    }
  }

  /**
   * Step 1 of a Ready, issued: the messages a leader may send early go now; one transaction
   * writes the log and hard state, installs a snapshot from the leader, and applies the
   * committed entries. Completion (finishCompleted) does the rest, in issue order.
   */
  private issue(rd: Ready): void {
    // Reads asked of a leader that is no longer the one (or of this node, no longer leading)
    // would wait for their deadline: they fail now, and the client may try again. Those this
    // Ready confirms keep their read point (it came from a leader that confirmed it).
    if (rd.softState) {
      for (const rs of rd.readStates) {
        const r = this.waiters.reads.get(rs.context);
        if (r) r.index = rs.index;
      }
      this.waiters.failReadsNotFrom(rd.softState.lead, leaderChanged);
    }
    const sentEarly = rd.sendBeforePersist || this.o.plantedBugs?.ackBeforePersist === true;
    if (sentEarly) this.send(rd.messages);
    if (this.tracer.enabled) this.traceCommitted(rd.committedEntries);
    const batch: CommittedEntry[] = rd.committedEntries.map((e) => {
      const cc = confChangeOf(e);
      if (!cc) return { index: e.index, data: e.data };
      this.stagedConf = applyToConf(this.stagedConf, cc);
      return { index: e.index, data: e.data, conf: this.stagedConf };
    });
    const w: InFlight = {
      rd,
      term: this.raw.raft.term,
      sentEarly,
      batch,
      durable: false,
      acked: false,
      done: false,
      staged: undefined,
    };
    this.inflight.push(w);
    const snap = rd.snapshot;
    if (snap) this.stagedConf = snap.meta.conf;
    const writes = rd.hardState !== undefined || rd.entries.length > 0 || snap !== undefined || batch.length > 0;
    if (!writes) {
      w.durable = true;
      w.done = true;
    } else {
      // A snapshot from the leader replaces the state in the same transaction that stores it, so
      // a crash cannot leave the log saying it is applied while the tables are still the old ones.
      const dump = snap ? parseDump(snap.data, this.o.stateTables) : undefined;
      const write = { hardState: rd.hardState, entries: rd.entries, snapshot: snap, sync: rd.mustSync };
      // With nothing to apply and no snapshot, the state store is left alone.
      const also =
        snap || batch.length > 0
          ? (tx: WriteTxn) => {
              if (snap && dump) {
                replaceTables(tx, this.o.stateTables, dump);
                writeAppliedIndex(tx, snap.meta.index);
                writeConfState(tx, snap.meta.conf);
              }
              if (batch.length === 0) return undefined;
              const applied = this.m.apply.startTimer();
              const staged = this.o.applier.stage(tx, batch);
              applied();
              this.m.appliedEntries.inc(undefined, batch.length);
              return staged;
            }
          : undefined;
      // Once the log part is on disk, its acknowledgements may go before the state machine commits.
      const onDurable = () => {
        w.durable = true;
        if (this.inflight[0] === w) this.pump();
      };
      // A full disk (under the log or the state store) refuses the write with DiskFullError, and
      // the same write is tried again every DISK_FULL_RETRY_MS (LogStorage.persist says when that
      // is safe; Raft waits meanwhile, as on a slow disk); proposals made here are refused with
      // DiskFullError until it succeeds.
      const attempt = (): void => {
        this.o.storage.persist(write, also, onDurable).then(
          (staged) => {
            if (this.diskFull)
              this.o.logger.info('the disk has room again: raft goes on', { index: this.appliedIndex });
            this.diskFull = undefined;
            w.staged = staged;
            w.done = true;
            this.pump();
          },
          (err: unknown) => {
            if (!(err instanceof DiskFullError) || this.closed) return this.fatal(err);
            if (!this.diskFull)
              this.o.logger.error('the disk is full: writes are refused here until space is freed', {
                error: err.message,
              });
            this.diskFull = err;
            this.diskRetry = this.o.clock.setTimer(attempt, DISK_FULL_RETRY_MS);
          },
        );
      };
      attempt();
    }
    if (this.o.plantedBugs?.countUnpersistedOwnEntries) this.raw.persisted(rd);
  }

  /**
   * Sends a Ready's messages, timing the first unanswered append, heartbeat and snapshot to each
   * peer until its answer comes (konsul_raft_rpc_seconds).
   */
  private send(messages: readonly Message[]): void {
    for (const m of messages) {
      const rpc = RESPONSE_OF[m.type];
      if (!rpc) continue;
      const key = `${m.to}\u0000${rpc.type}`;
      if (!this.roundTrips.has(key)) {
        const to = m.to;
        this.roundTrips.set(key, this.m.rpc.get(key, () => ({ peer: to, type: rpc.rpc })).startTimer());
      }
    }
    this.o.transport.send(messages);
  }

  /** Oldest first: acknowledges each Ready whose log part is durable, finishes each whose write completed. */
  private finishCompleted(): void {
    for (;;) {
      const oldest = this.inflight[0];
      if (!oldest) break;
      if (!oldest.acked && oldest.durable) {
        oldest.acked = true;
        if (!this.o.plantedBugs?.countUnpersistedOwnEntries) this.raw.persisted(oldest.rd);
        if (!oldest.sentEarly) this.send(oldest.rd.messages);
      }
      if (!oldest.done) break;
      const { rd, term, batch, staged } = this.inflight.shift() as InFlight;
      if (rd.snapshot) {
        this.conf = rd.snapshot.meta.conf;
        this.appliedIndex = rd.snapshot.meta.index;
        this.o.applier.replaced(rd.snapshot.meta.index);
        this.o.observer?.snapshotInstalled?.(rd.snapshot.meta.index);
        this.m.snapshotsInstalled.inc();
        this.o.logger.info('raft snapshot installed', {
          index: rd.snapshot.meta.index,
          bytes: rd.snapshot.data.length,
        });
      }
      if (staged) this.finishApply(rd.committedEntries, batch, staged);
      for (const rs of rd.readStates) {
        const r = this.waiters.reads.get(rs.context);
        if (r) r.index = rs.index;
      }
      if (rd.softState) {
        if (rd.softState.role === 'candidate') this.m.elections.inc();
        if (rd.softState.lead !== undefined && rd.softState.lead !== this.knownLeader) this.m.leaderChanges.inc();
        if (rd.softState.lead !== undefined) this.knownLeader = rd.softState.lead;
        // Round trips to a former leader's followers are not answered to this node.
        if (rd.softState.role !== 'leader') this.roundTrips.clear();
        for (const fn of this.roleListeners) fn(rd.softState.role, rd.softState.lead, term);
      }
    }
    if (this.inflight.length === 0 && this.drained.length > 0) for (const fn of this.drained.splice(0)) fn();
  }

  /** Ends the "raft replicate" span of each traced proposal now committed and opens its "raft apply". */
  private traceCommitted(entries: readonly Entry[]): void {
    for (const e of entries) {
      const trace = this.waiters.proposals.get(e.index)?.trace;
      if (!trace || trace.apply) continue;
      trace.replicate.end();
      trace.apply = this.tracer.startSpan('raft apply', 'internal', {
        parent: trace.parent,
        attributes: { 'konsul.raft.index': e.index },
      });
    }
  }

  private finishApply(entries: readonly Entry[], batch: readonly CommittedEntry[], staged: StagedApply): void {
    staged.publish();
    for (const c of batch) if (c.conf) this.conf = c.conf;
    const last = entries[entries.length - 1];
    if (last) this.appliedIndex = last.index;
    entries.forEach((e, i) => {
      const p = this.waiters.takeProposal(e.index);
      if (!p) return;
      if (p.term === e.term) p.resolve(staged.results[i] as ApplyResult);
      else p.reject(notApplied());
    });
    this.o.observer?.applied?.(entries, staged.results);
  }

  /**
   * Log compaction (§7), in the background: once snapshotThreshold entries were applied since
   * the last snapshot (and snapshotIntervalMs passed since the last one started, unless the log
   * grew to SNAPSHOT_BACKLOG_FACTOR times the threshold), opens a read view of the state at the
   * applied index (taken when no write is in flight, so the view holds exactly that index's
   * state) and encodes it a slice per turn
   * of the event loop while Readies keep being written and applied; when it is finished (and not
   * overtaken by a snapshot from the leader) the log up to that index is compacted and the
   * snapshot persisted. At most one build runs.
   */
  private maybeCompact(): void {
    if (this.closed) return;
    const b = this.building;
    if (b) {
      if (b.done) this.finishSnapshot(b);
      return;
    }
    const bug = this.o.plantedBugs?.applyBeforeDurable === true;
    if (this.inflight.length > 0 && !bug) return;
    const applied = this.readableIndex();
    const since = applied - this.raw.raft.log.snapshot.meta.index;
    if (since < this.o.snapshotThreshold) return;
    const interval = this.o.snapshotIntervalMs ?? 0;
    const now = this.o.clock.now();
    if (
      this.lastSnapshotStart !== undefined &&
      now - this.lastSnapshotStart < interval &&
      since < SNAPSHOT_BACKLOG_FACTOR * this.o.snapshotThreshold
    )
      return;
    this.lastSnapshotStart = now;
    const view = this.o.store.snapshotRead();
    const rows = this.o.snapshotRowsPerSlice ?? 512;
    const build: SnapshotBuild = {
      index: applied,
      startedAt: this.o.clock.now(),
      conf: this.raw.raft.conf,
      view,
      builder: new DumpBuilder(view, this.o.stateTables, rows),
      timer: undefined,
      encoded: false,
      done: false,
    };
    this.building = build;
    this.buildSlice(build);
  }

  /**
   * Encodes one slice of `b` — or, once every row is encoded, joins one slice of it into one
   * array — then schedules the next turn; when joined, pumps to compact.
   */
  private buildSlice(b: SnapshotBuild): void {
    b.timer = undefined;
    if (this.building !== b) return;
    try {
      if (!b.encoded) {
        b.encoded = b.builder.step();
        if (b.encoded) b.view.close();
      } else b.done = b.builder.join(SNAPSHOT_JOIN_BYTES);
    } catch (err) {
      this.fatal(err);
      return;
    }
    if (b.done) {
      this.pump();
    } else {
      b.timer = this.o.clock.setTimer(() => this.buildSlice(b), 0);
    }
  }

  private finishSnapshot(b: SnapshotBuild): void {
    this.building = undefined;
    // A snapshot from the leader installed meanwhile may already cover this one.
    if (b.index <= this.raw.raft.log.snapshot.meta.index) return;
    const data = b.builder.result();
    const snap = this.raw.compact(b.index, data, b.conf);
    const savedFrom = this.o.clock.now();
    this.o.storage.saveSnapshot(snap).then(
      () => this.o.logger.info('raft snapshot saved', { index: snap.meta.index, ms: this.o.clock.now() - savedFrom }),
      (err: unknown) => this.fatal(err),
    );
    this.m.snapshots.inc();
    this.m.snapshotBuild.observe((savedFrom - b.startedAt) / 1000);
    this.m.snapshotBytes.observe(data.length);
    this.o.logger.info('raft snapshot taken', {
      index: snap.meta.index,
      bytes: data.length,
      buildMs: savedFrom - b.startedAt,
    });
  }

  /** Stops a build in progress (closing, failing) and releases its view. */
  private abandonSnapshot(): void {
    const b = this.building;
    if (!b) return;
    this.building = undefined;
    if (b.timer !== undefined) this.o.clock.clearTimer(b.timer);
    if (!b.encoded) b.view.close();
  }

  /** A write or the loop failed: nothing more can be made durable, so stop and fail what waits. */
  private fatal(err: unknown): void {
    if (this.closed && this.inflight.length === 0) return;
    this.o.logger.error('raft loop failed; stopping', { error: (err as Error).stack ?? String(err) });
    this.closed = true;
    if (this.tickTimer !== undefined) this.o.clock.clearTimer(this.tickTimer);
    this.abandonSnapshot();
    this.inflight.length = 0;
    for (const fn of this.drained.splice(0)) fn();
    this.failPending(new ShuttingDownError('raft'));
    this.o.onFatal?.(err);
  }

  private failPending(err: unknown): void {
    for (const i of this.inputs.splice(0)) i.reject(err);
    for (const r of this.heldReads.splice(0)) r.reject(err);
    this.waiters.failAll(err);
  }
}
