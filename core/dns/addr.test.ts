import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { propertySeed } from '../../testing/kv-arbitraries.js';
import { addressType, formatIp, hexOfIp, ipOfHex, isDnsName, parseIp } from './addr.js';

describe('IP text', () => {
  it('parses IPv4 and IPv6 and prints IPv6 in RFC 5952 form', () => {
    const cases: Array<[string, string]> = [
      ['127.0.0.1', '127.0.0.1'],
      ['2607:20:4005:808::200e', '2607:20:4005:808::200e'],
      ['2607:0020:4005:0808:0000:0000:0000:200E', '2607:20:4005:808::200e'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of two equal runs
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not shortened
      ['::', '::'],
      ['::1', '::1'],
      ['fe80::', 'fe80::'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
      ['::ffff:10.0.0.1', '10.0.0.1'], // IPv4-mapped reads as IPv4, as in Go
    ];
    for (const [text, printed] of cases) {
      const ip = parseIp(text);
      expect(ip, text).toBeDefined();
      expect(formatIp(ip!), text).toBe(printed);
    }
  });

  it('rejects what is not an address', () => {
    for (const text of [
      '',
      'web.example.com',
      '256.0.0.1',
      '1.2.3',
      '1.2.3.4.5',
      ':::',
      '1::2::3',
      ':1',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7:8::',
      '12345::',
      '1.2.3.4::1',
      'fe80::1%eth0',
      'g::1',
    ]) {
      expect(parseIp(text), text).toBeUndefined();
      expect(addressType(text), text).toBeUndefined();
    }
    expect(addressType('10.0.0.1')).toBe('A');
    expect(addressType('fd00::3')).toBe('AAAA');
  });

  it('reads IPv4 text exactly as ipaddr.js four-part decimals, and prints it back (property)', () => {
    const seed = propertySeed('parseIp dotted quads');
    const part = fc.oneof(
      fc.integer({ min: 0, max: 300 }).map(String),
      fc.stringMatching(/^[0-9]{0,4}$/),
      fc.constantFrom('0x1', '-1', ' 1', '1 ', '+1', '01', '00', ''),
    );
    const text = fc.oneof(
      fc.array(part, { minLength: 1, maxLength: 6 }).map((p) => p.join('.')),
      fc.stringMatching(/^[0-9.]{0,16}$/),
    );
    fc.assert(
      fc.property(text, (t) => {
        const ip = parseIp(t);
        if (ipaddr.IPv4.isValidFourPartDecimal(t)) {
          expect(ip, t).toEqual({ family: 4, bytes: ipaddr.IPv4.parse(t).toByteArray() });
          expect(formatIp(ip!), t).toBe(ipaddr.IPv4.parse(t).toString());
        } else if (!t.includes(':')) expect(ip, t).toBeUndefined();
      }),
      { seed, numRuns: 2000 },
    );
  });
});

describe('addr labels', () => {
  it('encodes IPv4 in 8 hex digits and IPv6 in 32, and reads them back', () => {
    expect(hexOfIp(parseIp('127.0.0.2')!)).toBe('7f000002');
    expect(hexOfIp(parseIp('::ffff:127.0.0.2')!)).toBe('7f000002');
    expect(hexOfIp(parseIp('2607:20:4005:808::200e')!)).toBe('2607002040050808000000000000200e');
    expect(formatIp(ipOfHex('c000020a')!)).toBe('192.0.2.10');
    expect(formatIp(ipOfHex('C000020A')!)).toBe('192.0.2.10');
    expect(formatIp(ipOfHex('20010db800010002cafe000000001337')!)).toBe('2001:db8:1:2:cafe::1337');
    expect(ipOfHex('00000000000000000000ffff7f000001')).toEqual({ family: 4, bytes: [127, 0, 0, 1] });
  });

  it('reads nothing from other lengths or non-hex digits', () => {
    for (const label of [
      '',
      'c000',
      'c000020',
      'c000020a0',
      'g000020a',
      '7f00000x',
      '2607002040050808000000000000200',
    ]) {
      expect(ipOfHex(label), label).toBeUndefined();
    }
  });
});

describe('isDnsName', () => {
  it('accepts names that can go on the wire and rejects the rest', () => {
    expect(isDnsName('web-1.node.dc1.consul.')).toBe(true);
    expect(isDnsName('_web._tcp.example.com')).toBe(true);
    expect(isDnsName(`${'a'.repeat(63)}.consul.`)).toBe(true);
    expect(isDnsName(`${'a'.repeat(64)}.consul.`)).toBe(false);
    expect(isDnsName(`${'abcdefg.'.repeat(32)}consul`)).toBe(false); // 262 characters
    expect(isDnsName('a..b')).toBe(false);
    expect(isDnsName('.')).toBe(false);
    expect(isDnsName('has space.consul')).toBe(false);
    expect(isDnsName('ünï.consul')).toBe(false);
  });
});
