import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertySeed } from '../../testing/kv-arbitraries.js';
import { encodeBase64 } from './base64.js';
import { formatGoDuration, parseDuration } from './duration.js';
import { compareKeys, utf8Length } from './keys.js';
import { parseUint64 } from './uint64.js';
import { decode, encode } from '@msgpack/msgpack';
import { pack, unpack } from './msgpack.js';

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

  it("formats durations as Go's time.Duration.String() does", () => {
    // Expected strings are what Go prints for the same durations.
    const cases: Array<[number, string]> = [
      [0, '0s'],
      [1, '1ns'],
      [999, '999ns'],
      [1_500, '1.5µs'],
      [1_000_000, '1ms'],
      [1_500_000, '1.5ms'],
      [100_000_000, '100ms'],
      [1e9, '1s'],
      [1.5e9, '1.5s'],
      [10e9, '10s'],
      [90e9, '1m30s'],
      [61.5e9, '1m1.5s'],
      [3600e9, '1h0m0s'],
      [86_400e9, '24h0m0s'],
      [3661e9 + 1, '1h1m1.000000001s'],
      [-5e9, '-5s'],
    ];
    for (const [ns, text] of cases) expect(formatGoDuration(ns), text).toBe(text);
    expect(() => formatGoDuration(1.5)).toThrow(RangeError);
    // Whatever it writes, parseDuration reads back (whole milliseconds up to 24h).
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 86_400_000 }), (ms) => {
        expect(parseDuration(formatGoDuration(ms * 1e6))).toBeCloseTo(ms, 6);
      }),
      { seed: propertySeed('formatGoDuration'), numRuns: 500 },
    );
  });

  it('parses unsigned 64-bit integers exactly', () => {
    expect(parseUint64('0')).toBe(0n);
    expect(parseUint64('18446744073709551615')).toBe(18446744073709551615n);
    for (const bad of ['18446744073709551616', '-1', '1.0', '', ' 1', '0x10'])
      expect(parseUint64(bad), bad).toBeUndefined();
  });

  it('pack gives the bytes of @msgpack/msgpack encode, also nested and with ignoreUndefined (property)', () => {
    const seed = propertySeed('pack equals encode');
    const value = fc.jsonValue().map((v) => ({ v, u: undefined, bytes: new Uint8Array([1, 2, 3]) }));
    fc.assert(
      fc.property(value, (v) => {
        expect(pack(v)).toEqual(encode(v));
        expect(pack(v, { ignoreUndefined: true })).toEqual(encode(v, { ignoreUndefined: true }));
        // The result is the caller's: a later pack does not overwrite it.
        const first = pack(v);
        const copy = Uint8Array.from(first);
        pack({ other: [1, 2, 3], v });
        expect(first).toEqual(copy);
      }),
      { seed, numRuns: 200 },
    );
  });

  it('unpack gives the value of @msgpack/msgpack decode, and throws where it throws (property)', () => {
    const seed = propertySeed('unpack equals decode');
    fc.assert(
      fc.property(fc.jsonValue(), fc.uint8Array({ maxLength: 16 }), (v, junk) => {
        const bytes = encode({ v, bytes: new Uint8Array([1, 2, 3]) });
        const outcome = (f: () => unknown) => {
          try {
            return { value: f() };
          } catch (err) {
            return { error: (err as Error).constructor.name };
          }
        };
        // Values whose keys decode refuses (such as "__proto__") throw from both.
        expect(outcome(() => unpack(bytes))).toEqual(outcome(() => decode(bytes)));
        expect(outcome(() => unpack(junk))).toEqual(outcome(() => decode(junk)));
        // A failed decode leaves the kept decoder usable.
        expect(outcome(() => unpack(bytes))).toEqual(outcome(() => decode(bytes)));
      }),
      { seed, numRuns: 200 },
    );
  });
});
