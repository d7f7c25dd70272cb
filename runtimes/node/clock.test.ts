import { describe, expect, it } from 'vitest';
import { CLOCK_STEP_FOLLOWED_MS, systemClock } from './clock.js';

describe("the servers' clock", () => {
  it('follows small wall-clock corrections but not a step, reporting the step once, and never goes back', () => {
    let wall = 1_000_000;
    let mono = 50;
    const steps: number[] = [];
    // The step handler reads the clock, as a logger does.
    const clock = systemClock((s) => steps.push(s) && clock.now(), { wall: () => wall, monotonic: () => mono });
    expect(clock.now()).toBe(1_000_000);
    wall += 100;
    mono += 100;
    expect(clock.now()).toBe(1_000_100);
    // NTP slews by a few hundred ms: followed.
    wall += 1000 + CLOCK_STEP_FOLLOWED_MS / 2;
    mono += 1000;
    expect(clock.now()).toBe(1_000_100 + 1000 + CLOCK_STEP_FOLLOWED_MS / 2);
    const before = clock.now();
    // The wall clock jumps 45 s ahead: time goes on at the monotonic rate.
    wall += 45_000 + 10;
    mono += 10;
    expect(clock.now()).toBe(before + 10);
    expect(steps).toEqual([45_000]);
    wall += 20;
    mono += 20;
    expect(clock.now()).toBe(before + 30);
    expect(steps).toHaveLength(1);
    // And 10 minutes back: still the monotonic rate, never backwards.
    wall -= 600_000;
    mono += 5;
    expect(clock.now()).toBe(before + 35);
    expect(steps).toEqual([45_000, -600_005]);
  });

  it('gives whole milliseconds after a step, when the monotonic clock has fractions', () => {
    let wall = 2_000_000;
    let mono = 10.25;
    const clock = systemClock(() => undefined, { wall: () => wall, monotonic: () => mono });
    expect(clock.now()).toBe(2_000_000);
    wall += 300_000;
    mono += 7.375;
    const after = clock.now();
    expect(Number.isInteger(after)).toBe(true);
    expect(after).toBe(2_000_007);
    wall += 3;
    mono += 2.9;
    expect(Number.isInteger(clock.now())).toBe(true);
  });
});
