/** Opaque handle of a scheduled timer; only meaningful to the Clock that issued it. */
export type TimerHandle = unknown;

/**
 * Time as seen by the core. Production uses the wall clock and real timers; the simulator
 * drives a virtual clock so runs are reproducible from a seed.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. Never decreases between calls on one Clock. */
  now(): number;
  /** Calls `fn` once after at least `ms` milliseconds (ms >= 0). */
  setTimer(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; cancelling a fired or unknown timer is a no-op. */
  clearTimer(handle: TimerHandle): void;
}
