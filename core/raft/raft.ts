import { CorruptError } from '../errors.js';
import { randomInt } from '../ports/rng.js';
import { applyToConf, decodeConfChange, encodeConfChange, isVoter, quorum } from './conf-change.js';
import type { RaftConfig } from './config.js';
import { NotLeaderError, ProposalRefusedError } from './errors.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type LogEntrySource,
  type Message,
  type NodeId,
  type RaftRole,
  type ReadState,
  type Snapshot,
  type SnapshotMeta,
  type SoftState,
  entrySize,
} from './types.js';

/** What a node restarts from: everything it persisted (all optional for a brand-new node). */
export interface RaftInit {
  readonly hardState?: HardState;
  /** The latest persisted snapshot, with its data (sent to followers that fall behind). */
  readonly snapshot?: Snapshot;
  /** Persisted entries after the snapshot, contiguous. */
  readonly entries?: readonly Entry[];
  /**
   * Where persisted entries can be read back; with it, the log keeps only the last
   * maxLogBytesInMemory of applied, durable entries in memory.
   */
  readonly entrySource?: LogEntrySource;
  /** Membership as of `applied` (default: the snapshot's). */
  readonly conf?: ConfState;
  /** Index the application's state already reflects (default: the snapshot index). */
  readonly applied?: number;
}

const EMPTY_CONF: ConfState = { voters: [], learners: [] };
const EMPTY_SNAPSHOT: Snapshot = { meta: { index: 0, term: 0, conf: EMPTY_CONF }, data: new Uint8Array(0) };
const EMPTY_DATA = new Uint8Array(0);

interface PendingRead {
  readonly index: number;
  readonly context: string;
  readonly acks: Set<NodeId>;
  /** The follower that asked for this read point (undefined: this leader's own read). */
  readonly from: NodeId | undefined;
}

/** A read waiting until the leader has committed an entry of its term. */
interface AwaitingRead {
  readonly context: string;
  readonly from: NodeId | undefined;
}

interface IncomingSnapshot {
  readonly meta: SnapshotMeta;
  readonly total: number;
  readonly chunks: Uint8Array[];
  received: number;
}

type Outgoing = Omit<Message, 'from' | 'term'> & { term?: number };

/**
 * The Raft consensus state machine (Ongaro & Ousterhout 2014; Ongaro's dissertation), in the
 * style of etcd-raft: no I/O, no clock, no threads. Inputs are ticks, messages and proposals;
 * outputs accumulate in `msgs`, `readStates`, the log's unstable and committed entries, and
 * `pendingSnapshot`, which RawNode turns into Ready batches. Section references (§) are to the
 * paper unless noted.
 */
export class Raft {
  readonly id: NodeId;
  readonly cfg: RaftConfig;
  term: number;
  vote: NodeId | undefined;
  lead: NodeId | undefined = undefined;
  role: RaftRole = 'follower';
  readonly log: RaftLog;
  conf: ConfState;
  /** Outgoing messages, drained by RawNode. */
  readonly msgs: Message[] = [];
  /** Confirmed read points, drained by RawNode. */
  readonly readStates: ReadState[] = [];
  /** A snapshot received from the leader, to be installed by the application. */
  pendingSnapshot: Snapshot | undefined;

  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Ticks since this node started; lease reads compare heartbeat send ticks against it. */
  private tickCount = 0;
  private leadTransferee: NodeId | undefined;
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  private pendingReads: PendingRead[] = [];
  private readsAwaitingCommit: AwaitingRead[] = [];
  private incoming: IncomingSnapshot | undefined;
  /**
   * Followers owed an append, sent by flushAppends() when RawNode builds the next Ready, so
   * that all proposals and acknowledgements stepped in between leave as one append per
   * follower. The flag says whether to send one even without entries (to carry a new commit index).
   */
  private readonly appendsDue = new Map<NodeId, boolean>();

  constructor(cfg: RaftConfig, init: RaftInit = {}) {
    this.id = cfg.id;
    this.cfg = cfg;
    const snapshot = init.snapshot ?? EMPTY_SNAPSHOT;
    const hs = init.hardState ?? { term: 0, vote: undefined, commit: 0 };
    this.log = new RaftLog(snapshot, init.entries ?? [], hs.commit, init.applied ?? snapshot.meta.index, {
      source: init.entrySource,
      maxBytes: cfg.maxLogBytesInMemory,
    });
    this.conf = init.conf ?? snapshot.meta.conf;
    this.term = hs.term;
    this.vote = hs.vote;
    this.becomeFollower(this.term, undefined);
  }

  // ---- observable state -------------------------------------------------------------------

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  /** Whether this node may campaign: it is a voter and has no membership change left to apply. */
  promotable(): boolean {
    return isVoter(this.conf, this.id);
  }

  /** The leader's view of each member's replication (empty on followers). */
  progressOf(id: NodeId): Readonly<Progress> | undefined {
    return this.progress.get(id);
  }

  // ---- inputs -----------------------------------------------------------------------------

  /** Advances logical time by one tick (§5.2 election timeouts, heartbeats, CheckQuorum). */
  tick(): void {
    this.tickCount++;
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Processes a message from another node. Messages for other nodes are ignored. */
  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Dissertation §4.2.3: a server that heard from a leader within the minimum election
        // timeout ignores vote requests, so a partitioned server cannot disrupt the cluster.
        const inLease =
          this.cfg.checkQuorum && this.lead !== undefined && this.electionElapsed < this.cfg.electionTicks;
        if (!m.transfer && inLease) return;
      }
      if (m.type === 'preVote') {
        // A pre-vote never changes our term.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // The term is adopted when the real election succeeds.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, undefined);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // Tell a stale leader about the newer term so it steps down (§5.1).
        this.send({ type: 'appResp', to: m.from });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', to: m.from, reject: true });
      }
      return;
    }
    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        break;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  /**
   * Appends a command to the leader's log (§5.3). Returns its index and term; it is committed
   * when an entry with that index and term is handed out as committed. Throws NotLeaderError on
   * a non-leader or during a leadership transfer, ProposalRefusedError when too much is uncommitted.
   */
  propose(data: Uint8Array): { index: number; term: number } {
    this.assertCanPropose(data.byteLength);
    const e = this.appendEntry('normal', data);
    this.markAllDue();
    return e;
  }

  /**
   * Proposes one membership change (dissertation §4.1: one server at a time). Only one change
   * may be pending: a new one is refused until the previous one is applied.
   */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    const data = encodeConfChange(cc);
    this.assertCanPropose(data.byteLength);
    if (this.pendingConfIndex > this.log.applied) {
      throw new ProposalRefusedError('conflict', 'a membership change is still being applied; retry later');
    }
    const member = isVoter(this.conf, cc.node) || this.conf.learners.includes(cc.node);
    if (cc.type === 'removeNode' && !member)
      throw new ProposalRefusedError('bad_request', `${cc.node} is not a member`);
    if (cc.type === 'removeNode' && this.conf.voters.length === 1 && isVoter(this.conf, cc.node)) {
      throw new ProposalRefusedError('bad_request', 'cannot remove the last voter');
    }
    if (cc.type === 'addVoter' && isVoter(this.conf, cc.node))
      throw new ProposalRefusedError('bad_request', `${cc.node} is already a voter`);
    if (cc.type === 'addLearner' && member)
      throw new ProposalRefusedError('bad_request', `${cc.node} is already a member`);
    const e = this.appendEntry('conf', data);
    this.pendingConfIndex = e.index;
    this.markAllDue();
    return e;
  }

  /**
   * Requests a linearizable read point (§6.4 / dissertation §6.4 ReadIndex). A ReadState with
   * `context` appears once the leader has confirmed it is still leader (a heartbeat round, or a
   * valid lease in lease mode). On a follower the request goes to the leader (a readIndex
   * message), whose read point comes back as the ReadState (§6.4: followers serve reads by asking
   * the leader for its commit index); a lost request or answer yields no ReadState, so callers
   * time out. `context` must be unique across the cluster and across restarts. Throws
   * NotLeaderError on a candidate or on a follower that knows no leader.
   */
  readIndex(context: string): void {
    if (this.cfg.plantedBugs?.readsWithoutReadIndex) {
      this.readStates.push({ index: this.log.committed, context });
      return;
    }
    if (this.role !== 'leader') {
      if (this.role !== 'follower' || this.lead === undefined) throw new NotLeaderError(this.lead);
      this.send({ type: 'readIndex', to: this.lead, context });
      return;
    }
    if (!this.requestRead(context, undefined))
      throw new ProposalRefusedError('overloaded', `too many pending reads (limit ${this.cfg.maxPendingReads})`);
  }

  /** Starts a read for `context` on the leader (for `from`, a follower); false when too many wait. */
  private requestRead(context: string, from: NodeId | undefined): boolean {
    if (this.pendingReads.length + this.readsAwaitingCommit.length >= this.cfg.maxPendingReads) return false;
    // A new leader does not know the latest commit index until it commits an entry of its own term.
    if (!this.committedInCurrentTerm()) this.readsAwaitingCommit.push({ context, from });
    else this.serveRead(context, from);
    return true;
  }

  /** Whether this leader is handing its leadership over (a transfer started and not yet over or abandoned). */
  transferring(): boolean {
    return this.role === 'leader' && this.leadTransferee !== undefined;
  }

  /** Starts handing leadership to `to` (dissertation §3.10): catch it up, then TimeoutNow. */
  transferLeader(to: NodeId): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
    if (to === this.id) return;
    if (!isVoter(this.conf, to)) throw new ProposalRefusedError('bad_request', `${to} is not a voter`);
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const pr = this.progress.get(to) as Progress;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to });
    else this.sendAppend(to);
  }

  /** Applies a committed membership change (called as committed 'conf' entries are applied). */
  applyConfChange(cc: ConfChange): void {
    this.conf = applyToConf(this.conf, cc);
    if (this.role !== 'leader') return;
    if (cc.type === 'removeNode') {
      this.progress.delete(cc.node);
    } else {
      const learner = cc.type === 'addLearner';
      const old = this.progress.get(cc.node);
      if (!old || old.isLearner !== learner) {
        const pr = new Progress(old?.next ?? this.log.lastIndex() + 1, this.cfg.maxInflightMsgs, learner);
        pr.match = old?.match ?? 0;
        pr.recentActive = true;
        this.progress.set(cc.node, pr);
        if (cc.node !== this.id) this.sendAppend(cc.node);
      }
    }
    if (this.leadTransferee !== undefined && !isVoter(this.conf, this.leadTransferee)) this.leadTransferee = undefined;
    if (!isVoter(this.conf, this.id)) {
      // A leader removed from the voters steps down; the remaining voters elect a new one.
      this.becomeFollower(this.term, undefined);
      return;
    }
    if (this.maybeCommit()) this.bcastAppend();
  }

  /**
   * Log compaction (§7): `data` is the application state as of `index`, which becomes the new
   * snapshot; entries up to it are dropped. `index` must be applied and above the current
   * snapshot's index (its entry still in the log); `conf` is the membership as of `index`
   * (default: the current one, right when `index` is the applied index). A snapshot built while
   * later entries were applied passes the index and membership it was built at.
   */
  compact(index: number, data: Uint8Array, conf: ConfState = this.conf): Snapshot {
    if (index > this.log.applied) throw new CorruptError(`compact at ${index} but applied is ${this.log.applied}`);
    const term = this.log.term(index);
    if (index <= this.log.snapshot.meta.index || term === undefined)
      throw new CorruptError(`compact at ${index}: at or below the snapshot at ${this.log.snapshot.meta.index}`);
    const snapshot: Snapshot = { meta: { index, term, conf }, data };
    this.log.compact(snapshot);
    return snapshot;
  }

  // ---- timers -----------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const [id, pr] of this.progress) {
      if (id === this.id || pr.state !== 'snapshot') continue;
      if (++pr.snapshotIdleTicks >= this.cfg.electionTicks) pr.becomeProbe();
    }
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        // §6.2 / dissertation §6.2: a leader that cannot reach a quorum steps down.
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, undefined);
          return;
        }
        for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
      }
      this.leadTransferee = undefined; // a transfer not done within an election timeout is abandoned
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(undefined);
    }
  }

  // ---- elections (§5.2) ---------------------------------------------------------------------

  private hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    // A committed membership change that is not applied yet could change who votes.
    const unapplied = this.log.slice(this.log.applied + 1, this.log.committed + 1) ?? [];
    if (unapplied.some((e) => e.type === 'conf')) return;
    this.campaign(this.cfg.preVote && !transfer ? 'pre' : transfer ? 'transfer' : 'elect');
  }

  private campaign(kind: 'pre' | 'elect' | 'transfer'): void {
    let voteTerm: number;
    if (kind === 'pre') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      if (kind === 'pre') this.campaign('elect');
      else this.becomeLeader();
      return;
    }
    const type = kind === 'pre' ? 'preVote' : 'vote';
    for (const voter of this.conf.voters) {
      if (voter === this.id) continue;
      this.send({
        type,
        to: voter,
        term: voteTerm,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        ...(kind === 'transfer' ? { transfer: true } : {}),
      });
    }
  }

  private poll(from: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.conf.voters) {
      const g = this.votes.get(v);
      if (g === true) yes++;
      else if (g === false) no++;
    }
    const q = quorum(this.conf);
    return yes >= q ? 'won' : no >= q ? 'lost' : 'pending';
  }

  /** §5.2, §5.4.1: grant a vote to a candidate whose log is at least as up to date, once per term. */
  private handleVoteRequest(m: Message): void {
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === undefined && this.lead === undefined) ||
      (m.type === 'preVote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)) {
      this.send({ type: respType, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, reject: true });
    }
  }

  private becomeFollower(term: number, lead: NodeId | undefined): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    // Dissertation §9.6: a pre-candidate changes neither its term nor its vote.
    this.role = 'preCandidate';
    this.votes = new Map();
    this.lead = undefined;
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    const last = this.log.lastIndex();
    for (const id of [...this.conf.voters, ...this.conf.learners]) {
      const pr = new Progress(last + 1, this.cfg.maxInflightMsgs, this.conf.learners.includes(id));
      pr.recentActive = true;
      if (id === this.id) pr.match = last;
      this.progress.set(id, pr);
    }
    // Changes in the log before this point may not be applied yet: wait for them.
    this.pendingConfIndex = last;
    // §8: a no-op entry of the new term lets the leader learn the commit index.
    this.appendEntry('normal', EMPTY_DATA);
    this.bcastAppend();
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = undefined;
    }
    this.lead = undefined;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + randomInt(this.cfg.rng, this.cfg.electionTicks);
    this.leadTransferee = undefined;
    this.votes = new Map();
    this.progress = new Map();
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.pendingReads = [];
    this.readsAwaitingCommit = [];
    this.appendsDue.clear();
  }

  // ---- role-specific steps ----------------------------------------------------------------

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case 'appResp':
        pr.recentActive = true;
        if (m.reject) this.handleAppendRejection(m, pr);
        else this.handleAppendSuccess(m, pr);
        break;
      case 'heartbeatResp':
        pr.recentActive = true;
        pr.probeSent = false;
        if (m.leaseTick !== undefined) pr.ackedLeaseTick = Math.max(pr.ackedLeaseTick, m.leaseTick);
        // Appends may have been lost: let one more through so a rejection can reset the follower.
        if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        if (m.context !== undefined) this.ackRead(m.context, m.from);
        break;
      case 'readIndex':
        // A follower's read (§6.4); too many waiting: dropped, the follower's read times out.
        if (m.context !== undefined) this.requestRead(m.context, m.from);
        break;
      case 'snapResp':
        if (pr.state !== 'snapshot' || !pr.snapshot || m.index !== pr.snapshot.meta.index) return;
        pr.recentActive = true;
        pr.snapshotIdleTicks = 0;
        if (m.reject) {
          pr.becomeProbe();
          this.sendAppend(m.from);
          return;
        }
        pr.snapshotOffset = m.offset ?? 0;
        this.sendSnapshotChunk(m.from, pr);
        break;
      default:
        break;
    }
  }

  private handleAppendRejection(m: Message, pr: Progress): void {
    // §5.3 with the conflict-term optimization: skip a whole conflicting term per round trip.
    let hint = m.rejectHint ?? 0;
    if ((m.logTerm ?? 0) > 0) hint = this.log.findConflictByTerm(hint, m.logTerm as number).index;
    if (pr.maybeDecrTo(m.index ?? 0, hint)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      this.sendAppend(m.from);
    }
  }

  private handleAppendSuccess(m: Message, pr: Progress): void {
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index ?? 0)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= (pr.snapshot?.meta.index ?? 0)) pr.becomeProbe();
    else if (pr.state === 'replicate') pr.inflights.freeLE(pr.match);
    if (this.maybeCommit()) this.markAllDue();
    else this.markDue(m.from, wasPaused);
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex())
      this.send({ type: 'timeoutNow', to: m.from });
  }

  private stepCandidate(m: Message): void {
    const myResp = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      default:
        break;
    }
    if (m.type !== myResp) return;
    const result = this.poll(m.from, !m.reject);
    if (result === 'won') {
      if (this.role === 'preCandidate') this.campaign('elect');
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.term, undefined);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        break;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        break;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        break;
      case 'timeoutNow':
        // Dissertation §3.10: start an election at once, bypassing pre-vote and leases.
        this.hup(true);
        break;
      case 'readIndexResp':
        // The leader's read point for a read this follower asked for; served once applied here.
        if (m.context !== undefined && m.index !== undefined)
          this.readStates.push({ index: m.index, context: m.context });
        break;
      default:
        break;
    }
  }

  // ---- replication (§5.3) -------------------------------------------------------------------

  /** Figure 2, AppendEntries receiver implementation. */
  private handleAppend(m: Message): void {
    const index = m.index ?? 0;
    if (index < this.log.committed) {
      this.send({ type: 'appResp', to: m.from, index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(index, m.logTerm ?? 0, m.commit ?? 0, m.entries ?? []);
    if (lastNew !== undefined) {
      this.send({ type: 'appResp', to: m.from, index: lastNew });
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(index, this.log.lastIndex()), m.logTerm ?? 0);
    this.send({ type: 'appResp', to: m.from, index, reject: true, rejectHint: hint.index, logTerm: hint.term });
  }

  private handleHeartbeat(m: Message): void {
    // The leader sends min(match, commit), so this never commits a divergent entry.
    this.log.commitTo(Math.min(m.commit ?? 0, this.log.lastIndex()));
    this.send({
      type: 'heartbeatResp',
      to: m.from,
      ...(m.context !== undefined ? { context: m.context } : {}),
      ...(m.leaseTick !== undefined ? { leaseTick: m.leaseTick } : {}),
    });
  }

  /**
   * Sends the entries `to` is missing (or a snapshot when they were compacted away). Returns
   * whether a message was sent; with sendIfEmpty false an append without entries is not sent.
   */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.maxMsgBytes);
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    const last = entries[entries.length - 1];
    if (pr.state === 'replicate' && last) {
      pr.next = last.index + 1;
      pr.inflights.add(last.index);
    } else if (pr.state === 'probe') {
      pr.probeSent = true;
    }
    return true;
  }

  /**
   * The application made this node's log durable up to (index, term). A leader now counts those
   * entries as its own replica (which may commit them); a stale report (the entry was since
   * replaced) is ignored.
   */
  persistedTo(index: number, term: number): void {
    if (index <= this.log.durable || !this.log.matchTerm(index, term)) return;
    this.log.durable = index;
    this.log.evict();
    if (this.role === 'leader' && this.maybeCommit()) this.markAllDue();
  }

  /** Whether flushAppends() has appends to send. */
  hasAppendsDue(): boolean {
    return this.appendsDue.size > 0;
  }

  /**
   * Sends the appends owed since the last call, filling each follower's inflight window once
   * (RawNode calls this as it builds a Ready). A node that is no longer leader owes nothing.
   */
  flushAppends(): void {
    if (this.role === 'leader') {
      for (const [id, ifEmpty] of this.appendsDue) {
        if (!this.sendAppend(id, ifEmpty)) continue;
        while (this.sendAppend(id, false)) {
          // Fill the inflight window.
        }
      }
    }
    this.appendsDue.clear();
  }

  private markDue(to: NodeId, ifEmpty: boolean): void {
    this.appendsDue.set(to, ifEmpty || (this.appendsDue.get(to) ?? false));
  }

  private markAllDue(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.markDue(id, true);
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(context: string | undefined): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send({
        type: 'heartbeat',
        to: id,
        commit: Math.min(pr.match, this.log.committed),
        leaseTick: this.tickCount,
        ...(context !== undefined ? { context } : {}),
      });
    }
  }

  /**
   * §5.3, §5.4.2: commit the highest index replicated on a quorum of voters, but only if that
   * entry is from the current term (earlier-term entries are committed indirectly).
   */
  private maybeCommit(): boolean {
    const sole = this.cfg.soleVoterCommitsUnpersisted === true && this.conf.voters.length === 1;
    const matchOf = (v: NodeId) => {
      const m = this.progress.get(v)?.match ?? 0;
      return v === this.id && !sole ? Math.min(m, this.log.durable) : m;
    };
    const matches = this.conf.voters.map(matchOf).sort((a, b) => b - a);
    const mci = matches[quorum(this.conf) - 1] ?? 0;
    if (mci <= this.log.committed) return false;
    if (!this.cfg.plantedBugs?.commitPreviousTermByCounting && this.log.term(mci) !== this.term) return false;
    this.log.commitTo(mci);
    this.uncommittedBytes = 0;
    for (const e of this.log.slice(mci + 1, this.log.lastIndex() + 1) ?? []) this.uncommittedBytes += entrySize(e);
    if (this.committedInCurrentTerm() && this.readsAwaitingCommit.length > 0) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const r of waiting) this.serveRead(r.context, r.from);
    }
    return true;
  }

  private appendEntry(type: Entry['type'], data: Uint8Array): { index: number; term: number } {
    const e: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    this.log.append([e]);
    this.uncommittedBytes += entrySize(e);
    (this.progress.get(this.id) as Progress).maybeUpdate(e.index);
    this.maybeCommit();
    return { index: e.index, term: e.term };
  }

  private assertCanPropose(bytes: number): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== undefined) throw new NotLeaderError(this.lead, 'leadership transfer in progress');
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes + 24 > this.cfg.maxUncommittedBytes) {
      throw new ProposalRefusedError(
        'overloaded',
        `too much uncommitted data (limit ${this.cfg.maxUncommittedBytes} bytes)`,
      );
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.conf.voters) if (v === this.id || this.progress.get(v)?.recentActive) active++;
    return active >= quorum(this.conf);
  }

  // ---- snapshots (§7) -----------------------------------------------------------------------

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    // Do not stream a snapshot to a follower we have not heard from lately.
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot;
    if (snapshot.meta.index === 0) return false;
    pr.becomeSnapshot(snapshot);
    this.sendSnapshotChunk(to, pr);
    return true;
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const s = pr.snapshot as Snapshot;
    const offset = pr.snapshotOffset;
    const end = Math.min(s.data.byteLength, offset + this.cfg.maxSnapshotChunkBytes);
    this.send({
      type: 'snap',
      to,
      snapshot: { meta: s.meta, offset, data: s.data.subarray(offset, end), total: s.data.byteLength },
    });
  }

  /** InstallSnapshot receiver (Figure 13), in chunks: each must continue where the last ended. */
  private handleSnapshot(m: Message): void {
    const chunk = m.snapshot;
    if (!chunk) return;
    const meta = chunk.meta;
    const refuse = (): void => {
      this.incoming = undefined;
      this.send({ type: 'snapResp', to: m.from, index: meta.index, offset: 0, reject: true });
    };
    if (chunk.total > this.cfg.maxSnapshotBytes) return refuse();
    if (chunk.offset === 0) this.incoming = { meta, total: chunk.total, chunks: [], received: 0 };
    const inc = this.incoming;
    if (!inc || inc.meta.index !== meta.index || inc.meta.term !== meta.term || chunk.offset !== inc.received)
      return refuse();
    inc.chunks.push(chunk.data);
    inc.received += chunk.data.byteLength;
    if (inc.received > inc.total) return refuse();
    if (inc.received < inc.total) {
      this.send({ type: 'snapResp', to: m.from, index: meta.index, offset: inc.received });
      return;
    }
    this.incoming = undefined;
    const data = new Uint8Array(inc.total);
    let at = 0;
    for (const c of inc.chunks) {
      data.set(c, at);
      at += c.byteLength;
    }
    const restored = this.restore({ meta, data });
    this.send({ type: 'appResp', to: m.from, index: restored ? this.log.lastIndex() : this.log.committed });
  }

  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // Our log already holds the snapshot's last entry: just commit up to it (Figure 13 step 6).
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.conf = s.meta.conf;
    this.pendingSnapshot = s;
    return true;
  }

  // ---- reads (§6.4 of the dissertation) ----------------------------------------------------

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private serveRead(context: string, from: NodeId | undefined): void {
    if (this.conf.voters.length === 1 || this.leaseValid()) {
      this.readReady(this.log.committed, context, from);
      return;
    }
    this.pendingReads.push({ index: this.log.committed, context, acks: new Set([this.id]), from });
    this.bcastHeartbeat(context);
  }

  /** A confirmed read point: a ReadState for this leader's own read, an answer for a follower's. */
  private readReady(index: number, context: string, from: NodeId | undefined): void {
    if (from === undefined || from === this.id) this.readStates.push({ index, context });
    else this.send({ type: 'readIndexResp', to: from, index, context });
  }

  /**
   * Lease reads (dissertation §6.4.1): valid while a quorum acknowledged heartbeats sent less than
   * an election timeout ago. Those voters ignore vote requests until an election timeout after
   * receiving them (the inLease check in step), so no other leader can exist yet.
   */
  private leaseValid(): boolean {
    if (this.cfg.readMode !== 'lease' || this.leadTransferee !== undefined) return false;
    const ticks = this.conf.voters
      .map((v) => (v === this.id ? this.tickCount : (this.progress.get(v)?.ackedLeaseTick ?? -Infinity)))
      .sort((a, b) => b - a);
    return (ticks[quorum(this.conf) - 1] ?? -Infinity) > this.tickCount - this.cfg.electionTicks;
  }

  private ackRead(context: string, from: NodeId): void {
    const at = this.pendingReads.findIndex((r) => r.context === context);
    if (at < 0) return;
    const req = this.pendingReads[at] as PendingRead;
    if (!isVoter(this.conf, from)) return;
    req.acks.add(from);
    let votes = 0;
    for (const v of this.conf.voters) if (req.acks.has(v)) votes++;
    if (votes < quorum(this.conf)) return;
    // Confirming a later request confirms every earlier one too.
    for (const r of this.pendingReads.splice(0, at + 1)) this.readReady(r.index, r.context, r.from);
  }

  // ---- plumbing -----------------------------------------------------------------------------

  private send(m: Outgoing): void {
    // Object.assign, not a spread: on Node 20 every spread result gets its own hidden class.
    this.msgs.push(Object.assign({}, m, { from: this.id, term: m.term ?? this.term }) as Message);
  }
}

/** Decodes committed 'conf' entries for RawNode; exported for applications that track membership. */
export function confChangeOf(e: Entry): ConfChange | undefined {
  return e.type === 'conf' ? decodeConfChange(e.data) : undefined;
}
