import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertySeed } from '../../testing/kv-arbitraries.js';
import { encodeBase64 } from './base64.js';
import { parseDuration } from './duration.js';
import { compareKeys, utf8Length } from './keys.js';
import { parseUint64 } from './uint64.js';

describe('utilities', () => {
  it('encodeBase64 matches Buffer for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (b) => {
        expect(encodeBase64(b)).toBe(Buffer.from(b).toString('base64'));
      }),
      { seed: propertySeed('base64'), numRuns: 300 },
    );
  });

  it('compareKeys orders like UTF-8 bytes, and utf8Length counts them', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(Math.sign(compareKeys(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
        expect(utf8Length(a)).toBe(Buffer.byteLength(a));
      }),
      { seed: propertySeed('compareKeys'), numRuns: 1000 },
    );
  });

  it('parses Go durations and refuses anything else', () => {
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0')).toBe(0);
    for (const bad of ['', '10', '-5s', 's', '5 s', '5x', '1m-1s', '10s '])
      expect(parseDuration(bad), bad).toBeUndefined();
  });

  it('parses unsigned 64-bit integers exactly', () => {
    expect(parseUint64('0')).toBe(0n);
    expect(parseUint64('18446744073709551615')).toBe(18446744073709551615n);
    for (const bad of ['18446744073709551616', '-1', '1.0', '', ' 1', '0x10'])
      expect(parseUint64(bad), bad).toBeUndefined();
  });
});
