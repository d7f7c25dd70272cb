/** Identifier of a Raft member (the node name). Non-empty. */
export type NodeId = string;

/** Kind of a log entry: an application command, or a membership change (`data` is a ConfChange). */
export type EntryType = 'normal' | 'conf';

/** A log entry. Invariant: `index` >= 1 and `term` >= 1 for every real entry. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** State that must be persisted before any message produced with it is sent (Figure 2). */
export interface HardState {
  readonly term: number;
  /** Candidate voted for in `term`, or undefined. */
  readonly vote: NodeId | undefined;
  readonly commit: number;
}

/** Cluster membership. A node is in at most one of the two lists. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  /** Non-voting members: they receive the log but neither vote nor count for commitment. */
  readonly learners: readonly NodeId[];
}

/** A membership change, applied one at a time (§4.1 of the Raft dissertation). */
export interface ConfChange {
  readonly type: 'addVoter' | 'addLearner' | 'removeNode';
  readonly node: NodeId;
}

/** Where a snapshot sits in the log, and the membership at that point. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

/** Application state as of `meta.index`, opaque to Raft. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** A confirmed linearizable read point: reads for `context` may be served once applied >= index. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** Role of a node. */
export type RaftRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state the application may want to observe (not persisted). */
export interface SoftState {
  readonly lead: NodeId | undefined;
  readonly role: RaftRole;
}

/** Types of messages exchanged between Raft nodes. */
export type MessageType =
  | 'app'
  | 'appResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'snap'
  | 'snapResp'
  | 'timeoutNow'
  | 'readIndex'
  | 'readIndexResp';

/** One chunk of a snapshot in transit. */
export interface SnapshotChunk {
  readonly meta: SnapshotMeta;
  /** Byte offset of `data` within the whole snapshot. */
  readonly offset: number;
  readonly data: Uint8Array;
  /** Size of the whole snapshot in bytes. */
  readonly total: number;
}

/**
 * A Raft message. Fields beyond type/from/to/term are used by some types only:
 * app: index/logTerm (the entry before `entries`), entries, commit;
 * appResp: index (last matched, or the probed index when rejected), reject, rejectHint, logTerm;
 * vote/preVote: index/logTerm (candidate's last entry), transfer (leader transfer: bypasses leases);
 * heartbeat: commit, context (ReadIndex), leaseTick; heartbeatResp: context, leaseTick;
 * snap: snapshot chunk; snapResp: index (snapshot index), offset (bytes received), reject;
 * readIndex (a follower asks the leader for a read point): context; readIndexResp: context, index.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly index?: number;
  readonly logTerm?: number;
  readonly entries?: readonly Entry[];
  readonly commit?: number;
  readonly reject?: boolean;
  readonly rejectHint?: number;
  readonly context?: string;
  readonly transfer?: boolean;
  readonly leaseTick?: number;
  readonly snapshot?: SnapshotChunk;
  readonly offset?: number;
}

/**
 * Work for the application, produced by RawNode.ready(). The caller must, in this order:
 * 1. persist `hardState`, `entries` (replacing any stored entries at the same or higher indexes)
 *    and `snapshot` (replacing the stored log up to it); durably (synced) when `mustSync` is set,
 *    while a Ready whose only change is the commit index may be written without waiting for a
 *    sync (a lost commit index is learned again from the leader); then report it with
 *    RawNode.persisted(ready);
 * 2. send `messages`, except that when `sendBeforePersist` is set they may be sent before or
 *    while step 1 runs (a leader's appends overlap its own log write, Raft thesis §10.2.1);
 * 3. install `snapshot` into the state machine, then apply `committedEntries` in order, and serve
 *    reads for `readStates` once their index is applied (applying may share step 1's transaction:
 *    committed entries are already durable in this node's log or in this same Ready);
 * 4. call advance(ready), and only then step, tick or propose again.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** Whether step 1 must be synced to disk before step 2 (entries, a snapshot, or a new term or vote). */
  readonly mustSync: boolean;
  /**
   * Whether `messages` may go out before step 1 completes: set only for a leader whose term and
   * vote are already persisted. Its own new entries count toward commitment only once the caller
   * reports them durable (RawNode.persisted), so nothing is committed on the strength of a log
   * write that has not finished.
   */
  readonly sendBeforePersist: boolean;
}

/**
 * Where a node's persisted log entries can be read back when they are no longer held in memory
 * (RaftLog keeps only a bounded suffix). Implemented by the application's log storage.
 */
export interface LogEntrySource {
  /**
   * Entries [lo, hi) as last persisted, synchronously: at least one, then as many as fit in
   * `maxBytes` (entrySize). Only called for entries reported durable and committed, which no
   * later write replaces. Throws CorruptError when they cannot be read.
   */
  read(lo: number, hi: number, maxBytes: number): Entry[];
}

/** Size in bytes of an entry for batching and limits. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + 24;
}
