/**
 * Randomness as seen by the core. Production may use any good source; tests and the simulator
 * use a seeded generator so every run replays exactly.
 */
export interface Rng {
  /** A float uniformly distributed in [0, 1). */
  next(): number;
}

/** Returns an integer uniformly distributed in [0, n) drawn from `rng`; n must be a positive integer. */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng.next() * n);
}
