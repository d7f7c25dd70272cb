import { CorruptError } from '../errors.js';
import type { HotPaths } from '../ports/hot-paths.js';

const MAGIC = [0x4b, 0x53, 0x4e, 0x50]; // "KSNP"
const VERSION = 1;
const HEADER = 32;

/** What an archive says about itself. */
export interface ArchiveInfo {
  readonly index: number;
  readonly term: number;
}

/**
 * A snapshot archive as served by GET /v1/snapshot: a 32-byte header (magic "KSNP", version,
 * index, term, body length, CRC32C of the body) followed by the body (a table dump).
 */
export function writeArchive(hp: HotPaths, info: ArchiveInfo, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + body.length);
  out.set(archiveHeader(info, body.length, hp.crc32c(body)), 0);
  out.set(body, HEADER);
  return out;
}

/**
 * The 32-byte header of an archive whose body is `bodyBytes` long with CRC32C `bodyCrc` (as
 * writeArchive writes it), for sending the body separately, in chunks.
 */
export function archiveHeader(info: ArchiveInfo, bodyBytes: number, bodyCrc: number): Uint8Array {
  const out = new Uint8Array(HEADER);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(4, VERSION, true);
  view.setFloat64(8, info.index, true);
  view.setFloat64(16, info.term, true);
  view.setUint32(24, bodyBytes, true);
  view.setUint32(28, bodyCrc >>> 0, true);
  return out;
}

/**
 * The whole length of the archive whose first bytes are `head` (from its header), or undefined
 * while fewer than the header's 32 bytes are known or they are not an archive's.
 */
export function archiveLength(head: Uint8Array): number | undefined {
  if (head.length < HEADER || MAGIC.some((b, i) => head[i] !== b)) return undefined;
  return HEADER + new DataView(head.buffer, head.byteOffset, HEADER).getUint32(24, true);
}

/** Validates an archive (magic, version, length, checksum) and returns its body. Throws CorruptError. */
export function readArchive(hp: HotPaths, data: Uint8Array): { info: ArchiveInfo; body: Uint8Array } {
  if (data.length < HEADER || MAGIC.some((b, i) => data[i] !== b))
    throw new CorruptError('not a Konsul snapshot archive (bad magic)');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint32(4, true) !== VERSION)
    throw new CorruptError(`unsupported snapshot version ${view.getUint32(4, true)}`);
  const length = view.getUint32(24, true);
  if (data.length !== HEADER + length)
    throw new CorruptError(`snapshot archive is ${data.length} bytes, header says ${HEADER + length}`);
  const body = data.subarray(HEADER);
  if (hp.crc32c(body) !== view.getUint32(28, true)) throw new CorruptError('snapshot archive checksum mismatch');
  return { info: { index: view.getFloat64(8, true), term: view.getFloat64(16, true) }, body };
}
