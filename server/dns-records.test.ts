import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DnsRecord } from '../core/dns/resolver.js';
import { propertySeed } from '../testing/kv-arbitraries.js';
import { plainName, RecordWriter, recordEncoder, toWire } from './dns-records.js';

/** Names of plain labels, some with a final dot, and a few that are not plain. */
const label = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
const name = fc.oneof(
  fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => l.join('.')),
  fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => `${l.join('.')}.`),
  fc.constantFrom('', '.', '..', 'a..b', '.a', 'x'.repeat(64), `${'x'.repeat(63)}.y`, 'zürich.consul', 'a b.consul'),
);
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
const ipv6 = fc.constantFrom('fd00::3', '2001:db8::1:0:0:1', '::1', '64:ff9b::c000:221');
const ttl = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const record: fc.Arbitrary<DnsRecord> = fc.oneof(
  fc.record({ type: fc.constant('A' as const), name, ttl, data: ipv4 }),
  fc.record({ type: fc.constant('AAAA' as const), name, ttl, data: ipv6 }),
  // An address of the other family: left to dns-packet, which writes what it makes of it.
  fc.record({ type: fc.constant('AAAA' as const), name, ttl, data: ipv4.map((a) => `::ffff:${a}`) }),
  fc.record({
    type: fc.constant('SRV' as const),
    name,
    ttl,
    data: fc.record({
      priority: fc.nat(65535),
      weight: fc.nat(65535),
      port: fc.nat(65535),
      target: name,
    }),
  }),
  fc.record({ type: fc.constant('CNAME' as const), name, ttl, data: name.filter((n) => n.length > 0) }),
) as fc.Arbitrary<DnsRecord>;

describe('RecordWriter', () => {
  it("writes each record byte for byte as dns-packet's encoder does (property)", () => {
    const seed = propertySeed('dns record writer');
    fc.assert(
      fc.property(fc.array(record, { maxLength: 12 }), (records) => {
        const writer = new RecordWriter();
        const plans = records.map((r) => writer.plan(r));
        const buf = Buffer.alloc(plans.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of plans) at = writer.write(p, buf, at);
        expect(at).toBe(buf.length);
        // What dns-packet writes for each (as its message encoder does, by the bytes it wrote).
        const expected = Buffer.concat(
          records.map((r) => {
            const out = recordEncoder.encode(toWire(r));
            return out.subarray(0, recordEncoder.encode.bytes);
          }),
        );
        expect(buf.toString('hex')).toBe(expected.toString('hex'));
      }),
      { seed, numRuns: 1000 },
    );
  });

  it('writes plain names itself and leaves the others to dns-packet', () => {
    expect([...(plainName('web.service.consul.') ?? [])]).toEqual([
      3, 119, 101, 98, 7, 115, 101, 114, 118, 105, 99, 101, 6, 99, 111, 110, 115, 117, 108, 0,
    ]);
    expect([...(plainName('.') ?? [])]).toEqual([0]);
    for (const other of ['a..b', 'zürich.consul', 'a b', 'x'.repeat(64)])
      expect(plainName(other), other).toBeUndefined();
  });
});
