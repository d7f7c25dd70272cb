import { CorruptError } from '../errors.js';
import { encodeConfChange } from './conf-change.js';
import { type RaftConfig, withDefaults } from './config.js';
import { Raft, type RaftInit, confChangeOf } from './raft.js';
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, Ready, Snapshot, SoftState } from './types.js';

/** A read-only summary of a node, for status endpoints and tests. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId | undefined;
  readonly lead: NodeId | undefined;
  readonly role: SoftState['role'];
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** Bytes (entrySize) and count of the log entries held in memory (RaftConfig.maxLogBytesInMemory). */
  readonly logInMemory: { readonly bytes: number; readonly entries: number };
  readonly conf: ConfState;
  /** Leader only: match index per member. */
  readonly match: Readonly<Record<NodeId, number>>;
}

/**
 * The persisted state that starts a brand-new cluster of `voters`: one committed membership entry
 * per voter at term 1, so that servers added later learn the initial membership from the log.
 * Every founding server must persist exactly this before creating its RawNode with it.
 */
export function bootstrapState(voters: readonly NodeId[]): Required<Pick<RaftInit, 'hardState' | 'entries' | 'conf'>> {
  if (voters.length === 0 || new Set(voters).size !== voters.length)
    throw new CorruptError('bootstrap needs distinct voters');
  const sorted = [...voters].sort();
  const entries: Entry[] = sorted.map((node, i) => ({
    term: 1,
    index: i + 1,
    type: 'conf',
    data: encodeConfChange({ type: 'addVoter', node }),
  }));
  return {
    hardState: { term: 1, vote: undefined, commit: sorted.length },
    entries,
    conf: { voters: sorted, learners: [] },
  };
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * The application-facing Raft node (etcd's RawNode): feed it ticks, messages and proposals, then
 * collect work with ready() and acknowledge it with advance(). The caller's contract, for every
 * Ready in order (details, including when a write need not be synced and when messages may go
 * out early, on the Ready type): (1) persist hardState, entries and snapshot, and report it with
 * persisted(ready); (2) send messages;
 * (3) install the snapshot, apply committedEntries in order, serve readStates once applied;
 * (4) call advance(ready) before calling step/tick/propose again.
 * Committed membership changes take effect when advance() is called for them.
 */
export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  /** The hard state of the last Ready reported durable (persisted()), or the one started from. */
  private durableHard: HardState;
  /** While true, Readies hand out no committed entries (see holdApply). */
  private applyHeld = false;

  /** Creates a node from its persisted state (see RaftInit; bootstrapState for a new cluster). */
  constructor(config: Partial<RaftConfig> & Pick<RaftConfig, 'id' | 'rng'>, init: RaftInit = {}) {
    this.raft = new Raft(withDefaults(config), init);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
    this.durableHard = this.prevHard;
  }

  tick(): void {
    this.raft.tick();
  }

  step(m: Message): void {
    this.raft.step(m);
  }

  /** See Raft.propose. */
  propose(data: Uint8Array): { index: number; term: number } {
    return this.raft.propose(data);
  }

  /** See Raft.proposeConfChange. */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    return this.raft.proposeConfChange(cc);
  }

  /** See Raft.readIndex. */
  readIndex(context: string): void {
    this.raft.readIndex(context);
  }

  /** See Raft.transferLeader. */
  transferLeader(to: NodeId): void {
    this.raft.transferLeader(to);
  }

  /** See Raft.compact: the caller persists the returned snapshot and drops its log prefix. */
  compact(index: number, data: Uint8Array, conf?: ConfState): Snapshot {
    return this.raft.compact(index, data, conf);
  }

  /**
   * Holds back (true) or hands out again (false) the committed entries: while held, Readies carry
   * none, so nothing is applied, while the node goes on appending, acknowledging, voting and
   * committing (a chaos experiment's paused apply loop). Entries committed meanwhile stay in
   * memory until they are applied; a snapshot from the leader is still installed.
   */
  holdApply(held: boolean): void {
    this.applyHeld = held;
  }

  /** Whether ready() would return any work. */
  hasReady(): boolean {
    const r = this.raft;
    const soft = r.softState();
    return (
      soft.lead !== this.prevSoft.lead ||
      soft.role !== this.prevSoft.role ||
      !sameHard(this.persistable(r.hardState()), this.prevHard) ||
      r.log.stable < r.log.lastIndex() ||
      r.pendingSnapshot !== undefined ||
      (!this.applyHeld && r.log.committed > r.log.applied) ||
      r.msgs.length > 0 ||
      r.hasAppendsDue() ||
      r.readStates.length > 0
    );
  }

  /** The work accumulated since the last advance(); see the class contract. */
  ready(): Ready {
    const r = this.raft;
    r.flushAppends();
    const soft = r.softState();
    const hard = this.persistable(r.hardState());
    const snapshot = r.pendingSnapshot;
    const entries = r.log.unstable();
    const newTermOrVote = hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote;
    // Early sending needs the term and vote on disk, not merely handed out in a Ready still in flight.
    const termAndVoteDurable = hard.term === this.durableHard.term && hard.vote === this.durableHard.vote;
    return {
      ...(soft.lead !== this.prevSoft.lead || soft.role !== this.prevSoft.role ? { softState: soft } : {}),
      ...(!sameHard(hard, this.prevHard) ? { hardState: hard } : {}),
      entries,
      ...(snapshot ? { snapshot } : {}),
      committedEntries: snapshot || this.applyHeld ? [] : r.log.nextCommitted(r.cfg.maxCommittedBytesPerReady),
      messages: r.msgs.slice(),
      readStates: r.readStates.slice(),
      mustSync: entries.length > 0 || snapshot !== undefined || newTermOrVote,
      sendBeforePersist: r.role === 'leader' && termAndVoteDurable && snapshot === undefined,
    };
  }

  /**
   * Reports that `rd`'s entries and snapshot are durable (step 1 completed). May come after
   * advance(rd); reports must come in the order of the Readies.
   */
  persisted(rd: Ready): void {
    if (rd.hardState) this.durableHard = rd.hardState;
    if (rd.snapshot) this.raft.persistedTo(rd.snapshot.meta.index, rd.snapshot.meta.term);
    const last = rd.entries[rd.entries.length - 1];
    if (last) this.raft.persistedTo(last.index, last.term);
  }

  /** Acknowledges that `rd` (the last ready()) was persisted, sent and applied. */
  advance(rd: Ready): void {
    const r = this.raft;
    if (rd.softState) this.prevSoft = rd.softState;
    if (rd.hardState) this.prevHard = rd.hardState;
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry && r.log.matchTerm(lastEntry.index, lastEntry.term))
      r.log.stable = Math.max(r.log.stable, lastEntry.index);
    if (rd.snapshot) {
      if (r.pendingSnapshot === rd.snapshot) r.pendingSnapshot = undefined;
      r.log.applied = Math.max(r.log.applied, rd.snapshot.meta.index);
    }
    for (const e of rd.committedEntries) {
      r.log.applied = e.index;
      const cc = confChangeOf(e);
      if (cc) r.applyConfChange(cc);
    }
    if (rd.committedEntries.length > 0) r.log.evict();
    r.msgs.splice(0, rd.messages.length);
    r.readStates.splice(0, rd.readStates.length);
  }

  status(): RaftStatus {
    const r = this.raft;
    const match: Record<NodeId, number> = {};
    if (r.role === 'leader')
      for (const id of [...r.conf.voters, ...r.conf.learners]) match[id] = r.progressOf(id)?.match ?? 0;
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      lead: r.lead,
      role: r.role,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      snapshotIndex: r.log.snapshot.meta.index,
      logInMemory: r.log.inMemory(),
      conf: r.conf,
      match,
    };
  }

  /** The hard state as it will be persisted (a planted bug may drop the vote). */
  private persistable(hs: HardState): HardState {
    if (!this.raft.cfg.plantedBugs?.forgetVoteOnCrash) return hs;
    return { ...hs, vote: hs.term === this.prevHard.term ? this.prevHard.vote : undefined };
  }
}
