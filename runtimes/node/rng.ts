import type { Rng } from '../../core/ports/rng.js';

/** Unseeded randomness for production (jitter, timeouts); tests use a seeded Rng instead. */
export const systemRng: Rng = { next: () => Math.random() };
