import { CorruptError } from '../errors.js';
import { type Entry, type LogEntrySource, type Snapshot, entrySize } from './types.js';

/** How a RaftLog may drop entries from memory. */
export interface LogMemory {
  /** Where entries no longer in memory are read back; without it, every entry stays in memory. */
  readonly source: LogEntrySource | undefined;
  /** Bytes (entrySize) of entries kept in memory, beyond those not yet applied or durable. */
  readonly maxBytes: number;
}

const KEEP_ALL: LogMemory = { source: undefined, maxBytes: Infinity };

/**
 * The Raft log as one node sees it: a snapshot (everything up to its index, compacted) followed by
 * entries. Tracks what is committed, applied and persisted ("stable").
 * Invariants: snapshot.index <= applied <= committed <= lastIndex(); durable <= lastIndex();
 * stable <= lastIndex().
 *
 * Entries live in memory from memFirst on. With a LogMemory source, applied and durable entries
 * beyond the memory bound leave memory oldest first (evict()); their terms stay (as runs of
 * equal terms) and their contents are read back from the source when a lagging follower needs
 * them. Entries not yet applied or not yet durable are always in memory.
 */
export class RaftLog {
  snapshot: Snapshot;
  /** Entries from index memFirst, starting at position head (the ones before head are dropped). */
  private mem: Entry[];
  private head = 0;
  private memFirst: number;
  /** Sum of entrySize over the entries in memory. */
  private memBytes = 0;
  /** Terms of the entries in [firstIndex(), memFirst): pairs (first index of a run, its term), ascending. */
  private evictedTerms: number[] = [];
  committed: number;
  applied: number;
  /** Last index handed to the application for persisting (its write may still be in flight). */
  stable: number;
  /**
   * Last index the application reported durable (RawNode.persisted). A leader counts its own log
   * toward commitment only up to here, so it never commits on the strength of a write in flight.
   */
  durable: number;

  constructor(
    snapshot: Snapshot,
    entries: readonly Entry[],
    committed: number,
    applied: number,
    private readonly memory: LogMemory = KEEP_ALL,
  ) {
    this.snapshot = snapshot;
    this.mem = [...entries];
    this.memFirst = snapshot.meta.index + 1;
    for (let i = 0; i < this.mem.length; i++) {
      const e = this.mem[i] as Entry;
      if (e.index !== snapshot.meta.index + 1 + i)
        throw new CorruptError('log entries are not contiguous with the snapshot');
      this.memBytes += entrySize(e);
    }
    this.committed = Math.max(committed, snapshot.meta.index);
    this.applied = Math.max(applied, snapshot.meta.index);
    this.stable = this.lastIndex();
    this.durable = this.lastIndex();
    if (this.committed > this.lastIndex())
      throw new CorruptError(`commit ${committed} is beyond the last log index ${this.lastIndex()}`);
    if (this.applied > this.committed) throw new CorruptError(`applied ${applied} is beyond commit ${this.committed}`);
    this.evict();
  }

  /** Index of the first entry still held (snapshot index + 1). */
  firstIndex(): number {
    return this.snapshot.meta.index + 1;
  }

  lastIndex(): number {
    return this.memFirst + this.mem.length - this.head - 1;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) as number;
  }

  /** Bytes (entrySize) of the entries held in memory, and how many they are. */
  inMemory(): { bytes: number; entries: number } {
    return { bytes: this.memBytes, entries: this.mem.length - this.head };
  }

  /** Term of the entry at `index`; undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    const snap = this.snapshot.meta;
    if (index === snap.index) return snap.term;
    if (index < snap.index || index > this.lastIndex()) return undefined;
    if (index < this.memFirst) return this.evictedTerm(index);
    return (this.mem[this.head + index - this.memFirst] as Entry).term;
  }

  /** The term of an entry no longer in memory, from its run. */
  private evictedTerm(index: number): number {
    const runs = this.evictedTerms;
    let lo = 0;
    let hi = runs.length / 2 - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((runs[mid * 2] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    return runs[lo * 2 + 1] as number;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries in [lo, hi), at most maxBytes (but at least one). Undefined if lo is compacted. A
   * slice starting before the entries in memory is read from the source and ends where memory
   * begins (callers ask again for the rest).
   */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    const end = Math.min(hi, this.lastIndex() + 1);
    if (lo >= end) return [];
    if (lo < this.memFirst) {
      const source = this.memory.source as LogEntrySource;
      return source.read(lo, Math.min(end, this.memFirst), maxBytes);
    }
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < end; i++) {
      const e = this.mem[this.head + i - this.memFirst] as Entry;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * Drops applied, durable entries from memory, oldest first, while those in memory exceed the
   * bound (only with a source to read them back from).
   */
  evict(): void {
    if (!this.memory.source) return;
    const limit = Math.min(this.applied, this.durable);
    const runs = this.evictedTerms;
    while (this.memBytes > this.memory.maxBytes && this.memFirst <= limit) {
      const e = this.mem[this.head] as Entry;
      if (runs.length === 0 || runs[runs.length - 1] !== e.term) runs.push(e.index, e.term);
      this.memBytes -= entrySize(e);
      this.head++;
      this.memFirst++;
    }
    if (this.head >= 1024 && this.head * 2 >= this.mem.length) this.dropHead();
  }

  /** Forgets the array slots before head. */
  private dropHead(): void {
    this.mem = this.mem.slice(this.head);
    this.head = 0;
  }

  /** Appends entries, truncating any existing entries at or after the first new index. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    if (first <= this.committed)
      throw new CorruptError(`cannot overwrite committed entry ${first} (commit ${this.committed})`);
    if (first > this.lastIndex() + 1) throw new CorruptError(`gap: appending ${first} after ${this.lastIndex()}`);
    // first > committed >= applied >= every entry evicted, so the cut is in memory.
    const keep = this.head + first - this.memFirst;
    for (let i = keep; i < this.mem.length; i++) this.memBytes -= entrySize(this.mem[i] as Entry);
    this.mem.length = keep;
    for (const e of entries) {
      this.mem.push(e);
      this.memBytes += entrySize(e);
    }
    this.stable = Math.min(this.stable, first - 1);
    this.durable = Math.min(this.durable, first - 1);
    this.evict();
  }

  /** Index of the first entry in `entries` that conflicts with or extends the log; 0 if none. */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term` (or the snapshot index): where a leader
   * probing at (index, term) can resume, skipping a whole conflicting term at once.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (; i > this.snapshot.meta.index; i--) {
      const t = this.term(i) as number;
      if (t <= term) return { index: i, term: t };
    }
    return { index: this.snapshot.meta.index, term: this.snapshot.meta.term };
  }

  /**
   * Figure 2, AppendEntries receiver rules 2–5: if the log matches (prevIndex, prevTerm), appends
   * what is new, truncating conflicts, and advances commit to min(leaderCommit, last new index).
   * Returns the last new index, or undefined when the log does not match.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    leaderCommit: number,
    entries: readonly Entry[],
  ): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) this.append(entries.slice(conflict - prevIndex - 1));
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** Raises commit to `index` (never lowers it). Invariant: index <= lastIndex. */
  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) throw new CorruptError(`commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Committed entries not yet applied, at most maxBytes (but at least one). */
  nextCommitted(maxBytes: number): Entry[] {
    if (this.committed <= this.applied) return [];
    return this.slice(this.applied + 1, this.committed + 1, maxBytes) ?? [];
  }

  /** Entries not yet persisted by the application. */
  unstable(): Entry[] {
    return this.slice(this.stable + 1, this.lastIndex() + 1) ?? [];
  }

  /** Replaces the whole log by a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    this.mem = [];
    this.head = 0;
    this.memFirst = snapshot.meta.index + 1;
    this.memBytes = 0;
    this.evictedTerms = [];
    this.committed = snapshot.meta.index;
    this.stable = snapshot.meta.index;
    // Not durable until the application reports the snapshot written (persisted()).
    this.durable = Math.min(this.durable, snapshot.meta.index - 1);
  }

  /**
   * Log compaction (§7): keeps `snapshot` as the new base and drops entries up to its index.
   * Invariant: the snapshot index is applied.
   */
  compact(snapshot: Snapshot): void {
    const idx = snapshot.meta.index;
    if (idx <= this.snapshot.meta.index) return;
    if (idx > this.applied) throw new CorruptError(`cannot compact to ${idx}: only ${this.applied} applied`);
    if (this.term(idx) !== snapshot.meta.term)
      throw new CorruptError(`snapshot term ${snapshot.meta.term} does not match entry ${idx}`);
    if (idx >= this.memFirst) {
      for (let i = this.head; i < this.head + idx + 1 - this.memFirst; i++)
        this.memBytes -= entrySize(this.mem[i] as Entry);
      this.mem = this.mem.slice(this.head + idx + 1 - this.memFirst);
      this.head = 0;
      this.memFirst = idx + 1;
      this.evictedTerms = [];
    } else {
      // Keep the runs from the one holding idx + 1 on, that run starting at idx + 1.
      const runs = this.evictedTerms;
      let from = 0;
      while (from + 2 < runs.length && (runs[from + 2] as number) <= idx + 1) from += 2;
      this.evictedTerms = runs.slice(from);
      this.evictedTerms[0] = idx + 1;
    }
    this.snapshot = snapshot;
  }
}
