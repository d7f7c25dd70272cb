import { CorruptError } from '../errors.js';

/** Bytes of a frame header: kind u8, version u8, reserved u16, payload length u32, CRC32C u32. */
export const FRAME_HEADER_BYTES = 12;
/** Version written in every frame. */
export const FRAME_VERSION = 1;
/**
 * Frame kinds. The kind byte is not covered by the CRC: kinds stored side by side (the WAL's) are
 * kept at least two bits apart, so one flipped bit cannot turn one into another.
 */
export const FRAME_KIND = { entries: 1, message: 2, walSegment: 6, walState: 24 } as const;

/** A frame failed validation: truncated, unknown version or kind, bad checksum or malformed payload. */
export class CorruptFrameError extends CorruptError {
  /** Byte offset in the input where the problem was found. */
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} at byte ${position}`);
    this.position = position;
  }
}

/** Why frameCheck refused a frame, by the negative code both implementations return. */
export const FRAME_CHECK_ERRORS: Readonly<Record<number, string>> = {
  [-1]: 'truncated frame header',
  [-2]: 'truncated frame payload',
  [-3]: 'unknown frame version',
  [-4]: 'frame checksum mismatch',
};

/** Writes a frame header over bytes [0, 12) of `view`, with the payload's CRC. */
export function writeFrameHeader(view: DataView, kind: number, payloadLength: number, crc: number): void {
  view.setUint8(0, kind);
  view.setUint8(1, FRAME_VERSION);
  view.setUint16(2, 0, true);
  view.setUint32(4, payloadLength, true);
  view.setUint32(8, crc, true);
}

/**
 * The TypeScript frame check, same contract as the WebAssembly one: the payload length, or a
 * negative code (see FRAME_CHECK_ERRORS).
 */
export function frameCheckTs(input: Uint8Array, offset: number, crc: (d: Uint8Array) => number): number {
  const len = input.length - offset;
  if (len < FRAME_HEADER_BYTES) return -1;
  const view = new DataView(input.buffer, input.byteOffset + offset, FRAME_HEADER_BYTES);
  if (view.getUint8(1) !== FRAME_VERSION || view.getUint16(2, true) !== 0) return -3;
  const payload = view.getUint32(4, true);
  if (payload > len - FRAME_HEADER_BYTES) return -2;
  const start = offset + FRAME_HEADER_BYTES;
  if (crc(input.subarray(start, start + payload)) !== view.getUint32(8, true)) return -4;
  return payload;
}
