import { decodeEntriesFrame, encodeEntriesFrame } from '../codec/entries.js';
import { CorruptError } from '../errors.js';
import { readAppliedIndex, readConfState } from '../fsm/meta.js';
import type { HotPaths } from '../ports/hot-paths.js';
import type { ReadTxn, StateStore, WriteTxn } from '../ports/state-store.js';
import type { RaftInit } from '../raft/raft.js';
import { type Entry, type HardState, type LogEntrySource, type Snapshot, entrySize } from '../raft/types.js';
import { copyBytes } from '../util/bytes.js';

/** StateStore tables holding the Raft log and its metadata (next to the state tables, in the same store). */
export const RAFT_LOG_TABLE = 'raft_log';
export const RAFT_META_TABLE = 'raft_meta';

const HARD_STATE = 'hardState';
/** Stale log entries deleted per write after a compaction (bounds the work added to one Ready). */
const TRIM_PER_WRITE = 256;
const SNAPSHOT = 'snapshot';
/** A compaction snapshot's data is stored in pieces of at most this many bytes, one write each. */
const SNAPSHOT_PIECE_BYTES = 1024 * 1024;
const PIECE_PREFIX = 'snapshot/';

function pieceKey(index: number, n: number): string {
  return `${PIECE_PREFIX}${logKey(index)}/${String(n).padStart(8, '0')}`;
}

/** The stored snapshot record: the data inline (from the leader) or in `pieces` rows (compaction). */
interface StoredSnapshot {
  readonly meta: Snapshot['meta'];
  readonly data?: Uint8Array;
  readonly pieces?: number;
}

/** Log keys sort numerically: 16 decimal digits. */
export function logKey(index: number): string {
  return String(index).padStart(16, '0');
}

/** One Ready's durable part, as RaftDriver hands it to its LogStorage. */
export interface PersistRequest {
  readonly hardState: HardState | undefined;
  readonly entries: readonly Entry[];
  /** A snapshot from the leader: it replaces the whole log. */
  readonly snapshot: Snapshot | undefined;
  /** Whether the write must be on disk before it resolves (Ready.mustSync). */
  readonly sync: boolean;
}

/**
 * Where a RaftDriver keeps the Raft log, the hard state and the latest snapshot, next to the state
 * machine's StateStore. The contract every implementation passes is `log-storage.contract.ts`:
 * - `load()` gives back what was persisted: the hard state, the latest snapshot, the entries
 *   after it (entries persisted at an index already held replace it and all after it), the
 *   applied index and membership the state store holds;
 * - `persist(w, also, onDurable)` makes `w` durable no later than it runs `also` (the state
 *   machine applying committed entries, which may be among `w.entries`; undefined when there is
 *   nothing to apply) in a state store transaction, calls `onDurable` once `w` is on disk (synced
 *   when `w.sync`; written otherwise) and before it resolves, resolves with `also`'s result once
 *   both are committed, and keeps writes (and `onDurable` calls) in call order; a snapshot in `w`
 *   is stored in the same state store write as `also` replaces the state (durably), and from
 *   then on, restarts included, the log holds nothing at or below it;
 * - `persist` rejects with DiskFullError only when the same write may be tried again whole once
 *   there is room: nothing of `w` was stored or applied, or (with a snapshot in `w`) what was
 *   stored is stored again the same;
 * - `saveSnapshot(s)` keeps a compaction snapshot (a newer one already kept wins); later loads
 *   start from it and skip the entries it covers.
 */
export interface LogStorage {
  load(): RaftInit & { lastIndex: number };
  /** Whether this data dir already holds Raft state (a restart, not a new server). */
  hasState(): boolean;
  persist<T>(
    w: PersistRequest,
    also: ((tx: WriteTxn) => T) | undefined,
    onDurable?: () => void,
  ): Promise<T | undefined>;
  saveSnapshot(snapshot: Snapshot): Promise<void>;
}

/**
 * The Raft log, hard state and latest snapshot on a StateStore (LMDB on servers, memory in the simulator). Each entry
 * is stored as
 * a CRC32C-checked entries frame, so a corrupted log entry is detected when read. Writes are
 * atomic, and synced before they resolve whenever the Ready requires it (see Ready.mustSync).
 */
export class RaftStorage implements LogStorage, LogEntrySource {
  private lastIndex = 0;
  /**
   * Log entries in [staleFrom, staleTo] are covered by the snapshot but may still be stored:
   * compaction only moves staleTo, and each later write deletes a bounded slice of them, so
   * compacting never stalls the Raft loop with thousands of deletes in one transaction.
   */
  private staleFrom = 1;
  private staleTo = 0;
  /** Settles once every write so far has resolved (so they resolve in call order). */
  private settled: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: StateStore,
    private readonly hp: HotPaths,
  ) {}

  /** Everything RawNode needs to resume: hard state, snapshot, log tail, applied index and membership. */
  load(): RaftInit & { lastIndex: number } {
    return this.store.read((tx) => {
      const { hardState, snapshot, entries: tail, firstStored } = readRaftLog(tx, this.hp);
      const base = snapshot?.meta.index ?? 0;
      this.staleFrom = firstStored !== undefined && firstStored <= base ? firstStored : base + 1;
      this.staleTo = base;
      const applied = readAppliedIndex(tx);
      const conf = readConfState(tx);
      this.lastIndex = tail.length > 0 ? (tail[tail.length - 1] as Entry).index : base;
      return {
        // eslint-disable-next-line no-restricted-syntax -- built once, at start-up
        ...(hardState ? { hardState } : {}),
        ...(snapshot ? { snapshot: { meta: snapshot.meta, data: new Uint8Array(snapshot.data) } } : {}),
        entries: tail,
        applied: Math.max(applied, base),
        ...(conf ? { conf } : snapshot ? { conf: snapshot.meta.conf } : {}),
        entrySource: this,
        lastIndex: this.lastIndex,
      };
    });
  }

  /**
   * Reads durable entries [lo, hi) back from the store (LogEntrySource). Throws CorruptError for
   * a missing or damaged one.
   */
  read(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.store.read((tx) => {
      const out: Entry[] = [];
      let bytes = 0;
      for (let i = lo; i < hi; i++) {
        const frame = tx.get<Uint8Array>(RAFT_LOG_TABLE, logKey(i));
        const e = frame && decodeEntriesFrame(this.hp, frame).entries[0];
        if (!e || e.index !== i) throw new CorruptError(`raft log entry ${i} is missing or damaged`);
        bytes += entrySize(e);
        if (out.length > 0 && bytes > maxBytes) break;
        out.push({ term: e.term, index: e.index, type: e.type, data: copyBytes(e.data) });
      }
      return out;
    });
  }

  /** Whether this data dir already holds Raft state (a restart, not a new server). */
  hasState(): boolean {
    return this.store.read((tx) => tx.get(RAFT_META_TABLE, HARD_STATE) !== undefined);
  }

  /**
   * Persists a Ready's hard state, entries (replacing any at the same or higher index) and
   * snapshot (dropping the log it covers) in one atomic transaction, which also runs `also`
   * (the state machine applying committed entries). Resolves with `also`'s result, after
   * calling `onDurable`, once the transaction is synced to disk when `sync` is set, or once it
   * is committed otherwise.
   * Several writes may be in flight: they run in call order, and the bookkeeping of what the log
   * will hold is updated at call time for the writes queued behind this one.
   */
  persist<T>(
    w: PersistRequest,
    also: ((tx: WriteTxn) => T) | undefined,
    onDurable?: () => void,
  ): Promise<T | undefined> {
    const { hardState, entries, snapshot } = w;
    const frames = entries.map((e) => encodeEntriesFrame(this.hp, [e]));
    const replaceUpTo = this.lastIndex;
    const trimFrom = this.staleFrom;
    const trimTo = Math.min(this.staleTo, trimFrom + TRIM_PER_WRITE - 1);
    this.staleFrom = Math.max(trimFrom, trimTo + 1);
    if (snapshot) {
      this.lastIndex = Math.max(this.lastIndex, snapshot.meta.index);
      this.staleTo = snapshot.meta.index;
      this.staleFrom = snapshot.meta.index + 1;
    }
    const last = entries[entries.length - 1];
    if (last) this.lastIndex = last.index;
    const written = this.store.write(
      (tx) => {
        // A snapshot from the leader replaces the whole log.
        if (snapshot) this.replaceLog(tx, snapshot);
        if (entries.length > 0) {
          const first = (entries[0] as Entry).index;
          for (let i = first; i <= replaceUpTo; i++) tx.delete(RAFT_LOG_TABLE, logKey(i));
          entries.forEach((e, i) => tx.put(RAFT_LOG_TABLE, logKey(e.index), frames[i]));
        }
        if (hardState)
          tx.put(RAFT_META_TABLE, HARD_STATE, {
            term: hardState.term,
            vote: hardState.vote ?? null,
            commit: hardState.commit,
          });
        for (let i = trimFrom; i <= trimTo; i++) tx.delete(RAFT_LOG_TABLE, logKey(i));
        return also?.(tx);
      },
      w.sync ? 'durable' : 'committed',
    );
    // The log and the state commit together: durable and applied at once. A synced write
    // resolves after a later unsynced one, so each waits for the one before it.
    const before = this.settled;
    const result = written.then((r) =>
      before.then(() => {
        onDurable?.();
        return r;
      }),
    );
    this.settled = result.catch(() => undefined);
    return result;
  }

  /**
   * Persists a snapshot made by log compaction, in pieces (keepCompactionSnapshot); once it is
   * durable, the entries it covers are deleted a slice at a time by later writes (they are ignored on load).
   * A snapshot older than the stored one (the leader's, installed meanwhile) is not kept.
   */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    // Only once the record is durable may later writes delete the log entries it covers.
    if (await keepCompactionSnapshot(this.store, snapshot)) this.staleTo = Math.max(this.staleTo, snapshot.meta.index);
  }

  /** Stores a snapshot from the leader and deletes the whole log, which it replaces. */
  private replaceLog(tx: WriteTxn, snapshot: Snapshot): void {
    storeLeaderSnapshot(tx, snapshot);
    const stale: string[] = [];
    for (const [key] of tx.range(RAFT_LOG_TABLE)) stale.push(key);
    for (const key of stale) tx.delete(RAFT_LOG_TABLE, key);
  }
}

/**
 * Keeps a snapshot made by log compaction in RAFT_META_TABLE, unless a newer one is kept already.
 * The data goes in pieces of SNAPSHOT_PIECE_BYTES, a write each, so no single write holds the
 * others up for the whole snapshot; the record naming them is written last and durably. A save
 * that a newer snapshot overtook leaves pieces that no record names: dropped by the record's
 * write (a crash's leftovers by the next save's). Resolves with whether this snapshot is now the
 * kept one (durable).
 */
export async function keepCompactionSnapshot(store: StateStore, snapshot: Snapshot): Promise<boolean> {
  const { index } = snapshot.meta;
  const { data } = snapshot;
  const pieces = Math.ceil(data.length / SNAPSHOT_PIECE_BYTES);
  for (let n = 0; n < pieces; n++) {
    const piece = data.subarray(n * SNAPSHOT_PIECE_BYTES, (n + 1) * SNAPSHOT_PIECE_BYTES);
    await store.write((tx) => tx.put(RAFT_META_TABLE, pieceKey(index, n), piece), 'committed');
  }
  return store.write((tx) => {
    const stored = tx.get<StoredSnapshot>(RAFT_META_TABLE, SNAPSHOT);
    const keep = stored && stored.meta.index >= index ? stored : { meta: snapshot.meta, pieces };
    if (keep !== stored) tx.put(RAFT_META_TABLE, SNAPSHOT, keep);
    // Older pieces are dead; newer ones may belong to a save still running.
    dropPieces(tx, (i) => i < keep.meta.index || (i === index && keep === stored));
    return keep !== stored;
  });
}

/** Stores a snapshot from the leader (data inline) in `tx`, dropping the pieces of older ones. */
export function storeLeaderSnapshot(tx: WriteTxn, snapshot: Snapshot): void {
  tx.put(RAFT_META_TABLE, SNAPSHOT, { meta: snapshot.meta, data: snapshot.data });
  dropPieces(tx, (i) => i <= snapshot.meta.index);
}

/** What the Raft tables hold: hard state, latest snapshot, and the checked log after it. */
export interface StoredRaftLog {
  readonly hardState: HardState | undefined;
  readonly snapshot: Snapshot | undefined;
  /** Entries after the snapshot, contiguous, decoded and checked. */
  readonly entries: readonly Entry[];
  /** The lowest stored log index (entries the snapshot covers may wait to be deleted). */
  readonly firstStored: number | undefined;
}

/**
 * Reads the Raft tables in `tx` without changing anything. Throws CorruptError when an entry
 * fails its checksum, sits under the wrong key or leaves a gap.
 */
export function readRaftLog(tx: ReadTxn, hp: HotPaths): StoredRaftLog {
  const hardState = readHardState(tx);
  const snapshot = readSnapshot(tx);
  const base = snapshot?.meta.index ?? 0;
  // Entries the snapshot covers are only waiting to be deleted: not read, not checked.
  let firstStored: number | undefined;
  for (const [key] of tx.range(RAFT_LOG_TABLE, { limit: 1 })) firstStored = Number(key);
  const entries: Entry[] = [];
  for (const [key, frame] of tx.range<Uint8Array>(RAFT_LOG_TABLE, { start: logKey(base + 1) })) {
    const e = decodeEntriesFrame(hp, frame).entries[0];
    if (!e || Number(key) !== e.index) throw new CorruptError(`raft log entry ${key} is damaged`);
    if (e.index !== base + 1 + entries.length) throw new CorruptError(`raft log has a gap before ${e.index}`);
    entries.push(Object.assign({}, e, { data: copyBytes(e.data) }));
  }
  return {
    hardState,
    snapshot,
    entries,
    firstStored,
  };
}

/** The stored snapshot's meta (without reading its data), or undefined when none is stored. */
export function readSnapshotMeta(tx: ReadTxn): Snapshot['meta'] | undefined {
  return tx.get<StoredSnapshot>(RAFT_META_TABLE, SNAPSHOT)?.meta;
}

/** The stored snapshot, its data joined from its pieces when it has them. Throws CorruptError when one is missing. */
export function readSnapshot(tx: ReadTxn): Snapshot | undefined {
  const stored = tx.get<StoredSnapshot>(RAFT_META_TABLE, SNAPSHOT);
  if (!stored) return undefined;
  if (stored.pieces === undefined) return { meta: stored.meta, data: stored.data ?? new Uint8Array(0) };
  const parts: Uint8Array[] = [];
  let bytes = 0;
  for (let n = 0; n < stored.pieces; n++) {
    const part = tx.get<Uint8Array>(RAFT_META_TABLE, pieceKey(stored.meta.index, n));
    if (!part) throw new CorruptError(`raft snapshot ${stored.meta.index} lacks piece ${n}`);
    parts.push(part);
    bytes += part.length;
  }
  const data = new Uint8Array(bytes);
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.length;
  }
  return { meta: stored.meta, data };
}

/** Deletes the stored snapshot pieces of every snapshot index `dead` says is dead. */
function dropPieces(tx: WriteTxn, dead: (index: number) => boolean): void {
  const stale: string[] = [];
  for (const [key] of tx.range(RAFT_META_TABLE, { prefix: PIECE_PREFIX })) {
    if (dead(Number(key.slice(PIECE_PREFIX.length, PIECE_PREFIX.length + 16)))) stale.push(key);
  }
  for (const key of stale) tx.delete(RAFT_META_TABLE, key);
}

/** The stored hard state (term, vote, commit), or undefined before the first write. */
export function readHardState(tx: ReadTxn): HardState | undefined {
  const hs = tx.get<HardState & { vote: string | null }>(RAFT_META_TABLE, HARD_STATE);
  return hs ? { term: hs.term, vote: hs.vote ?? undefined, commit: hs.commit } : undefined;
}
