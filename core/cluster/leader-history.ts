import { ConfigError } from '../errors.js';
import type { Clock } from '../ports/clock.js';

/** One leader change as a server saw it (GET /v1/operator/raft/leader-history). */
export interface LeaderChange {
  /** The leader's node name, or "" when the server lost its leader (an election is under way). */
  readonly Leader: string;
  /** The Raft term the observation belongs to. */
  readonly Term: number;
  /** When the server saw it, RFC 3339 (UTC, milliseconds), from its clock. */
  readonly Time: string;
}

/** Changes a server keeps unless told otherwise. */
export const DEFAULT_LEADER_HISTORY_MAX = 256;

/**
 * The leader changes one server observed, in memory, oldest first: starts with the first leader
 * it sees (no entry for the time before), then an entry whenever the leader it knows differs
 * from the last one recorded, including the loss of a leader (Leader ""), so a time line shows
 * the gaps. Keeps the last `maxChanges` (a positive integer; ConfigError otherwise), dropping the
 * oldest. Times come from `clock`.
 */
export class LeaderHistory {
  private readonly entries: Array<{ readonly leader: string; readonly term: number; readonly at: number }> = [];

  constructor(
    private readonly clock: Clock,
    private readonly maxChanges = DEFAULT_LEADER_HISTORY_MAX,
  ) {
    if (!Number.isSafeInteger(maxChanges) || maxChanges < 1)
      throw new ConfigError('leader history: maxChanges must be a positive integer');
  }

  /**
   * Tells the history the leader this server now knows (`lead`, undefined for none) in `term`.
   * Returns whether that made an entry: false before any leader was seen and when the leader is
   * the last one recorded.
   */
  observe(lead: string | undefined, term: number): boolean {
    const last = this.entries[this.entries.length - 1];
    const leader = lead ?? '';
    if (last === undefined ? leader === '' : last.leader === leader) return false;
    this.entries.push({ leader, term, at: this.clock.now() });
    if (this.entries.length > this.maxChanges) this.entries.splice(0, this.entries.length - this.maxChanges);
    // Invariant: at most maxChanges entries, and never two consecutive ones with the same leader.
    return true;
  }

  /** The recorded changes, oldest first (a copy). */
  changes(): LeaderChange[] {
    return this.entries.map((e) => ({ Leader: e.leader, Term: e.term, Time: new Date(e.at).toISOString() }));
  }
}
