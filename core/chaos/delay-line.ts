import type { Clock, TimerHandle } from '../ports/clock.js';

/** One peer's held items, oldest first, each with the clock time it may leave. */
interface Lane<T> {
  readonly items: Array<{ readonly at: number; readonly item: T }>;
  timer: TimerHandle | undefined;
}

/**
 * Holds items (Raft messages) for a while before handing them on, per peer and in order: an
 * item leaves at `now + delayMs` or when the one before it to the same peer left, whichever is
 * later, so jitter never reorders a peer's messages (it bunches them instead). Once a peer has
 * items waiting, every new item to it must go through the line too (see holds()), or it would
 * overtake them. At most `maxItems` wait in all: beyond, the oldest item of the same peer is
 * dropped and counted (Raft resends what it still needs). Timers come from the Clock port; one
 * per peer with items waiting. `deliver` gets the items of one peer that are due, in order.
 */
export class DelayLine<T> {
  private readonly lanes = new Map<string, Lane<T>>();
  private held = 0;
  /** Items dropped because the line was full. */
  dropped = 0;

  constructor(
    private readonly clock: Clock,
    private readonly maxItems: number,
    private readonly deliver: (peer: string, items: T[]) => void,
  ) {
    if (!Number.isInteger(maxItems) || maxItems < 1) throw new RangeError('maxItems must be a positive integer');
  }

  /** Items waiting, in all. */
  get size(): number {
    return this.held;
  }

  /** Whether items to `peer` are waiting (a new one must then be pushed, even with no delay). */
  holds(peer: string): boolean {
    return this.lanes.has(peer);
  }

  /** Holds `item` for `peer` for at least `delayMs` (>= 0), behind what waits for `peer` already. */
  push(peer: string, item: T, delayMs: number): void {
    let lane = this.lanes.get(peer);
    if (!lane) {
      lane = { items: [], timer: undefined };
      this.lanes.set(peer, lane);
    }
    if (this.held >= this.maxItems) {
      // Drop from this peer's own lane when it has any, so one slow peer cannot starve the others.
      const victim = lane.items.length > 0 ? lane : [...this.lanes.values()].find((l) => l.items.length > 0);
      if (victim) {
        victim.items.shift();
        this.held--;
        this.dropped++;
      }
    }
    const last = lane.items[lane.items.length - 1];
    const at = Math.max(this.clock.now() + Math.max(0, delayMs), last?.at ?? 0);
    lane.items.push({ at, item });
    this.held++;
    if (lane.timer === undefined) this.arm(peer, lane);
  }

  /** Drops everything waiting and cancels the timers (when the server stops). */
  clear(): void {
    for (const lane of this.lanes.values()) if (lane.timer !== undefined) this.clock.clearTimer(lane.timer);
    this.lanes.clear();
    this.held = 0;
  }

  /** Sets the timer of `lane` for its first item. */
  private arm(peer: string, lane: Lane<T>): void {
    const first = lane.items[0];
    if (!first) {
      lane.timer = undefined;
      this.lanes.delete(peer);
      return;
    }
    lane.timer = this.clock.setTimer(() => this.release(peer, lane), first.at - this.clock.now());
  }

  /** Hands on the items of `lane` that are due and waits for the next. */
  private release(peer: string, lane: Lane<T>): void {
    if (this.lanes.get(peer) !== lane) return;
    const now = this.clock.now();
    let n = 0;
    while (n < lane.items.length && (lane.items[n] as { at: number }).at <= now) n++;
    const due = lane.items.splice(0, n).map((e) => e.item);
    this.held -= due.length;
    this.arm(peer, lane);
    if (due.length > 0) this.deliver(peer, due);
  }
}
