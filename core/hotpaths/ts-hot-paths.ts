import type { FrameBuilder, HotPaths } from '../ports/hot-paths.js';
import { crc32cTs } from './crc32c.js';
import { CorruptFrameError, FRAME_CHECK_ERRORS, FRAME_HEADER_BYTES, frameCheckTs, writeFrameHeader } from './frame.js';
import { TsKeyIndex } from './key-index.js';
import { TsPrefixMatcher } from './prefix-matcher.js';

/**
 * Turns a frame check code into the verdict both implementations share: payload bounds, or a
 * CorruptFrameError at the position of the problem.
 */
export function frameVerdict(
  input: Uint8Array,
  offset: number,
  code: number,
): { kind: number; payloadStart: number; payloadEnd: number } {
  if (code < 0) {
    const position = code === -1 || code === -2 ? input.length : code === -3 ? offset + 1 : offset;
    throw new CorruptFrameError(FRAME_CHECK_ERRORS[code] ?? 'invalid frame', position);
  }
  const payloadStart = offset + FRAME_HEADER_BYTES;
  return { kind: input[offset] as number, payloadStart, payloadEnd: payloadStart + code };
}

/** The pure TypeScript HotPaths: the fallback on every runtime, and the reference in tests. */
export function createTsHotPaths(): HotPaths {
  return {
    impl: { crc32c: 'ts', frameEncode: 'ts', frameDecode: 'ts', keyIndex: 'ts', prefixMatch: 'ts' },
    crc32c: crc32cTs,
    frameBuffer(size: number): FrameBuilder {
      const bytes = new Uint8Array(size);
      return { bytes, view: new DataView(bytes.buffer) };
    },
    sealFrame(frame, kind, payloadLength) {
      const end = FRAME_HEADER_BYTES + payloadLength;
      writeFrameHeader(frame.view, kind, payloadLength, crc32cTs(frame.bytes.subarray(FRAME_HEADER_BYTES, end)));
      return end === frame.bytes.length ? frame.bytes : frame.bytes.slice(0, end);
    },
    openFrame(input, offset) {
      return frameVerdict(input, offset, frameCheckTs(input, offset, crc32cTs));
    },
    createKeyIndex: () => new TsKeyIndex(),
    createPrefixMatcher: () => new TsPrefixMatcher(),
  };
}
