import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  dnsCatalogOps,
  dnsCatalogStore,
  dnsOptionShapes,
  dnsOptionsOf,
  dnsQuestionName,
} from '../../testing/dns-catalog.js';
import { propertySeed } from '../../testing/kv-arbitraries.js';
import { seededRng } from '../../testing/seeded-rng.js';
import { resolve, soaRecord } from './resolver.js';
import { type BuiltCandidates, pickServiceAnswer } from './service-candidates.js';

/** Keeps the candidates as they are built. */
const keeper = { name: 'test', prepare: (built: BuiltCandidates) => built };

const question = fc.record({
  name: dnsQuestionName,
  type: fc.constantFrom('A' as const, 'AAAA' as const, 'SRV' as const),
  shape: dnsOptionShapes,
  rngSeed: fc.integer(),
});

describe('service answers from kept candidates', () => {
  const title = "equal resolve's, record for record with the same draws, or leave the question to resolve undrawn";
  it(title, async () => {
    const seed = propertySeed('kept DNS service candidates');
    let asked = 0;
    let answered = 0;
    let nxdomain = 0;
    let withRecords = 0;
    await fc.assert(
      fc.asyncProperty(
        dnsCatalogOps,
        dnsCatalogOps,
        fc.array(question, { minLength: 1, maxLength: 12 }),
        async (first, second, questions) => {
          const { store, apply } = dnsCatalogStore();
          // The same questions before and after more changes: kept answers must follow the catalog.
          for (const ops of [first, second]) {
            await apply(ops);
            for (const q of questions) {
              const keptRng = seededRng(q.rngSeed);
              const resolveRng = seededRng(q.rngSeed);
              const kept = store.read((tx) =>
                pickServiceAnswer(tx, q.name, q.type, dnsOptionsOf(q.shape, keptRng), keeper),
              );
              const reference = store.read((tx) => resolve(tx, q.name, q.type, dnsOptionsOf(q.shape, resolveRng)));
              asked++;
              if (!kept) {
                expect(keptRng.next(), 'declined after drawing').toBe(seededRng(q.rngSeed).next());
                continue;
              }
              answered++;
              const soa = [soaRecord(dnsOptionsOf(q.shape, keptRng))];
              if (kept.rcode === 'NXDOMAIN') {
                nxdomain++;
                expect(reference).toEqual({ rcode: 'NXDOMAIN', answers: [], additionals: [], authorities: soa });
              } else {
                if (kept.picked.length > 0) withRecords++;
                const records = kept.picked.map((i) => kept.kept.records[i] as BuiltCandidates['records'][number]);
                expect({
                  rcode: 'NOERROR',
                  answers: records.map((r) => r.answer),
                  additionals: records.flatMap((r) => r.extra),
                  additionalsPerAnswer: records.map((r) => r.extra.length),
                  authorities: kept.picked.length > 0 ? [] : soa,
                }).toEqual(reference);
              }
              expect(keptRng.next(), 'a different number of draws').toBe(resolveRng.next());
            }
          }
        },
      ),
      { seed, numRuns: 150 },
    );
    // The property says little unless kept candidates answer a fair share of the questions.
    expect(answered / asked).toBeGreaterThan(0.3);
    expect(withRecords / asked).toBeGreaterThan(0.1);
    expect(nxdomain).toBeGreaterThan(0);
  });
});
