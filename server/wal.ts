import { closeSync, fdatasync, openSync, readFileSync, readSync, writevSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptError, DiskFullError, StorageError } from '../core/errors.js';
import { isDiskFull } from './disk-full.js';
import { CorruptFrameError, FRAME_HEADER_BYTES, FRAME_KIND } from '../core/hotpaths/frame.js';
import type { HotPaths } from '../core/ports/hot-paths.js';
import type { Logger } from '../core/ports/logger.js';

/** Default size a segment file is preallocated to (and rotated at). */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Largest frame the WAL takes (a Raft Ready's entries are bounded well below it). */
export const MAX_WAL_FRAME_BYTES = 256 * 1024 * 1024;
/** Most segment files a WAL directory may hold. */
const MAX_SEGMENTS = 100_000;
const SEGMENT_NAME = /^([0-9a-f]{16})\.wal$/;
/** What a segment's first frame carries besides its number, so a stray file is not taken for one. */
const SEGMENT_MAGIC = 0x4b57414c; // "KWAL"

/** Where a frame lies: its segment's number, its offset there and its length (header included). */
export interface WalPosition {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

/** A frame found when the WAL was opened: its kind, where it lies, and its bytes. */
export interface WalRecord extends WalPosition {
  readonly kind: number;
  /** The whole frame (header and payload); a view into the segment as read, valid during the callback. */
  readonly frame: Uint8Array;
}

/** How to open a WAL. */
export interface WalOptions {
  /** Directory holding the segment files (created if absent). */
  readonly dir: string;
  readonly hp: HotPaths;
  readonly logger: Logger;
  /**
   * The frame kinds it holds. A frame's kind byte is outside its CRC, so a frame of any other
   * kind counts as corrupt; kinds one flipped bit apart cannot be told apart, so keep them two
   * bits apart (entries, 1, and the segment header, 6, are).
   */
  readonly kinds: readonly number[];
  /** Size segments are preallocated to; a frame that does not fit in what is left starts a new one. */
  readonly segmentBytes?: number;
}

const segmentName = (n: number): string => `${n.toString(16).padStart(16, '0')}.wal`;

const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/** Whether bytes [from, to) of `b` are all zero (compared natively, a chunk at a time). */
function zeros(b: Uint8Array, from: number, to: number): boolean {
  for (let at = from; at < to; at += ZERO_CHUNK.length) {
    const n = Math.min(ZERO_CHUNK.length, to - at);
    if (Buffer.compare(Buffer.from(b.buffer, b.byteOffset + at, n), ZERO_CHUNK.subarray(0, n)) !== 0) return false;
  }
  return true;
}

/**
 * An append-only, segmented write-ahead log of CRC32C frames (core/hotpaths/frame.ts), as etcd
 * and TigerBeetle keep their logs. Segments are files named by a growing number, each
 * preallocated (extended with ftruncate: sparse on most file systems) to the segment size and
 * opened by a header frame naming its number; the frames follow, and zeros end them. An append
 * writes its frames in one positioned write at the end of the last segment (a new segment when
 * they do not fit) and, when asked, syncs it with fdatasync before it resolves. Appends run one
 * at a time, in call order; the write itself is synchronous (it lands in the page cache), the
 * sync runs on the thread pool.
 *
 * Opening reads every segment in order and hands each frame to the caller. A frame that fails
 * its check in the last segment, with no valid frame anywhere after it, is a torn write (never
 * acknowledged: its sync did not return): the tail is cut there, zeroed, and logged with the
 * offset. Any other failed frame is corruption in the middle of the log, and opening refuses
 * with a CorruptError naming the segment and offset.
 */
export class Wal {
  private tail: Promise<unknown> = Promise.resolve();
  /** Why appends are refused: the WAL was closed, or an append failed. */
  private refused: string | undefined;

  private constructor(
    private readonly o: WalOptions & { readonly segmentBytes: number },
    /** Numbers of the segments on disk, ascending. */
    private readonly segments: number[],
    /** The last segment, open for appending. */
    private file: FileHandle,
    /** Where the next frame goes in the last segment. */
    private end: number,
    /** The last segment's size on disk. */
    private size: number,
  ) {}

  /**
   * Opens the WAL in `o.dir` (creating a first segment in an empty one), calling `onRecord` with
   * every frame in order, the segment headers excepted. Throws CorruptError for corruption in
   * the middle of the log, StorageError when the files cannot be read or written.
   */
  static async open(o: WalOptions, onRecord: (r: WalRecord) => void): Promise<Wal> {
    const opts = { ...o, segmentBytes: o.segmentBytes ?? DEFAULT_SEGMENT_BYTES };
    try {
      await mkdir(o.dir, { recursive: true });
      const names = (await readdir(o.dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
      if (names.length > MAX_SEGMENTS) throw new StorageError(`WAL ${o.dir} holds ${names.length} segments`);
      const segments = names.map((n) => parseInt((SEGMENT_NAME.exec(n) as RegExpExecArray)[1] as string, 16));
      for (let i = 1; i < segments.length; i++)
        if (segments[i] !== (segments[i - 1] as number) + 1)
          throw new CorruptError(
            `WAL ${o.dir}: segment ${segmentName(segments[i] as number)} follows ` +
              `${segmentName(segments[i - 1] as number)}; the ones between are missing`,
          );
      if (segments.length === 0) {
        const file = await Wal.createSegment(opts, 1);
        return new Wal(opts, [1], file.handle, file.end, opts.segmentBytes);
      }
      let end = 0;
      let size = 0;
      for (let i = 0; i < segments.length; i++) {
        const n = segments[i] as number;
        const last = i === segments.length - 1;
        const bytes = await readFile(join(o.dir, segmentName(n)));
        const scanned = Wal.scan(opts, n, bytes, last, onRecord);
        if (last) {
          end = scanned;
          size = bytes.length;
        }
      }
      const lastSegment = segments[segments.length - 1] as number;
      const file = await open(join(o.dir, segmentName(lastSegment)), 'r+');
      const wal = new Wal(opts, segments, file, end, size);
      await wal.clearTail();
      return wal;
    } catch (err) {
      if (err instanceof CorruptError || err instanceof StorageError) throw err;
      throw new StorageError(`cannot open WAL ${o.dir}: ${(err as Error).message}`, err);
    }
  }

  /**
   * Checks segment `n` (its bytes) and hands its frames to `onRecord`; returns where its frames
   * end. In the last segment a failed frame with nothing valid after it ends the log there.
   */
  private static scan(
    o: WalOptions,
    n: number,
    bytes: Uint8Array,
    last: boolean,
    onRecord: (r: WalRecord) => void,
  ): number {
    const name = segmentName(n);
    const where = (offset: number) => `WAL segment ${name} at byte ${offset}`;
    let offset: number;
    try {
      const head = o.hp.openFrame(bytes, 0);
      const view = new DataView(
        bytes.buffer,
        bytes.byteOffset + head.payloadStart,
        head.payloadEnd - head.payloadStart,
      );
      if (
        head.kind !== FRAME_KIND.walSegment ||
        view.byteLength !== 12 ||
        view.getUint32(0, true) !== SEGMENT_MAGIC ||
        view.getUint32(4, true) + view.getUint32(8, true) * 2 ** 32 !== n
      )
        throw new CorruptError(`${where(0)}: not the header of segment ${n}`);
      offset = head.payloadEnd;
    } catch (err) {
      // A new last segment whose header write was torn holds nothing acknowledged.
      if (last && err instanceof CorruptFrameError && !Wal.validFrameAfter(o, bytes, 0)) {
        o.logger.warn('WAL segment header torn; segment emptied', { segment: name });
        return -1;
      }
      throw err instanceof CorruptFrameError ? new CorruptError(`${where(0)}: ${err.message}`) : err;
    }
    while (offset + FRAME_HEADER_BYTES <= bytes.length && !zeros(bytes, offset, offset + FRAME_HEADER_BYTES)) {
      let f: { kind: number; payloadStart: number; payloadEnd: number };
      try {
        f = Wal.openRecord(o, bytes, offset);
      } catch (err) {
        if (!(err instanceof CorruptFrameError)) throw err;
        if (last && !Wal.validFrameAfter(o, bytes, offset + 1)) {
          o.logger.warn('WAL torn tail cut', { segment: name, offset, error: err.message });
          return offset;
        }
        throw new CorruptError(`${where(offset)}: ${err.message}; valid frames follow, so this is not a torn write`);
      }
      onRecord({
        segment: n,
        offset,
        length: f.payloadEnd - offset,
        kind: f.kind,
        frame: bytes.subarray(offset, f.payloadEnd),
      });
      offset = f.payloadEnd;
    }
    // Past the frames there may only be zeros (a torn write of the last segment excepted).
    if (!zeros(bytes, offset, bytes.length)) {
      if (last && !Wal.validFrameAfter(o, bytes, offset + 1)) {
        o.logger.warn('WAL torn tail cut', { segment: name, offset, error: 'bytes after the last frame' });
        return offset;
      }
      throw new CorruptError(`${where(offset)}: bytes after the last frame`);
    }
    return offset;
  }

  /**
   * The record frame at `offset`: one that passes its check, of a kind the WAL holds, with a
   * payload (a torn header of zeros after its first bytes would pass as an empty frame).
   */
  private static openRecord(o: WalOptions, bytes: Uint8Array, offset: number) {
    const f = o.hp.openFrame(bytes, offset);
    if (!o.kinds.includes(f.kind)) throw new CorruptFrameError(`frame kind ${f.kind} is not a WAL record`, offset);
    if (f.payloadEnd === f.payloadStart) throw new CorruptFrameError('empty frame', offset);
    return f;
  }

  /** Whether a record frame starts anywhere in `bytes` from `from` on. */
  private static validFrameAfter(o: WalOptions, bytes: Uint8Array, from: number): boolean {
    for (let i = from; i + FRAME_HEADER_BYTES <= bytes.length; i++) {
      // Cheap tests first: version 1, reserved 0, a length that fits.
      if (bytes[i + 1] !== 1 || bytes[i + 2] !== 0 || bytes[i + 3] !== 0) continue;
      const length = new DataView(bytes.buffer, bytes.byteOffset + i + 4, 4).getUint32(0, true);
      if (length > bytes.length - i - FRAME_HEADER_BYTES) continue;
      try {
        Wal.openRecord(o, bytes, i);
        return true;
      } catch {
        // not a frame
      }
    }
    return false;
  }

  /** Creates segment `n` preallocated to `size` bytes with its header frame, synced with its directory. */
  private static async createSegment(
    o: WalOptions & { readonly segmentBytes: number },
    n: number,
    size = o.segmentBytes,
  ): Promise<{ handle: FileHandle; end: number }> {
    const handle = await open(join(o.dir, segmentName(n)), 'w+');
    try {
      await handle.truncate(size);
      const frame = o.hp.frameBuffer(FRAME_HEADER_BYTES + 12);
      frame.view.setUint32(FRAME_HEADER_BYTES, SEGMENT_MAGIC, true);
      frame.view.setUint32(FRAME_HEADER_BYTES + 4, n >>> 0, true);
      frame.view.setUint32(FRAME_HEADER_BYTES + 8, Math.floor(n / 2 ** 32), true);
      const header = o.hp.sealFrame(frame, FRAME_KIND.walSegment, 12);
      await handle.write(header, 0, header.length, 0);
      await handle.datasync();
      await syncDir(o.dir);
      return { handle, end: header.length };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  /** Zeroes the last segment from the end of its frames (what a torn write left), then syncs. */
  private async clearTail(): Promise<void> {
    if (this.end < 0) {
      // The header itself was torn: write the segment afresh.
      await this.file.close();
      const n = this.segments[this.segments.length - 1] as number;
      const file = await Wal.createSegment(this.o, n);
      this.file = file.handle;
      this.end = file.end;
      this.size = this.o.segmentBytes;
      return;
    }
    const rest = this.size - this.end;
    if (rest <= 0) return;
    const bytes = new Uint8Array(Math.min(rest, 1024 * 1024));
    const { bytesRead } = await this.file.read(bytes, 0, bytes.length, this.end);
    let dirty = !zeros(bytes, 0, bytesRead);
    for (let at = this.end + bytesRead; !dirty && at < this.size;) {
      const { bytesRead: n } = await this.file.read(bytes, 0, Math.min(bytes.length, this.size - at), at);
      if (n === 0) break;
      dirty = !zeros(bytes, 0, n);
      at += n;
    }
    if (!dirty) return;
    // Shrink past the garbage and grow back: the file system hands back zeros.
    await this.file.truncate(this.end);
    await this.file.truncate(this.size);
    await this.file.datasync();
  }

  /**
   * Reads every frame on disk again, in order, synchronously (a start-up path: the Raft driver
   * loading its log after a bootstrap wrote it), calling `onRecord` as open() does. Call it with
   * no append under way. Throws CorruptError as open() does.
   */
  replaySync(onRecord: (r: WalRecord) => void): void {
    const last = this.segments[this.segments.length - 1];
    for (const n of this.segments) {
      const bytes = readFileSync(join(this.o.dir, segmentName(n)));
      Wal.scan(this.o, n, bytes.subarray(0, n === last ? this.end : bytes.length), n === last, onRecord);
    }
  }

  /** Numbers of the segments on disk, ascending (the last one takes appends). */
  segmentNumbers(): readonly number[] {
    return this.segments;
  }

  /**
   * Appends `frames` (each a sealed frame) in one write, in a new segment when they do not fit in
   * what is left of the last one, and syncs it when `sync` is set. Resolves with each frame's
   * position once written (and synced). Rejects with StorageError when the write fails; the WAL
   * then refuses further appends (what reached the disk is sorted out when it is opened again).
   */
  append(frames: readonly Uint8Array[], sync: boolean): Promise<WalPosition[]> {
    const run = this.tail.then(() => this.write(frames, sync));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async write(frames: readonly Uint8Array[], sync: boolean): Promise<WalPosition[]> {
    if (this.refused !== undefined) throw new StorageError(`WAL append refused: ${this.refused}`);
    let total = 0;
    for (const f of frames) {
      if (f.length <= FRAME_HEADER_BYTES || f.length > MAX_WAL_FRAME_BYTES)
        throw new StorageError(`WAL frame of ${f.length} bytes refused`);
      if (!this.o.kinds.includes(f[0] as number)) throw new StorageError(`WAL frame of kind ${f[0]} refused`);
      total += f.length;
    }
    if (total === 0) return [];
    try {
      if (this.end + total > this.size) await this.rotate(total);
      const segment = this.segments[this.segments.length - 1] as number;
      const positions: WalPosition[] = [];
      let at = this.end;
      for (const f of frames) {
        positions.push({ segment, offset: at, length: f.length });
        at += f.length;
      }
      // The write goes to the page cache at once (no thread pool round trip); the sync, which
      // waits for the disk, is the one step left to the thread pool.
      const bytesWritten = writevSync(this.file.fd, frames as Uint8Array[], this.end);
      // A short write is a full disk: the next append writes the same place again.
      if (bytesWritten !== total)
        throw Object.assign(new Error(`short write: ${bytesWritten} of ${total} bytes`), { code: 'ENOSPC' });
      this.end = at;
      if (sync) await datasync(this.file.fd);
      return positions;
    } catch (err) {
      if (isDiskFull(err))
        throw new DiskFullError(`WAL append failed, the disk is full: ${(err as Error).message}`, err);
      this.refused = `an earlier append failed (${(err as Error).message})`;
      throw new StorageError(`WAL append failed: ${(err as Error).message}`, err);
    }
  }

  /** Starts the next segment, large enough for `bytes` of frames after its header. */
  private async rotate(bytes: number): Promise<void> {
    // The finished segment is synced first: later appends sync only the new one.
    await this.file.datasync();
    const n = (this.segments[this.segments.length - 1] as number) + 1;
    const size = Math.max(this.o.segmentBytes, bytes + 64);
    // The new segment first: when it cannot be made (a full disk), the old one stays open and
    // the append can be tried again.
    let file: { handle: FileHandle; end: number };
    try {
      file = await Wal.createSegment(this.o, n, size);
    } catch (err) {
      await rm(join(this.o.dir, segmentName(n)), { force: true }).catch(() => undefined);
      throw err;
    }
    await this.file.close();
    this.segments.push(n);
    this.file = file.handle;
    this.end = file.end;
    this.size = size;
  }

  /**
   * Reads back and checks the frame at `pos`, synchronously (a frame already appended: the Raft
   * log reading entries it no longer holds in memory). Throws StorageError when the segment is
   * gone or cannot be read, CorruptError when the frame no longer passes its check.
   */
  readSync(pos: WalPosition): Uint8Array {
    if (!this.segments.includes(pos.segment)) throw new StorageError(`WAL segment ${pos.segment} is gone`);
    const bytes = new Uint8Array(pos.length);
    const last = pos.segment === this.segments[this.segments.length - 1];
    let bytesRead: number;
    try {
      const fd = last ? this.file.fd : openSync(join(this.o.dir, segmentName(pos.segment)), 'r');
      try {
        bytesRead = readSync(fd, bytes, 0, pos.length, pos.offset);
      } finally {
        if (!last) closeSync(fd);
      }
    } catch (err) {
      throw new StorageError(`cannot read WAL segment ${segmentName(pos.segment)}: ${(err as Error).message}`, err);
    }
    const where = `WAL segment ${segmentName(pos.segment)} at byte ${pos.offset}`;
    if (bytesRead !== pos.length) throw new CorruptError(`${where}: short read`);
    try {
      this.o.hp.openFrame(bytes, 0);
    } catch (err) {
      throw new CorruptError(`${where}: ${(err as Error).message}`);
    }
    return bytes;
  }

  /**
   * Deletes every segment numbered below `segment` (never the last one): call it once what they
   * hold is durable elsewhere (an LMDB sync or a snapshot covers it). Resolves with how many went.
   */
  async removeBefore(segment: number): Promise<number> {
    const keep = Math.min(segment, this.segments[this.segments.length - 1] as number);
    let removed = 0;
    while ((this.segments[0] as number) < keep) {
      await rm(join(this.o.dir, segmentName(this.segments[0] as number)));
      this.segments.shift();
      removed++;
    }
    if (removed > 0) await syncDir(this.o.dir);
    return removed;
  }

  /** Waits for appends under way, then closes the last segment. Idempotent. */
  async close(): Promise<void> {
    await this.tail;
    if (this.refused === 'the WAL is closed') return;
    this.refused = 'the WAL is closed';
    await this.file.close().catch(() => undefined);
  }
}

/** fdatasync of `fd` on the thread pool (one round trip, where FileHandle.datasync takes more). */
function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

/** fsyncs a directory, so file creations and deletions in it are durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
