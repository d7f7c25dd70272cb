import type { Rng } from '../../core/ports/rng.js';

const words = new Uint32Array(2);

/**
 * Unseeded randomness for production, drawn from the platform's cryptographic generator
 * (`crypto.getRandomValues`, on Node, Deno and Bun alike): 53 random bits per number. It also
 * makes ACL token SecretIDs and other secrets (randomUuid), so it must not be predictable — as
 * Math.random's xorshift state is, from a few outputs. Tests use a seeded Rng instead.
 */
export const systemRng: Rng = {
  next: () => {
    crypto.getRandomValues(words);
    return ((words[0] as number) * 2 ** 21 + ((words[1] as number) >>> 11)) / 2 ** 53;
  },
};
