import type { NodeId } from '../../core/raft/types.js';
import type { ForwardCancel } from '../transport.js';
import type { ClusterState } from './state.js';

/** How long a server waits for the leader's answer to what it sent (besides a blocking query's own wait), ms. */
export const LEADER_ANSWER_MS = 15_000;

/** A request sent to `leader` and not answered yet: cancelled when the leader changes or at `deadline`. */
export interface ToLeader {
  readonly leader: NodeId;
  readonly cancel: ForwardCancel;
  /** Date.now() after which it is cancelled. */
  readonly deadline: number;
  /** A leadership transfer moves the leader by design: such a request waits for the old leader's answer. */
  readonly movesLeader: boolean;
}

/**
 * Watches what a server sent to the leader (forwarded requests, proposals) with one timer while
 * there is any: every 100 ms it cancels those whose leader is no longer the leader (the old one
 * may be paused or cut off) or whose deadline passed, so that the client gets its answer and can
 * try another server instead of waiting on a leader that will not answer.
 */
export class LeaderWatch {
  private readonly inFlight = new Set<ToLeader>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly state: ClusterState) {}

  /** Watches `r` until the returned function is called (once it is answered, or failed). */
  add(r: ToLeader): () => void {
    this.inFlight.add(r);
    this.start();
    return () => this.inFlight.delete(r);
  }

  /** Stops the timer and cancels everything in flight. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const r of this.inFlight) r.cancel.abort();
  }

  private start(): void {
    if (this.timer || this.inFlight.size === 0 || this.state.stopped) return;
    this.timer = setInterval(() => {
      const lead = this.state.leaderInfo()?.name;
      const now = Date.now();
      for (const r of this.inFlight) if ((!r.movesLeader && lead !== r.leader) || now > r.deadline) r.cancel.abort();
      if (this.inFlight.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    }, 100);
  }
}
