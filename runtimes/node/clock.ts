import type { Clock, TimerHandle } from '../../core/ports/clock.js';

/** The wall clock and Node timers. now() never goes backwards even if the system clock does. */
export function systemClock(): Clock {
  let last = 0;
  return {
    now() {
      last = Math.max(last, Date.now());
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
