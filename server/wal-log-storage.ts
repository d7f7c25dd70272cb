import { ByteReader, ByteWriter } from '../core/codec/bytes.js';
import { decodeEntriesFrame, type EntriesFrameCache, encodeEntriesFrame } from '../core/codec/entries.js';
import { CorruptError, DiskFullError } from '../core/errors.js';
import { readAppliedIndex, readConfState } from '../core/fsm/meta.js';
import { CorruptFrameError, FRAME_HEADER_BYTES, FRAME_KIND } from '../core/hotpaths/frame.js';
import type { HotPaths } from '../core/ports/hot-paths.js';
import type { Logger } from '../core/ports/logger.js';
import type { StateStore, WriteTxn } from '../core/ports/state-store.js';
import type { RaftInit } from '../core/raft/raft.js';
import { type Entry, type HardState, type LogEntrySource, type Snapshot, entrySize } from '../core/raft/types.js';
import {
  keepCompactionSnapshot,
  type LogStorage,
  type PersistRequest,
  RAFT_LOG_TABLE,
  RAFT_META_TABLE,
  readRaftLog,
  readSnapshot,
  readSnapshotMeta,
  storeLeaderSnapshot,
} from '../core/replication/storage.js';
import { type WalPosition, type WalRecord, Wal } from './wal.js';
import { copyBytes } from '../core/util/bytes.js';

/** What one appended frame holds: entries [first, last], or a hard state. */
type FrameContent = { readonly first: number; readonly last: number } | 'hard';

/** The record types a walState frame carries (its first payload byte). */
const STATE_HARD = 1;
/** Where a data dir written before the WAL kept the hard state (RAFT_META_TABLE). */
const OLD_HARD_STATE_KEY = 'hardState';
/** Most bytes of entries in one frame when a log moves from LMDB to the WAL. */
const MIGRATION_FRAME_BYTES = 4 * 1024 * 1024;

/** How to open a WalLogStorage. */
export interface WalLogStorageOptions {
  /** The WAL's directory (created if absent). */
  readonly dir: string;
  /** The state machine's store; it also holds the snapshots (RAFT_META_TABLE). */
  readonly store: StateStore;
  readonly hp: HotPaths;
  readonly logger: Logger;
  /** WAL segment size (tests use small ones). */
  readonly segmentBytes?: number;
  /**
   * Entries frames shared with the raft transport: a batch the transport sent or received as a
   * frame is written to the WAL as those same bytes (see EntriesFrameCache).
   */
  readonly entriesFrames?: EntriesFrameCache;
}

/** Encodes a hard state as a walState frame. */
function hardStateFrame(hp: HotPaths, hs: HardState): Uint8Array {
  const vote = hs.vote ?? '';
  const payload = 1 + 8 + 8 + 1 + 2 + Buffer.byteLength(vote);
  const frame = hp.frameBuffer(FRAME_HEADER_BYTES + payload);
  const w = new ByteWriter(frame.bytes, frame.view, FRAME_HEADER_BYTES);
  w.u8(STATE_HARD);
  w.u64(hs.term);
  w.u64(hs.commit);
  w.u8(hs.vote === undefined ? 0 : 1);
  w.str16(vote);
  return hp.sealFrame(frame, FRAME_KIND.walState, payload);
}

/** Decodes a walState frame (already checked by the WAL). Throws CorruptFrameError when it does not parse. */
function readHardStateFrame(hp: HotPaths, frame: Uint8Array): HardState {
  const f = hp.openFrame(frame, 0);
  const r = new ByteReader(frame, f.payloadStart, f.payloadEnd);
  const type = r.u8('state record type');
  if (type !== STATE_HARD) throw new CorruptFrameError(`unknown WAL state record ${type}`, f.payloadStart);
  const term = r.u64('term');
  const commit = r.u64('commit');
  const hasVote = r.u8('vote flag') === 1;
  const vote = r.str16('vote');
  if (r.pos !== f.payloadEnd) throw new CorruptFrameError('trailing bytes in WAL state record', r.pos);
  return { term, commit, vote: hasVote ? vote : undefined };
}

/**
 * Where the entries of the log lie in the WAL: per entries frame, its first and last entry index
 * and position, ascending by index (a frame that replaces entries from index f on cuts the ones
 * before it short). One row per frame since the last compaction, in parallel number arrays.
 */
class FrameIndex {
  private first: number[] = [];
  private last: number[] = [];
  private segment: number[] = [];
  private offset: number[] = [];
  private length: number[] = [];

  /** Records a frame of entries [first, last] at `pos`, replacing whatever the log held from `first` on. */
  add(first: number, last: number, pos: WalPosition): void {
    let n = this.first.length;
    while (n > 0 && (this.first[n - 1] as number) >= first) n--;
    this.truncate(n);
    if (n > 0 && (this.last[n - 1] as number) >= first) this.last[n - 1] = first - 1;
    this.first.push(first);
    this.last.push(last);
    this.segment.push(pos.segment);
    this.offset.push(pos.offset);
    this.length.push(pos.length);
  }

  /** Forgets the frames whose entries all lie at or below `index` (a snapshot covers them). */
  dropThrough(index: number): void {
    let n = 0;
    while (n < this.last.length && (this.last[n] as number) <= index) n++;
    if (n === 0) return;
    for (const a of [this.first, this.last, this.segment, this.offset, this.length]) a.splice(0, n);
  }

  /** Forgets every frame (a snapshot from the leader replaced the log). */
  clear(): void {
    this.truncate(0);
  }

  /** Number of frames recorded. */
  get size(): number {
    return this.first.length;
  }

  /** The frame holding entry `index` and the last index it still counts for; undefined if none. */
  find(index: number): { pos: WalPosition; last: number } | undefined {
    let lo = 0;
    let hi = this.first.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.last[mid] as number) < index) lo = mid + 1;
      else if ((this.first[mid] as number) > index) hi = mid - 1;
      else
        return {
          pos: {
            segment: this.segment[mid] as number,
            offset: this.offset[mid] as number,
            length: this.length[mid] as number,
          },
          last: this.last[mid] as number,
        };
    }
    return undefined;
  }

  private truncate(n: number): void {
    for (const a of [this.first, this.last, this.segment, this.offset, this.length]) a.length = n;
  }
}

/** What the WAL held when opened, after the state store's snapshot. */
interface Replayed {
  hardState: HardState | undefined;
  /** The segment of the last hard state record. */
  hardStateSegment: number | undefined;
  /** The log after the snapshot, contiguous from its index + 1. */
  entries: Entry[];
}

/** Rebuilds, frame by frame, what the WAL holds after the snapshot the state store keeps. */
class Replay {
  records = 0;
  /** Highest entry index each segment holds. */
  readonly segmentMax = new Map<number, number>();
  /** Where each entry lies. */
  readonly frames = new FrameIndex();
  private readonly replayed: Replayed = { hardState: undefined, hardStateSegment: undefined, entries: [] };
  private readonly snapshot: Snapshot['meta'] | undefined;
  private readonly base: number;

  constructor(private readonly o: WalLogStorageOptions) {
    this.snapshot = o.store.read(readSnapshotMeta);
    this.base = this.snapshot?.index ?? 0;
  }

  /** Takes the next frame. Throws CorruptError for a frame that does not parse or a gap in the log. */
  record(r: WalRecord): void {
    this.records++;
    const where = `WAL segment ${r.segment} at byte ${r.offset}`;
    const { replayed, base } = this;
    try {
      if (r.kind === FRAME_KIND.walState) {
        replayed.hardState = readHardStateFrame(this.o.hp, r.frame);
        replayed.hardStateSegment = r.segment;
        return;
      }
      const { entries } = decodeEntriesFrame(this.o.hp, r.frame);
      const last = entries[entries.length - 1];
      if (last) {
        this.segmentMax.set(r.segment, Math.max(this.segmentMax.get(r.segment) ?? 0, last.index));
        this.frames.add((entries[0] as Entry).index, last.index, r);
      }
      for (const e of entries) {
        if (e.index <= base) continue;
        const at = e.index - base - 1;
        if (at > replayed.entries.length)
          throw new CorruptError(
            `${where}: entry ${e.index} follows entry ${base + replayed.entries.length}; the ones between are missing`,
          );
        replayed.entries.length = at;
        replayed.entries.push({ index: e.index, term: e.term, type: e.type, data: copyBytes(e.data) });
      }
    } catch (err) {
      if (err instanceof CorruptFrameError) throw new CorruptError(`${where}: ${err.message}`);
      throw err;
    }
  }

  /** What the frames gave; entries of a log a leader's snapshot replaced are dropped (see WalLogStorage). */
  finish(): Replayed {
    const { replayed, snapshot } = this;
    const first = replayed.entries[0];
    if (first && snapshot && first.term < snapshot.term) {
      this.o.logger.warn('WAL entries after the snapshot belong to the log it replaced; dropped', {
        snapshot: snapshot.index,
        entries: replayed.entries.length,
      });
      replayed.entries.length = 0;
      this.frames.clear();
    }
    return replayed;
  }
}

/**
 * The Raft log and hard state in a segmented write-ahead log (server/wal.ts), next to the state
 * machine in LMDB. Each Ready appends one frame of its entries and one of its hard state, synced
 * with one fdatasync when the Ready requires it; only then does the state machine apply, in an
 * LMDB transaction that is committed but not flushed (LMDB flushes in the background and keeps
 * its own integrity, so a machine crash can only roll it back to an older applied index, from
 * which start-up replays the WAL). Snapshots live in LMDB: a compaction snapshot is stored
 * durably, and only then are the WAL segments whose entries it all covers deleted; a leader's
 * snapshot is stored durably with the state it replaces before the WAL records what follows it.
 *
 * The WAL is replayed once, when opened: entries at an index already held replace it and all
 * later ones; entries the snapshot covers are dropped, and so are entries after it from an older
 * term than the snapshot's (a log the leader's snapshot replaced, when a crash came between
 * storing the snapshot and appending what followed it). A data dir written before the WAL
 * existed has its log moved from LMDB into the WAL on first open.
 */
export class WalLogStorage implements LogStorage, LogEntrySource {
  /** Highest entry index each segment holds (0: none). */
  private readonly segmentMax = new Map<number, number>();
  /** Where each entry of the log lies, for reading back those the Raft log no longer holds in memory. */
  private frames: FrameIndex;
  private hardStateSegment: number | undefined;
  private hasHardState: boolean;
  /**
   * Whether `replayed` no longer says what the WAL holds: something was persisted since the WAL
   * was read, or load() handed its entries over (and let go of them, so that they are not held
   * in memory twice).
   */
  private stale = false;
  /** Resolves once the WAL part of every persist so far is done. */
  private walTail: Promise<unknown> = Promise.resolve();
  /** Resolves once the state store write of every persist so far was issued. */
  private stateIssued: Promise<unknown> = Promise.resolve();
  /** Resolves once every persist so far is done. */
  private allTail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly o: WalLogStorageOptions,
    private readonly wal: Wal,
    private replayed: Replayed,
    frames: FrameIndex,
  ) {
    this.frames = frames;
    this.hardStateSegment = replayed.hardStateSegment;
    this.hasHardState = replayed.hardState !== undefined;
  }

  /**
   * Opens the WAL in `o.dir` and replays it against the snapshot `o.store` holds. Throws
   * CorruptError for corruption in the middle of the WAL or a log with a gap, StorageError when
   * the files cannot be read or written.
   */
  static async open(o: WalLogStorageOptions): Promise<WalLogStorage> {
    const replay = new Replay(o);
    const wal = await Wal.open(
      {
        dir: o.dir,
        hp: o.hp,
        logger: o.logger,
        kinds: [FRAME_KIND.entries, FRAME_KIND.walState],
        ...(o.segmentBytes ? { segmentBytes: o.segmentBytes } : {}),
      },
      (r) => replay.record(r),
    );
    const storage = new WalLogStorage(o, wal, replay.finish(), replay.frames);
    for (const [segment, max] of replay.segmentMax) storage.segmentMax.set(segment, max);
    await storage.migrateFromLmdb(replay.records === 0);
    return storage;
  }

  /**
   * Moves a log written before the WAL existed (the raft_log table and the hard state in LMDB)
   * into the WAL, then deletes it from LMDB; what a crash between the two leaves in LMDB is
   * deleted on the next open (the WAL, no longer empty, has it).
   */
  private async migrateFromLmdb(walEmpty: boolean): Promise<void> {
    const { store, hp, logger } = this.o;
    if (store.read((tx) => tx.get(RAFT_META_TABLE, OLD_HARD_STATE_KEY)) === undefined) return;
    if (walEmpty) {
      const old = store.read((tx) => readRaftLog(tx, hp));
      const frames: Uint8Array[] = [];
      const lasts: FrameContent[] = [];
      let batch: Entry[] = [];
      let bytes = 0;
      const flush = () => {
        frames.push(encodeEntriesFrame(hp, batch));
        lasts.push({ first: (batch[0] as Entry).index, last: (batch[batch.length - 1] as Entry).index });
        batch = [];
        bytes = 0;
      };
      for (const e of old.entries) {
        batch.push(e);
        bytes += e.data.length;
        if (bytes >= MIGRATION_FRAME_BYTES) flush();
      }
      if (batch.length > 0) flush();
      const hs = old.hardState;
      if (hs) {
        frames.push(hardStateFrame(hp, hs));
        lasts.push('hard');
      }
      this.noteAppended(lasts, await this.wal.append(frames, true));
      this.replayed = { ...this.replayed, hardState: hs, entries: [...old.entries] };
      this.hasHardState = hs !== undefined;
      logger.info('raft log moved from LMDB to the WAL', { entries: old.entries.length });
    }
    await store.write((tx) => {
      const keys: string[] = [];
      for (const [key] of tx.range(RAFT_LOG_TABLE)) keys.push(key);
      for (const key of keys) tx.delete(RAFT_LOG_TABLE, key);
      tx.delete(RAFT_META_TABLE, OLD_HARD_STATE_KEY);
    }, 'durable');
  }

  /**
   * What the WAL and the state store hold: hard state, snapshot, the log after it, the applied
   * index and membership (for start-up: call it with no persist under way). The commit index is
   * at least the applied index (a commit recorded without a sync can be lost in a machine crash
   * while LMDB kept what it applied).
   */
  load(): RaftInit & { lastIndex: number } {
    if (this.stale) {
      // Written since it was read (a bootstrap): read the WAL again. Start-up only, so synchronous.
      const replay = new Replay(this.o);
      this.wal.replaySync((r) => replay.record(r));
      this.replayed = replay.finish();
      this.frames = replay.frames;
      this.stale = false;
    }
    const { snapshot, applied, conf } = this.o.store.read((tx) => ({
      snapshot: readSnapshot(tx),
      applied: readAppliedIndex(tx),
      conf: readConfState(tx),
    }));
    const base = snapshot?.meta.index ?? 0;
    const entries = this.replayed.entries.filter((e) => e.index > base);
    const lastIndex = entries.length > 0 ? (entries[entries.length - 1] as Entry).index : base;
    if (applied > lastIndex)
      throw new CorruptError(`the state is applied up to ${applied}, but the raft log ends at ${lastIndex}`);
    const hs = this.replayed.hardState;
    // The entries now belong to the caller's Raft log (which keeps a bounded part of them).
    this.replayed = { ...this.replayed, entries: [] };
    this.stale = true;
    return {
      ...(hs ? { hardState: { ...hs, commit: Math.max(hs.commit, applied) } } : {}),
      ...(snapshot ? { snapshot: { meta: snapshot.meta, data: new Uint8Array(snapshot.data) } } : {}),
      entries,
      applied: Math.max(applied, base),
      ...(conf ? { conf } : snapshot ? { conf: snapshot.meta.conf } : {}),
      entrySource: this,
      lastIndex,
    };
  }

  /** Whether this data dir already holds Raft state (a hard state was ever persisted). */
  hasState(): boolean {
    return this.hasHardState;
  }

  /**
   * Persists a Ready. Without a snapshot: its entries and hard state go to the WAL (synced when
   * `w.sync`), `onDurable` is called, and `also` (if any) runs in a state store transaction
   * committed without a flush: after the sync when there is one, alongside the unsynced write
   * otherwise. With a leader's snapshot (such a Ready applies no entries): the snapshot and
   * `also` (which replaces the state) are written durably first, then the entries and hard state
   * to the WAL. WAL writes, state store writes and `onDurable` calls each keep call order; the
   * WAL part of one persist may overlap the state store part of the one before.
   */
  persist<T>(
    w: PersistRequest,
    also: ((tx: WriteTxn) => T) | undefined,
    onDurable?: () => void,
  ): Promise<T | undefined> {
    this.stale = true;
    const frames: Uint8Array[] = [];
    const lasts: FrameContent[] = [];
    const lastEntry = w.entries[w.entries.length - 1];
    if (lastEntry) {
      frames.push(this.o.entriesFrames?.frameFor(w.entries) ?? encodeEntriesFrame(this.o.hp, w.entries));
      lasts.push({ first: (w.entries[0] as Entry).index, last: lastEntry.index });
    }
    if (w.hardState) {
      frames.push(hardStateFrame(this.o.hp, w.hardState));
      lasts.push('hard');
    }
    const sync = w.sync || w.snapshot !== undefined;
    const appendFrames = async () => {
      if (frames.length > 0) {
        this.noteAppended(lasts, await this.wal.append(frames, sync));
        if (w.hardState) this.hasHardState = true;
      }
    };
    let result: Promise<T | undefined>;
    if (w.snapshot) {
      const snap = w.snapshot;
      result = this.allTail.then(async () => {
        const r = await this.o.store.write((tx) => {
          storeLeaderSnapshot(tx, snap);
          return also?.(tx);
        }, 'durable');
        this.frames.clear();
        await appendFrames();
        onDurable?.();
        return r;
      });
      this.walTail = result.catch(() => undefined);
      this.stateIssued = this.walTail;
    } else {
      // Without a sync due, the WAL write holds only a hard state whose term and vote are already
      // on disk (a Ready with entries, or a new term or vote, must sync): the commit index it
      // carries is recovered as at least the applied index, so a write that finds no room is
      // skipped rather than stop the state write, which need not wait for it.
      const appendOptional = async () => {
        try {
          await appendFrames();
        } catch (err) {
          if (!(err instanceof DiskFullError)) throw err;
          this.o.logger.warn('a hard state was not written for want of space (no sync was due)', {
            error: err.message,
          });
        }
      };
      const walDone = this.walTail.then(sync ? appendFrames : appendOptional).then(() => onDurable?.());
      this.walTail = walDone.catch(() => undefined);
      // The state store writes go in call order. One applying entries waits for this Ready's
      // sync (its entries may be among them); one without a sync (no entries: it applies entries
      // an earlier Ready synced) need not wait for its own WAL write, which promises nothing.
      const gate = sync ? Promise.all([walDone, this.stateIssued]) : this.stateIssued;
      let issued!: () => void;
      this.stateIssued = new Promise<void>((resolve) => (issued = resolve));
      const applied = gate.then(
        () => {
          const write = also ? this.o.store.write(also, 'committed') : undefined;
          issued();
          return write;
        },
        (err: unknown) => {
          issued();
          throw err;
        },
      );
      result = Promise.all([walDone, applied]).then(([, r]) => r);
    }
    this.allTail = result.catch(() => undefined);
    return result;
  }

  /**
   * Keeps a compaction snapshot in the state store (durably); then deletes the WAL segments whose
   * entries it all covers, keeping the one with the last hard state.
   */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    if (!(await keepCompactionSnapshot(this.o.store, snapshot))) return;
    const segments = this.wal.segmentNumbers();
    let keep = segments[segments.length - 1] as number;
    for (const s of segments) {
      if ((this.segmentMax.get(s) ?? 0) > snapshot.meta.index) {
        keep = Math.min(keep, s);
        break;
      }
    }
    if (this.hardStateSegment !== undefined) keep = Math.min(keep, this.hardStateSegment);
    const removed = await this.wal.removeBefore(keep);
    for (const s of [...this.segmentMax.keys()]) if (s < keep) this.segmentMax.delete(s);
    this.frames.dropThrough(snapshot.meta.index);
    if (removed > 0) this.o.logger.info('WAL segments deleted', { removed, snapshot: snapshot.meta.index });
  }

  /** Number of WAL segment files (for tests and metrics). */
  segmentCount(): number {
    return this.wal.segmentNumbers().length;
  }

  /** Waits for writes under way, then closes the WAL. */
  async close(): Promise<void> {
    await this.allTail;
    await this.wal.close();
  }

  /**
   * Reads entries [lo, hi) back from the WAL (LogEntrySource), for the Raft log once they left
   * its memory: at least one, then up to `maxBytes`. Throws CorruptError when one is not in the
   * WAL or its frame no longer passes its check, StorageError when a segment cannot be read.
   */
  read(lo: number, hi: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    let next = lo;
    while (next < hi) {
      const found = this.frames.find(next);
      if (!found) throw new CorruptError(`raft log entry ${next} is not in the WAL`);
      const { entries } = decodeEntriesFrame(this.o.hp, this.wal.readSync(found.pos));
      for (const e of entries) {
        if (e.index < next) continue;
        if (e.index >= hi || e.index > found.last) break;
        if (e.index !== next) throw new CorruptError(`WAL frame at ${found.pos.offset} lacks raft log entry ${next}`);
        bytes += entrySize(e);
        if (out.length > 0 && bytes > maxBytes) return out;
        out.push(e);
        next++;
      }
      if (next <= found.last && next < hi)
        throw new CorruptError(`WAL frame at ${found.pos.offset} lacks raft log entry ${next}`);
    }
    return out;
  }

  /** Number of entries frames the index of the log holds (for tests). */
  indexedFrames(): number {
    return this.frames.size;
  }

  /** Records where appended frames went: per frame, the entries it holds, or 'hard' for a hard state record. */
  private noteAppended(contents: readonly FrameContent[], positions: readonly WalPosition[]): void {
    contents.forEach((c, i) => {
      const pos = positions[i] as WalPosition;
      if (c === 'hard') {
        this.hardStateSegment = pos.segment;
        return;
      }
      this.segmentMax.set(pos.segment, Math.max(this.segmentMax.get(pos.segment) ?? 0, c.last));
      this.frames.add(c.first, c.last, pos);
    });
  }
}
