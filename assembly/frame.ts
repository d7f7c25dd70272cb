// Frame sealing and checking: a 12-byte header (kind u8, version u8, reserved u16, payload
// length u32, CRC32C of the payload u32, little-endian) in front of the payload.
import { crc32c } from './crc32c';

const VERSION: u8 = 1;
const HEADER: u32 = 12;

/** Writes the header of a frame whose payload (payloadLen bytes) sits at ptr + 12. */
export function frameSeal(ptr: usize, kind: u32, payloadLen: u32): void {
  store<u8>(ptr, <u8>kind);
  store<u8>(ptr, VERSION, 1);
  store<u16>(ptr, 0, 2);
  store<u32>(ptr, payloadLen, 4);
  store<u32>(ptr, crc32c(ptr + HEADER, payloadLen, 0), 8);
}

/**
 * Checks the frame of `len` available bytes at `ptr`. Returns the payload length when the frame
 * is whole and its CRC matches, or a negative code: -1 header truncated, -2 payload truncated,
 * -3 unknown version, -4 checksum mismatch.
 */
export function frameCheck(ptr: usize, len: u32): i32 {
  if (len < HEADER) return -1;
  if (load<u8>(ptr, 1) != VERSION || load<u16>(ptr, 2) != 0) return -3;
  const payloadLen = load<u32>(ptr, 4);
  if (payloadLen > len - HEADER || payloadLen > 0x7fffffff) return -2;
  if (crc32c(ptr + HEADER, payloadLen, 0) != load<u32>(ptr, 8)) return -4;
  return <i32>payloadLen;
}
