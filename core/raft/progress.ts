import type { Snapshot } from './types.js';

/** A bounded window of in-flight append messages, each remembered by its last entry index. */
export class Inflights {
  private readonly buf: number[] = [];
  constructor(readonly capacity: number) {}

  full(): boolean {
    return this.buf.length >= this.capacity;
  }

  get count(): number {
    return this.buf.length;
  }

  add(lastIndex: number): void {
    this.buf.push(lastIndex);
  }

  /** Frees every message whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.buf.length && (this.buf[n] as number) <= index) n++;
    this.buf.splice(0, n);
  }

  /** Frees the oldest message (a heartbeat answer shows the follower is alive; lost appends must not stall it). */
  freeFirst(): void {
    this.buf.shift();
  }

  reset(): void {
    this.buf.length = 0;
  }
}

/**
 * The leader's view of one follower's log (§5.3): `match` is known replicated, `next` is what to
 * send next. States: probe (one message at a time until the match point is found), replicate
 * (pipelined appends within the inflight window), snapshot (sending a snapshot in chunks).
 */
export class Progress {
  match = 0;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot' = 'probe';
  /** In probe state, a message is out and we wait for its answer (or a heartbeat answer). */
  probeSent = false;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Highest leader tick of a heartbeat this follower acknowledged (lease reads). */
  ackedLeaseTick = -Infinity;
  readonly inflights: Inflights;
  /** Snapshot being sent, bytes acknowledged so far, and ticks since the last acknowledgement. */
  snapshot: Snapshot | undefined;
  snapshotOffset = 0;
  snapshotIdleTicks = 0;

  constructor(
    next: number,
    maxInflight: number,
    readonly isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  /** Records that the follower has entries up to `index`; returns whether match advanced. */
  maybeUpdate(index: number): boolean {
    const updated = index > this.match;
    if (updated) {
      this.match = index;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * Handles a rejected append of `rejected` with the follower's hint. Returns false when the
   * rejection is stale (out of order) and changes nothing.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold off sending appends to this follower. */
  isPaused(): boolean {
    if (this.state === 'probe') return this.probeSent;
    if (this.state === 'replicate') return this.inflights.full();
    return true;
  }

  becomeProbe(): void {
    this.next = this.match + 1;
    this.resetTo('probe');
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.resetTo('replicate');
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.resetTo('snapshot');
    this.snapshot = snapshot;
  }

  private resetTo(state: Progress['state']): void {
    this.state = state;
    this.probeSent = false;
    this.inflights.reset();
    this.snapshot = undefined;
    this.snapshotOffset = 0;
    this.snapshotIdleTicks = 0;
  }
}
