import { decodeEntriesFrame, encodeEntriesFrame } from '../codec/entries.js';
import { CorruptFrameError } from '../hotpaths/frame.js';
import type { HotPaths } from './hot-paths.js';

const bytes = (n: number, f: (i: number) => number) => Uint8Array.from({ length: n }, (_, i) => f(i));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/**
 * Shared test vectors for every HotPaths implementation on every runtime. CRC32C values are the
 * check value and RFC 3720 §B.4's; the frame is a frozen golden encoding; the index and matcher
 * answers were worked out by hand.
 */
export const HOT_PATH_VECTORS = {
  expected: {
    crc: {
      check: 0xe3069283,
      zeros32: 0x8a9136aa,
      ones32: 0x62a8ab43,
      incrementing32: 0x46dd794e,
      decrementing32: 0x113fdb5c,
    },
    frame: '010100001a000000a3ca89d101000000020000000000000005000000000000000001000000ff',
    frameDecoded: [{ term: 2, index: 5, type: 'normal', data: [255] }],
    corrupt: { flipped: 0, truncated: 30 },
    index: {
      prefix: ['a/1', 'a/2', 'a/b/c'],
      separated: ['a/1', 'a/2', 'a/b/'],
      root: ['a/', 'b', '\u00e9', '\u{1F600}'],
      range: ['a/2', 'a/b/c', 'b'],
    },
    matched: ['', 'a/', 'a/b'],
  },
};

/** Computes every vector with `hp`, in the shape of HOT_PATH_VECTORS.expected. */
export function runVectors(hp: HotPaths): typeof HOT_PATH_VECTORS.expected {
  const crc = {
    check: hp.crc32c(new TextEncoder().encode('123456789')),
    zeros32: hp.crc32c(bytes(32, () => 0)),
    ones32: hp.crc32c(bytes(32, () => 0xff)),
    incrementing32: hp.crc32c(bytes(32, (i) => i)),
    decrementing32: hp.crc32c(bytes(32, (i) => 31 - i)),
  };
  const frame = encodeEntriesFrame(hp, [{ term: 2, index: 5, type: 'normal', data: new Uint8Array([255]) }]);
  const decoded = decodeEntriesFrame(hp, frame).entries.map((e) => ({
    term: e.term,
    index: e.index,
    type: e.type,
    data: [...e.data],
  }));
  const positionOf = (input: Uint8Array): number => {
    try {
      decodeEntriesFrame(hp, input);
      return -1;
    } catch (err) {
      return err instanceof CorruptFrameError ? err.position : -2;
    }
  };
  const flipped = frame.slice();
  flipped[20] = (flipped[20] as number) ^ 1;
  const ix = hp.createKeyIndex();
  for (const k of ['b', 'a/2', 'a/1', 'a/b/c', '\u{1F600}', '\u00e9', 'a/2']) ix.insert(k);
  const index = {
    prefix: ix.prefix('a/'),
    separated: ix.separated('a/', '/'),
    root: ix.separated('', '/'),
    range: ix.range('a/2', 'c'),
  };
  ix.dispose();
  const pm = hp.createPrefixMatcher();
  for (const p of ['', 'a/', 'a/b', 'a/c', 'b']) pm.add(p);
  const matched = pm.match('a/bc').sort();
  pm.dispose();
  return {
    crc,
    frame: hex(frame),
    frameDecoded: decoded as typeof HOT_PATH_VECTORS.expected.frameDecoded,
    corrupt: { flipped: positionOf(flipped), truncated: positionOf(frame.slice(0, 30)) },
    index,
    matched,
  };
}
