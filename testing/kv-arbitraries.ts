import fc from 'fast-check';
import type { KvCommand } from '../core/kv/commands.js';

/** Keys drawn from a tiny alphabet so commands collide often, plus non-ASCII and astral keys. */
export const keyArb = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'b', '/'), minLength: 1, maxLength: 4 }),
  fc.constantFrom('\u00e9', 'a/\u{1F600}', '\uFFFD', 'a/\uFFFD'),
);
const prefixArb = fc.oneof(
  fc.constant(''),
  fc.string({ unit: fc.constantFrom('a', 'b', '/'), minLength: 1, maxLength: 3 }),
);
const valueArb = fc.uint8Array({ maxLength: 6 });
const flagsArb = fc.oneof(fc.constant('0'), fc.bigInt(0n, 2n ** 64n - 1n).map(String));
const casArb = fc.nat({ max: 40 });

/** Random KV commands (no reaps: tombstone reaping is covered separately). */
export const kvCommandArb: fc.Arbitrary<KvCommand> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ type: fc.constant('kv.set' as const), key: keyArb, value: valueArb, flags: flagsArb }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('kv.cas' as const),
      key: keyArb,
      value: valueArb,
      flags: flagsArb,
      cas: casArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('kv.delete' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('kv.delete-cas' as const), key: keyArb, cas: casArb }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('kv.delete-tree' as const), prefix: prefixArb }) },
);

/** The seed for a property run: FC_SEED from the environment to replay, else a fresh one. Printed. */
export function propertySeed(name: string): number {
  const fromEnv = process.env['FC_SEED'];
  const seed = fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  console.log(`[property] ${name}: seed=${seed} (replay with FC_SEED=${seed})`);
  return seed;
}
