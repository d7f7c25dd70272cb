import { Encoder, decode } from '@msgpack/msgpack';
import { CorruptError } from '../errors.js';
import { concatBytes } from '../util/bytes.js';
import type { ReadTxn, WriteTxn } from '../ports/state-store.js';

/** Bytes encoding of whole tables: msgpack {v: 1, tables: {name: [[key, value], …]}}. */
export function dumpTables(tx: ReadTxn, tables: readonly string[]): Uint8Array {
  const b = new DumpBuilder(tx, tables, Infinity);
  while (!b.step());
  return b.result();
}

const utf8 = new TextEncoder();

/** msgpack fixarray of two elements: each row is [key, value]. */
const ROW_HEADER = new Uint8Array([0x92]);

/**
 * Builds the same bytes as dumpTables a slice at a time, so a caller can yield between slices
 * (to the event loop) while `view` (a ReadView that does not change) is scanned. Each step()
 * encodes at most `rowsPerStep` rows (a positive integer or Infinity) into one chunk; a table's
 * row count is written as a 4-byte array header and filled in when the table is finished.
 * Memory: the encoded dump, held as chunks until result() joins them (or chunks() hands them out).
 */
export class DumpBuilder {
  private readonly parts: Uint8Array[] = [];
  private readonly encoder = new Encoder();
  /** Rows of the slice being built (grown by doubling; kept between slices). */
  private rowBytes = new Uint8Array(64 * 1024);
  private rowsLength = 0;
  private table = -1;
  private rows: Iterator<readonly [string, unknown]> | undefined;
  private count = 0;
  private countAt: { part: Uint8Array; offset: number } | undefined;
  private finished = false;
  private total = 0;
  /** The dump in one array, filled by join(); `joinedParts` of `parts` copied so far. */
  private joined: Uint8Array | undefined;
  private joinedParts = 0;
  private joinedBytes = 0;

  constructor(
    private readonly view: ReadTxn,
    private readonly tables: readonly string[],
    private readonly rowsPerStep: number,
  ) {
    if (tables.length > 0xffff) throw new RangeError('too many tables');
    // {"v": 1, "tables": {…}}: fixmap(2), fixstr "v", 1, fixstr "tables", map16(n).
    const head = [
      0x82,
      0xa1,
      0x76,
      0x01,
      0xa6,
      ...utf8.encode('tables'),
      0xde,
      tables.length >> 8,
      tables.length & 255,
    ];
    this.push(new Uint8Array(head));
  }

  /** Encodes up to rowsPerStep more rows; returns true once the whole dump is built. */
  step(): boolean {
    if (this.finished) return true;
    let n = 0;
    while (n < this.rowsPerStep) {
      if (!this.rows) {
        if (this.countAt) this.patchCount();
        this.table++;
        const name = this.tables[this.table];
        if (name === undefined) {
          this.finished = true;
          break;
        }
        const header = new Uint8Array(5);
        header[0] = 0xdd; // array32, count filled in when the table ends
        this.push(this.takeRows());
        this.push(this.encoder.encode(name));
        this.push(header);
        this.countAt = { part: header, offset: 1 };
        this.count = 0;
        this.rows = this.view.range<unknown>(name)[Symbol.iterator]();
      }
      const next = this.rows.next();
      if (next.done) {
        this.rows = undefined;
        continue;
      }
      // The bytes of encode([key, value]): a fixarray of two, then each one. Encoded into the
      // encoder's own buffer and copied once into the slice's, not an array per row.
      this.appendRow(ROW_HEADER);
      this.appendRow(this.encoder.encodeSharedRef(next.value[0]));
      this.appendRow(this.encoder.encodeSharedRef(next.value[1]));
      this.count++;
      n++;
    }
    this.push(this.takeRows());
    return this.finished;
  }

  private appendRow(bytes: Uint8Array): void {
    if (this.rowsLength + bytes.length > this.rowBytes.length) {
      let size = this.rowBytes.length * 2;
      while (size < this.rowsLength + bytes.length) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.rowBytes.subarray(0, this.rowsLength));
      this.rowBytes = grown;
    }
    this.rowBytes.set(bytes, this.rowsLength);
    this.rowsLength += bytes.length;
  }

  /** The rows encoded since the last call, as a new array (the buffer is kept for the next ones). */
  private takeRows(): Uint8Array {
    const out = this.rowBytes.slice(0, this.rowsLength);
    this.rowsLength = 0;
    return out;
  }

  /** Bytes encoded so far. */
  get bytes(): number {
    return this.total;
  }

  /** The finished dump as consecutive chunks (call after step() returned true). */
  chunks(): readonly Uint8Array[] {
    if (!this.finished) throw new RangeError('dump is not finished');
    return this.parts;
  }

  /**
   * Copies more of the finished dump's chunks into one array — whole chunks, at least one and
   * about `maxBytes` in all per call — so that a caller can spread the copy of a large dump over
   * turns of the event loop. Returns true once every chunk is copied; result() then returns that
   * array without copying. Call after step() returned true.
   */
  join(maxBytes: number): boolean {
    const parts = this.chunks();
    this.joined ??= new Uint8Array(this.total);
    let copied = 0;
    while (this.joinedParts < parts.length && (copied === 0 || copied < maxBytes)) {
      const part = parts[this.joinedParts++] as Uint8Array;
      this.joined.set(part, this.joinedBytes);
      this.joinedBytes += part.length;
      copied += part.length;
    }
    return this.joinedParts === parts.length;
  }

  /** The finished dump as one array (call after step() returned true): join()'s, or a new one. */
  result(): Uint8Array {
    const parts = this.chunks();
    if (this.joined && this.joinedParts === parts.length) return this.joined;
    return concatBytes(parts as Uint8Array[]);
  }

  private patchCount(): void {
    const at = this.countAt as { part: Uint8Array; offset: number };
    new DataView(at.part.buffer, at.part.byteOffset).setUint32(at.offset, this.count, false);
    this.countAt = undefined;
  }

  private push(part: Uint8Array): void {
    if (part.length === 0) return;
    this.parts.push(part);
    this.total += part.length;
  }
}

/** Decodes and validates a dump; throws CorruptError when it is not one or names a table outside `allowed`. */
export function parseDump(data: Uint8Array, allowed: readonly string[]): Record<string, Array<[string, unknown]>> {
  let v: unknown;
  try {
    v = decode(data);
  } catch (err) {
    throw new CorruptError(`snapshot data does not decode: ${(err as Error).message}`);
  }
  const d = v as { v?: unknown; tables?: unknown };
  if (!d || d.v !== 1 || typeof d.tables !== 'object' || d.tables === null)
    throw new CorruptError('snapshot data has no tables');
  const tables = d.tables as Record<string, unknown>;
  for (const [name, rows] of Object.entries(tables)) {
    if (!allowed.includes(name)) throw new CorruptError(`snapshot names unknown table ${JSON.stringify(name)}`);
    if (
      !Array.isArray(rows) ||
      !rows.every((r) => Array.isArray(r) && r.length === 2 && typeof r[0] === 'string' && r[0].length > 0)
    ) {
      throw new CorruptError(`snapshot table ${name} is malformed`);
    }
  }
  return tables as Record<string, Array<[string, unknown]>>;
}

/**
 * Replaces the content of every table in `tables` with the rows of a parsed dump (tables absent
 * from the dump become empty). Runs inside one write transaction, so a restore is all or nothing.
 */
export function replaceTables(
  tx: WriteTxn,
  tables: readonly string[],
  dump: Record<string, Array<[string, unknown]>>,
): void {
  for (const t of tables) {
    const keys: string[] = [];
    for (const [k] of tx.range(t)) keys.push(k);
    for (const k of keys) tx.delete(t, k);
    for (const [k, v] of dump[t] ?? []) tx.put(t, k, v);
  }
}
