import { ConfigError } from '../errors.js';
import type { Rng } from '../ports/rng.js';
import type { NodeId } from './types.js';

/**
 * Deliberate bugs for proving that the simulator and checkers catch real mistakes. Never set
 * outside tests.
 */
export interface PlantedBugs {
  /** Commit an entry of a previous term by counting replicas (violates §5.4.2 / Figure 8). */
  readonly commitPreviousTermByCounting?: boolean;
  /** Answer reads from local state at once, without ReadIndex or a lease (§6.4 / §8). */
  readonly readsWithoutReadIndex?: boolean;
  /** Leave a vote out of the persisted hard state, so a crash forgets it (Figure 2: votedFor is persistent). */
  readonly forgetVoteOnCrash?: boolean;
}

/** Tunables of a Raft node; `withDefaults` fills and validates them. */
export interface RaftConfig {
  readonly id: NodeId;
  /** Randomness for election timeouts (§5.2). */
  readonly rng: Rng;
  /** Ticks without hearing from a leader before an election; randomized in [e, 2e). */
  readonly electionTicks: number;
  /** Ticks between leader heartbeats; must be smaller than electionTicks. */
  readonly heartbeatTicks: number;
  /** Run a pre-election that does not disturb the cluster (dissertation §9.6). */
  readonly preVote: boolean;
  /** A leader that has not heard from a quorum within an election timeout steps down (§6.2). */
  readonly checkQuorum: boolean;
  /** 'safe': ReadIndex confirmed by a heartbeat round; 'lease': the leader's lease (needs checkQuorum). */
  readonly readMode: 'safe' | 'lease';
  /** Largest batch of entries in one append message (at least one entry is always sent). */
  readonly maxMsgBytes: number;
  /** Append messages in flight per follower while replicating. */
  readonly maxInflightMsgs: number;
  /** Bytes of proposed but uncommitted entries a leader accepts before refusing proposals. */
  readonly maxUncommittedBytes: number;
  /** Bytes of committed entries handed out per Ready. */
  readonly maxCommittedBytesPerReady: number;
  /**
   * Bytes of applied, durable log entries kept in memory when the log storage can read entries
   * back (RaftInit.entrySource); older ones are read from it when a follower needs them.
   */
  readonly maxLogBytesInMemory: number;
  /** Bytes per snapshot chunk sent to a lagging follower. */
  readonly maxSnapshotChunkBytes: number;
  /** Largest snapshot a follower accepts. */
  readonly maxSnapshotBytes: number;
  /** ReadIndex requests a leader holds waiting for confirmation. */
  readonly maxPendingReads: number;
  /**
   * While this node leads as the only voter, its appended entries count toward commitment before
   * they are reported durable, so a Ready may hand out for applying the very entries it asks to
   * persist, as etcd-raft does (no quorum anywhere else could hold them earlier). Only for an
   * application that makes a Ready's entries durable no later than it applies that Ready's
   * committed entries, and answers for neither before both are durable (RaftDriver writes both
   * in one transaction, the log first). With more voters a leader counts only what is durable.
   */
  readonly soleVoterCommitsUnpersisted?: boolean;
  readonly plantedBugs?: PlantedBugs;
}

/** Defaults in the spirit of etcd-raft. */
export const RAFT_DEFAULTS: Omit<RaftConfig, 'id' | 'rng'> = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  readMode: 'safe',
  maxMsgBytes: 1024 * 1024,
  maxInflightMsgs: 256,
  maxUncommittedBytes: 64 * 1024 * 1024,
  maxCommittedBytesPerReady: 16 * 1024 * 1024,
  maxLogBytesInMemory: 8 * 1024 * 1024,
  maxSnapshotChunkBytes: 1024 * 1024,
  maxSnapshotBytes: 1024 * 1024 * 1024,
  maxPendingReads: 4096,
};

/** Fills defaults and validates. Throws ConfigError naming the bad field. */
export function withDefaults(config: Partial<RaftConfig> & Pick<RaftConfig, 'id' | 'rng'>): RaftConfig {
  const c: RaftConfig = { ...RAFT_DEFAULTS, ...config };
  if (c.id.length === 0) throw new ConfigError('raft: id must not be empty');
  const positive: Array<keyof RaftConfig> = [
    'electionTicks',
    'heartbeatTicks',
    'maxMsgBytes',
    'maxInflightMsgs',
    'maxUncommittedBytes',
    'maxCommittedBytesPerReady',
    'maxLogBytesInMemory',
    'maxSnapshotChunkBytes',
    'maxSnapshotBytes',
    'maxPendingReads',
  ];
  for (const k of positive) {
    const v = c[k] as number;
    if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`raft: ${k} must be a positive integer`);
  }
  if (c.heartbeatTicks >= c.electionTicks)
    throw new ConfigError('raft: heartbeatTicks must be smaller than electionTicks');
  if (c.readMode === 'lease' && !c.checkQuorum) throw new ConfigError('raft: lease reads need checkQuorum');
  return c;
}
