import type { HotPaths } from '../ports/hot-paths.js';
import type { Entry } from '../raft/types.js';
import { CorruptFrameError, FRAME_HEADER_BYTES, FRAME_KIND } from '../hotpaths/frame.js';
import { ByteReader, ByteWriter } from './bytes.js';

/** Bytes an entry takes in a frame besides its data: term, index (u64 each), type (u8), data length (u32). */
const ENTRY_HEADER_BYTES = 21;

/** Payload bytes of `entries` (without the frame header). */
export function entriesPayloadBytes(entries: readonly Entry[]): number {
  let n = 4;
  for (const e of entries) n += ENTRY_HEADER_BYTES + e.data.length;
  return n;
}

/** Writes a count and the entries. */
export function writeEntries(w: ByteWriter, entries: readonly Entry[]): void {
  w.u32(entries.length);
  for (const e of entries) {
    w.u64(e.term);
    w.u64(e.index);
    w.u8(e.type === 'conf' ? 1 : 0);
    w.u32(e.data.length);
    w.raw(e.data);
  }
}

/** Reads what writeEntries wrote. Entry data are views into the input (no copy). */
export function readEntries(r: ByteReader): Entry[] {
  const count = r.u32('entry count');
  // Each entry needs at least its header: refuse counts the payload cannot hold before allocating.
  if (count * ENTRY_HEADER_BYTES > r.end - r.pos)
    throw new CorruptFrameError(`entry count ${count} does not fit the payload`, r.pos - 4);
  const out: Entry[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const term = r.u64('entry term');
    const index = r.u64('entry index');
    const typeAt = r.pos;
    const type = r.u8('entry type');
    if (type > 1) throw new CorruptFrameError(`unknown entry type ${type}`, typeAt);
    const data = r.raw(r.u32('entry length'), 'entry data');
    out[i] = { term, index, type: type === 1 ? 'conf' : 'normal', data };
  }
  return out;
}

/** Encodes a batch of Raft entries as one CRC32C-checked frame (for the log and the wire). */
export function encodeEntriesFrame(hp: HotPaths, entries: readonly Entry[]): Uint8Array {
  const payload = entriesPayloadBytes(entries);
  const frame = hp.frameBuffer(FRAME_HEADER_BYTES + payload);
  writeEntries(new ByteWriter(frame.bytes, frame.view, FRAME_HEADER_BYTES), entries);
  return hp.sealFrame(frame, FRAME_KIND.entries, payload);
}

/**
 * Decodes the entries frame at `offset`. Returns the entries (data are views into `input`) and
 * the offset after the frame. Throws CorruptFrameError, with the position, for a truncated or
 * corrupted frame, a wrong kind or a payload that does not parse exactly.
 */
export function decodeEntriesFrame(hp: HotPaths, input: Uint8Array, offset = 0): { entries: Entry[]; next: number } {
  const f = hp.openFrame(input, offset);
  if (f.kind !== FRAME_KIND.entries)
    throw new CorruptFrameError(`expected an entries frame, got kind ${f.kind}`, offset);
  const r = new ByteReader(input, f.payloadStart, f.payloadEnd);
  const entries = readEntries(r);
  if (r.pos !== f.payloadEnd) throw new CorruptFrameError('trailing bytes in entries frame', r.pos);
  return { entries, next: f.payloadEnd };
}

/** One batch's frame in an EntriesFrameCache: the batch known by its first and last entry. */
interface CachedFrame {
  readonly first: Entry;
  readonly last: Entry;
  readonly count: number;
  readonly frame: Uint8Array;
}

/**
 * The entries frames made or received most recently, so that one batch of entries becomes one
 * frame, encoded and checksummed once: the leader sends the same bytes to every follower and
 * writes them to its log, and a follower writes to its log the frame it received. A batch is
 * known by the identity of its first and last entry and its length (entries are never changed,
 * and a batch is a contiguous run of the log). Holds at most `capacity` frames, newest first.
 */
export class EntriesFrameCache {
  private readonly frames: CachedFrame[] = [];

  constructor(
    private readonly hp: HotPaths,
    private readonly capacity = 8,
  ) {}

  /** The frame of `entries` (non-empty): the one made or received before, else a new one it keeps. */
  frameFor(entries: readonly Entry[]): Uint8Array {
    const first = entries[0] as Entry;
    const last = entries[entries.length - 1] as Entry;
    for (const c of this.frames) if (c.first === first && c.last === last && c.count === entries.length) return c.frame;
    const frame = encodeEntriesFrame(this.hp, entries);
    this.remember(entries, frame);
    return frame;
  }

  /** Keeps `frame` (the entries frame `entries` were decoded from) for frameFor, dropping the oldest over capacity. */
  remember(entries: readonly Entry[], frame: Uint8Array): void {
    if (entries.length === 0) return;
    this.frames.unshift({
      first: entries[0] as Entry,
      last: entries[entries.length - 1] as Entry,
      count: entries.length,
      frame,
    });
    if (this.frames.length > this.capacity) this.frames.pop();
  }
}
