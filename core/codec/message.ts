import type { HotPaths } from '../ports/hot-paths.js';
import type { ConfState, Message, MessageType, SnapshotChunk } from '../raft/types.js';
import { CorruptFrameError, FRAME_HEADER_BYTES, FRAME_KIND } from '../hotpaths/frame.js';
import { ByteReader, ByteWriter, strBytes } from './bytes.js';
import {
  decodeEntriesFrame,
  type EntriesFrameCache,
  entriesPayloadBytes,
  readEntries,
  writeEntries,
} from './entries.js';

const TYPES: readonly MessageType[] = [
  'app',
  'appResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'heartbeat',
  'heartbeatResp',
  'snap',
  'snapResp',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i]));

// Presence bits of optional fields.
const F = {
  index: 1,
  logTerm: 2,
  commit: 4,
  rejectHint: 8,
  leaseTick: 16,
  offset: 32,
  context: 64,
  entries: 128,
  snapshot: 256,
  reject: 512,
  transfer: 1024,
  /** The entries are the entries frame that follows this one (see encodeMessageFrames). */
  entriesNext: 2048,
} as const;

function confBytes(c: ConfState): number {
  let n = 4;
  for (const id of [...c.voters, ...c.learners]) n += 2 + strBytes(id);
  return n;
}

function payloadBytes(m: Message): number {
  let n = 1 + 2 + 2 + strBytes(m.from) + 2 + strBytes(m.to) + 8;
  for (const v of [m.index, m.logTerm, m.commit, m.rejectHint, m.leaseTick, m.offset]) if (v !== undefined) n += 8;
  if (m.context !== undefined) n += 4 + strBytes(m.context);
  if (m.entries !== undefined) n += entriesPayloadBytes(m.entries);
  if (m.snapshot !== undefined) n += 8 + 8 + confBytes(m.snapshot.meta.conf) + 8 + 8 + 4 + m.snapshot.data.length;
  return n;
}

/** Encodes a Raft message as one CRC32C-checked frame for the server transport. */
export function encodeMessageFrame(hp: HotPaths, m: Message): Uint8Array {
  return encodeFrame(hp, m, false);
}

/**
 * Encodes a Raft message as the frames the server transport sends: one frame, or for a message
 * with entries, a message frame without them followed by the entries' frame from `entries` (so
 * the bytes the leader writes to its log go to every follower, see EntriesFrameCache).
 * MessageFrameReader puts them back together.
 */
export function encodeMessageFrames(hp: HotPaths, m: Message, entries: EntriesFrameCache): Uint8Array[] {
  if (m.entries === undefined || m.entries.length === 0) return [encodeFrame(hp, m, false)];
  return [encodeFrame(hp, { ...m, entries: undefined }, true), entries.frameFor(m.entries)];
}

function encodeFrame(hp: HotPaths, m: Message, entriesNext: boolean): Uint8Array {
  const payload = payloadBytes(m);
  const frame = hp.frameBuffer(FRAME_HEADER_BYTES + payload);
  const w = new ByteWriter(frame.bytes, frame.view, FRAME_HEADER_BYTES);
  let flags = 0;
  if (m.index !== undefined) flags |= F.index;
  if (m.logTerm !== undefined) flags |= F.logTerm;
  if (m.commit !== undefined) flags |= F.commit;
  if (m.rejectHint !== undefined) flags |= F.rejectHint;
  if (m.leaseTick !== undefined) flags |= F.leaseTick;
  if (m.offset !== undefined) flags |= F.offset;
  if (m.context !== undefined) flags |= F.context;
  if (m.entries !== undefined) flags |= F.entries;
  if (m.snapshot !== undefined) flags |= F.snapshot;
  if (m.reject) flags |= F.reject;
  if (m.transfer) flags |= F.transfer;
  if (entriesNext) flags |= F.entriesNext;
  w.u8(TYPE_CODE.get(m.type) as number);
  w.u16(flags);
  w.str16(m.from);
  w.str16(m.to);
  w.u64(m.term);
  for (const v of [m.index, m.logTerm, m.commit, m.rejectHint, m.leaseTick, m.offset]) if (v !== undefined) w.u64(v);
  if (m.context !== undefined) w.str32(m.context);
  if (m.entries !== undefined) writeEntries(w, m.entries);
  const s = m.snapshot;
  if (s !== undefined) {
    w.u64(s.meta.index);
    w.u64(s.meta.term);
    w.u16(s.meta.conf.voters.length);
    w.u16(s.meta.conf.learners.length);
    for (const id of [...s.meta.conf.voters, ...s.meta.conf.learners]) w.str16(id);
    w.u64(s.offset);
    w.u64(s.total);
    w.u32(s.data.length);
    w.raw(s.data);
  }
  return hp.sealFrame(frame, FRAME_KIND.message, payload);
}

/**
 * Decodes the message frame at `offset`; returns it and the offset after the frame. Throws
 * CorruptFrameError with the position of the problem (truncation, checksum, unknown type or
 * field, trailing bytes).
 */
export function decodeMessageFrame(
  hp: HotPaths,
  input: Uint8Array,
  offset = 0,
): { message: Message; next: number; entriesNext: boolean } {
  const f = hp.openFrame(input, offset);
  if (f.kind !== FRAME_KIND.message)
    throw new CorruptFrameError(`expected a message frame, got kind ${f.kind}`, offset);
  const r = new ByteReader(input, f.payloadStart, f.payloadEnd);
  const typeAt = r.pos;
  const type = TYPES[r.u8('message type')];
  if (type === undefined) throw new CorruptFrameError('unknown message type', typeAt);
  const flagsAt = r.pos;
  const flags = r.u16('message flags');
  if (flags >= 4096) throw new CorruptFrameError('unknown message flags', flagsAt);
  const m: { -readonly [K in keyof Message]: Message[K] } = {
    type,
    from: r.str16('from'),
    to: r.str16('to'),
    term: r.u64('term'),
  };
  if (flags & F.index) m.index = r.u64('index');
  if (flags & F.logTerm) m.logTerm = r.u64('logTerm');
  if (flags & F.commit) m.commit = r.u64('commit');
  if (flags & F.rejectHint) m.rejectHint = r.u64('rejectHint');
  if (flags & F.leaseTick) m.leaseTick = r.u64('leaseTick');
  if (flags & F.offset) m.offset = r.u64('offset');
  if (flags & F.context) m.context = r.str32('context');
  if (flags & F.entries) m.entries = readEntries(r);
  if (flags & F.snapshot) {
    const index = r.u64('snapshot index');
    const term = r.u64('snapshot term');
    const nv = r.u16('voter count');
    const nl = r.u16('learner count');
    const voters: string[] = [];
    const learners: string[] = [];
    for (let i = 0; i < nv; i++) voters.push(r.str16('voter'));
    for (let i = 0; i < nl; i++) learners.push(r.str16('learner'));
    const chunk: SnapshotChunk = {
      meta: { index, term, conf: { voters, learners } },
      offset: r.u64('chunk offset'),
      total: r.u64('snapshot size'),
      data: r.raw(r.u32('chunk length'), 'chunk data'),
    };
    m.snapshot = chunk;
  }
  if (flags & F.reject) m.reject = true;
  if (flags & F.transfer) m.transfer = true;
  if (r.pos !== f.payloadEnd) throw new CorruptFrameError('trailing bytes in message frame', r.pos);
  if (flags & F.entriesNext && flags & F.entries)
    throw new CorruptFrameError('message frame with entries both inline and next', flagsAt);
  return { message: m, next: f.payloadEnd, entriesNext: (flags & F.entriesNext) !== 0 };
}

/**
 * Puts the messages of a transport connection back together from its frames, in order: a message
 * frame, and for one sent by encodeMessageFrames with entries, the entries frame after it (which
 * it hands to `entries` to keep). Throws CorruptFrameError for a frame of another kind, or one out
 * of place.
 */
export class MessageFrameReader {
  private pending: Message | undefined;

  constructor(
    private readonly hp: HotPaths,
    private readonly entries: EntriesFrameCache,
  ) {}

  /** Takes the next frame (kind: its kind byte); returns the message it completes, if any. */
  push(kind: number, frame: Uint8Array): Message | undefined {
    const pending = this.pending;
    if (pending) {
      if (kind !== FRAME_KIND.entries) throw new CorruptFrameError(`expected an entries frame, got kind ${kind}`, 0);
      this.pending = undefined;
      const { entries } = decodeEntriesFrame(this.hp, frame);
      this.entries.remember(entries, frame);
      return { ...pending, entries };
    }
    if (kind !== FRAME_KIND.message) throw new CorruptFrameError(`unexpected frame kind ${kind}`, 0);
    const { message, entriesNext } = decodeMessageFrame(this.hp, frame);
    if (!entriesNext) return message;
    this.pending = message;
    return undefined;
  }
}
