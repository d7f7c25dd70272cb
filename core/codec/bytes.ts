import { CorruptFrameError } from '../hotpaths/frame.js';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });
const TWO_32 = 2 ** 32;

/** Byte length of a string in UTF-8, as ByteWriter.str16/str32 will write it. */
export function strBytes(s: string): number {
  return utf8.encode(s).length;
}

/** Sequential little-endian writer over a buffer whose size was computed in advance. */
export class ByteWriter {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly view: DataView,
    start: number,
  ) {
    this.pos = start;
  }
  u8(v: number): void {
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }
  u16(v: number): void {
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  u32(v: number): void {
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  /** A non-negative safe integer as two u32 (low, high). */
  u64(v: number): void {
    this.view.setUint32(this.pos, v % TWO_32, true);
    this.view.setUint32(this.pos + 4, Math.floor(v / TWO_32), true);
    this.pos += 8;
  }
  raw(b: Uint8Array): void {
    this.bytes.set(b, this.pos);
    this.pos += b.length;
  }
  /** A string with a u16 byte-length prefix. */
  str16(s: string): void {
    const r = utf8.encodeInto(s, this.bytes.subarray(this.pos + 2));
    this.u16(r.written);
    this.pos += r.written;
  }
  /** A string with a u32 byte-length prefix. */
  str32(s: string): void {
    const r = utf8.encodeInto(s, this.bytes.subarray(this.pos + 4));
    this.u32(r.written);
    this.pos += r.written;
  }
}

/**
 * Sequential little-endian reader over [start, end) of a buffer. Every read past `end` throws
 * CorruptFrameError at the absolute position where bytes ran out.
 */
export class ByteReader {
  pos: number;
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) throw new CorruptFrameError(`truncated ${what}`, this.pos);
  }
  u8(what = 'byte'): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(what = 'u64'): number {
    this.need(8, what);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    if (hi >= 0x200000) throw new CorruptFrameError(`${what} exceeds 2^53`, this.pos);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }
  /** `n` bytes as a view into the input (no copy). */
  raw(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const b = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  str16(what = 'string'): string {
    return this.text(this.u16(what), what);
  }
  str32(what = 'string'): string {
    return this.text(this.u32(what), what);
  }
  private text(n: number, what: string): string {
    const at = this.pos;
    const b = this.raw(n, what);
    try {
      return fromUtf8.decode(b);
    } catch {
      throw new CorruptFrameError(`${what} is not valid UTF-8`, at);
    }
  }
}
