import type { PlantedBugs } from '../../core/raft/config.js';
import type { DriverBugs } from '../../core/replication/driver.js';
import type { InvariantName } from './invariants.js';

/** Every deliberate bug a run can plant: in the Raft state machine, and in the driver around it. */
export type SimBugs = PlantedBugs & DriverBugs;

/** Names of the bugs a run can plant, Raft's first, then the driver's. */
export const PLANTED_BUG_NAMES: ReadonlyArray<keyof SimBugs> = [
  'commitPreviousTermByCounting',
  'readsWithoutReadIndex',
  'forgetVoteOnCrash',
  'applyBeforeDurable',
  'ackBeforePersist',
  'countUnpersistedOwnEntries',
];

/** Probabilities and sizes of the faults a run injects; all chosen per seed unless given. */
export interface FaultRates {
  readonly drop: number;
  readonly duplicate: number;
  /** Probability that a message is delayed by up to `maxDelayMs` (which reorders messages). */
  readonly delay: number;
  readonly maxDelayMs: number;
  /** Extra random latency on every message (0 for a fast, steady network). */
  readonly jitterMs: number;
  /** Mean time between fault events (partition, crash, membership change, transfer), ms. */
  readonly faultEveryMs: number;
  /** Probability that a node crashes right after persisting a Ready (before sending or applying). */
  readonly crashInReady: number;
  /** Probability that a node crashes before persisting a Ready (a leader's early appends are out). */
  readonly crashBeforePersist: number;
  /** Probability that a node crashes just after sending a granted vote (tests vote durability). */
  readonly crashAfterVote: number;
  /** Probability that a leader crashes just after sending appends (partial replication, Figure 8). */
  readonly crashAfterAppend: number;
  /** Probability that a leader is cut off just before its appends go out (entries stay on it alone). */
  readonly isolateBeforeAppend: number;
  /** Probability that a just-elected leader is cut off before its first appends go out. */
  readonly isolateNewLeader: number;
  /**
   * Probability that a leader crashes right after announcing a higher commit index while writes of
   * its own are still in flight (the window in which counting unpersisted entries would lose data).
   */
  readonly crashCommitInFlight: number;
  /** Longest time a simulated disk takes to complete a write, ms (each write takes 0 to this). */
  readonly diskMs: number;
  /** Probability that a write stalls for up to 60 ms more (an fsync spike; later writes wait behind it). */
  readonly diskStall: number;
}

/** Families of fault schedules; each seed draws one. */
export type SimProfile = 'mixed' | 'chaos' | 'leader-churn';

/** Options of one simulation run. */
export interface SimOptions {
  readonly seed: number;
  /** 3 or 5 founding voters (default: chosen by the seed). */
  readonly voters?: 3 | 5;
  /** Events to run with faults before the final heal. */
  readonly steps?: number;
  readonly plantedBugs?: SimBugs;
  readonly faults?: Partial<FaultRates>;
  /** Raft read mode under test. */
  readonly readMode?: 'safe' | 'lease';
  /** Writes a node may have in flight (default: chosen by the seed, 1 or 2-4). */
  readonly pipeline?: number;
}

/** Counters of what a run did. */
export interface SimStats {
  steps: number;
  elections: number;
  messages: number;
  drops: number;
  duplicates: number;
  delays: number;
  partitions: number;
  crashes: number;
  restarts: number;
  confChanges: number;
  transfers: number;
  snapshotsInstalled: number;
  opsOk: number;
  opsFailed: number;
  opsUnknown: number;
  maxCommit: number;
}

/** The outcome of a run; a failure names the broken property and the step it broke at. */
export interface SimResult {
  readonly seed: number;
  readonly voters: number;
  readonly profile: SimProfile;
  /** Writes a node may have in flight (1: each Ready persisted before the next). */
  readonly pipeline: number;
  readonly ok: boolean;
  readonly failure?: { readonly invariant: InvariantName; readonly message: string; readonly step: number };
  readonly stats: SimStats;
}
