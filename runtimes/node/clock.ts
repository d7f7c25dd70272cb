import type { Clock, TimerHandle } from '../../core/ports/clock.js';

/** Wall-clock changes up to this size (ms) are followed (NTP slewing, small corrections). */
export const CLOCK_STEP_FOLLOWED_MS = 1000;

/** Where a system clock reads time: the wall clock and a monotonic clock (both in ms). */
export interface TimeSources {
  readonly wall: () => number;
  readonly monotonic: () => number;
}

const SYSTEM: TimeSources = { wall: () => Date.now(), monotonic: () => performance.now() };

/**
 * The wall clock and Node timers, as the servers' Clock. now() is the wall time at the last
 * anchor plus the monotonic time since: it follows the wall clock through small changes (up to
 * CLOCK_STEP_FOLLOWED_MS at a time) but not through a step (an NTP jump, a manual `date -s`),
 * which it reports once to `onStep` and otherwise ignores, as Go's monotonic readings do. Lock
 * delays, session TTLs and leases are stamped with it, so a server whose wall clock jumps does
 * not end them early. It gives whole milliseconds and never goes backwards.
 */
export function systemClock(onStep: (stepMs: number) => void = () => undefined, sources: TimeSources = SYSTEM): Clock {
  // now() is the wall clock plus `skew`, the sum of the steps ignored so far.
  let skew = 0;
  let prevTime = sources.wall();
  let prevMono = sources.monotonic();
  let last = 0;
  return {
    now() {
      const mono = sources.monotonic();
      let t = sources.wall() + skew;
      const drift = t - (prevTime + (mono - prevMono));
      const stepped = Math.abs(drift) > CLOCK_STEP_FOLLOWED_MS;
      if (stepped) {
        skew -= drift;
        t -= drift;
      }
      prevTime = t;
      prevMono = mono;
      // Whole milliseconds, as Date.now() gives: after a step the monotonic clock's fractions
      // would show through, and commands carry now() as an integer field.
      last = Math.max(last, Math.floor(t));
      // Told after the state is updated: onStep may read the clock (a logger stamping its line).
      if (stepped) onStep(drift);
      return last;
    },
    setTimer(fn, ms) {
      return setTimeout(fn, Math.max(0, ms));
    },
    clearTimer(handle: TimerHandle) {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
}
