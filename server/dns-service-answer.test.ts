import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  dnsCatalogOps,
  dnsCatalogStore,
  dnsOptionShapes,
  dnsOptionsOf,
  dnsQuestionName,
} from '../testing/dns-catalog.js';
import { propertySeed } from '../testing/kv-arbitraries.js';
import { seededRng } from '../testing/seeded-rng.js';
import { answerQuery, answerQueryGeneral } from './dns.js';
import { answerServiceQuery } from './dns-service-answer.js';

// The fast path must give the bytes the general path (dns-packet decode, resolve, dns-packet
// encode, cut to fit) gives, with the rng in the same state: records, sections, flags and TC,
// NXDOMAIN and answers without records included.

const query = fc.record({
  id: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.constantFrom(0, dnsPacket.RECURSION_DESIRED, dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA),
  name: dnsQuestionName,
  type: fc.constantFrom('A', 'A', 'AAAA', 'SRV', 'SRV', 'ANY', 'TXT'),
  edns: fc.option(fc.record({ size: fc.integer({ min: 0, max: 5000 }), cookie: fc.boolean() }), { nil: undefined }),
  udp: fc.boolean(),
  shape: dnsOptionShapes,
  rngSeed: fc.integer(),
});

function encodeQuery(q: typeof query extends fc.Arbitrary<infer Q> ? Q : never): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: q.id,
    flags: q.flags,
    questions: [{ type: q.type as 'A', name: q.name, class: 'IN' }],
    additionals: q.edns
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: q.edns.size,
            options: q.edns.cookie ? [{ code: 10, data: Buffer.from('0123456789abcdef', 'hex') }] : [],
          } as unknown as dnsPacket.Answer,
        ]
      : [],
  });
}

describe('DNS service answers on the fast path', () => {
  it('are the bytes of the general path, or left to it; so is every answer of answerQuery', async () => {
    const seed = propertySeed('DNS fast path');
    let asked = 0;
    let fast = 0;
    let truncated = 0;
    let nxdomain = 0;
    await fc.assert(
      fc.asyncProperty(
        dnsCatalogOps,
        dnsCatalogOps,
        fc.array(query, { minLength: 1, maxLength: 12 }),
        async (first, second, queries) => {
          const { store, apply } = dnsCatalogStore();
          for (const ops of [first, second]) {
            await apply(ops);
            for (const q of queries) {
              const bytes = encodeQuery(q);
              const general = answerQueryGeneral(bytes, store, dnsOptionsOf(q.shape, seededRng(q.rngSeed)), q.udp);
              // answerQuery, whichever path it takes, answers as the general path.
              const whole = answerQuery(bytes, store, dnsOptionsOf(q.shape, seededRng(q.rngSeed)), q.udp);
              expect(whole?.equals(general as Buffer)).toBe(true);
              const fastRng = seededRng(q.rngSeed);
              const generalRng = seededRng(q.rngSeed);
              const reference = answerQueryGeneral(bytes, store, dnsOptionsOf(q.shape, generalRng), q.udp) as Buffer;
              const answer = answerServiceQuery(bytes, store, dnsOptionsOf(q.shape, fastRng), q.udp);
              asked++;
              if (!answer) {
                expect(fastRng.next(), 'left to the general path after drawing').toBe(seededRng(q.rngSeed).next());
                continue;
              }
              fast++;
              const decoded = dnsPacket.decode(answer);
              if (((decoded.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0) truncated++;
              if (((decoded.flags ?? 0) & 0xf) === 3) nxdomain++;
              expect(decoded).toEqual(dnsPacket.decode(reference));
              expect(answer.equals(reference), 'same records, different bytes').toBe(true);
              expect(fastRng.next(), 'a different number of draws').toBe(generalRng.next());
            }
          }
        },
      ),
      { seed, numRuns: 100 },
    );
    // The property says little unless the fast path answers a fair share, truncated ones among them.
    expect(fast / asked).toBeGreaterThan(0.2);
    expect(truncated).toBeGreaterThan(0);
    expect(nxdomain).toBeGreaterThan(0);
  });

  it('leaves unusual queries to the general path', async () => {
    const { store, apply } = dnsCatalogStore();
    await apply([{ type: 'bulk', service: 0, count: 3, serviceAddresses: false }]);
    const options = dnsOptionsOf(
      { serviceTtl: 0, aRecordLimit: 0, hiddenNodes: [], hiddenServices: [], acl: false },
      seededRng(1),
    );
    const plain = (extra: Partial<dnsPacket.Packet> = {}, name = 'bulk0.service.consul') =>
      dnsPacket.encode({ type: 'query', id: 9, questions: [{ type: 'A', name, class: 'IN' }], ...extra });
    expect(answerServiceQuery(plain(), store, options, true)).toBeDefined();
    const withEcs = plain({
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: 4096,
          options: [{ code: 8, family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: '10.0.0.0' }],
        } as dnsPacket.Answer,
      ],
    });
    const pointer = Buffer.concat([plain().subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
    const unusual: Record<string, Buffer> = {
      'a response': plain({ type: 'response' }),
      'opcode STATUS': (() => {
        const b = plain();
        b.writeUInt16BE(2 << 11, 2);
        return b;
      })(),
      'trailing bytes': Buffer.concat([plain(), Buffer.from([0])]),
      'class CH': dnsPacket.encode({
        type: 'query',
        id: 9,
        questions: [{ type: 'A', name: 'bulk0.service.consul', class: 'CH' }],
      }),
      'a label with a dot in it': (() => {
        const b = plain();
        b[12 + 1 + 2] = '.'.charCodeAt(0); // "bu.k0"
        return b;
      })(),
      'a compression pointer': pointer,
      'an ECS option': withEcs,
      'two questions': dnsPacket.encode({
        type: 'query',
        id: 9,
        questions: [
          { type: 'A', name: 'bulk0.service.consul', class: 'IN' },
          { type: 'A', name: 'bulk0.service.consul', class: 'IN' },
        ],
      }),
      'a TXT question': dnsPacket.encode({
        type: 'query',
        id: 9,
        questions: [{ type: 'TXT', name: 'bulk0.service.consul' }],
      }),
    };
    for (const [what, bytes] of Object.entries(unusual)) {
      expect(answerServiceQuery(bytes, store, options, true), what).toBeUndefined();
      const general = answerQueryGeneral(bytes, store, { ...options, rng: seededRng(2) }, true);
      expect(answerQuery(bytes, store, { ...options, rng: seededRng(2) }, true), what).toEqual(general);
    }
  });
});
