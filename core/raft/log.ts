import { CorruptError } from '../errors.js';
import { type Entry, type Snapshot, entrySize } from './types.js';

/**
 * The Raft log as one node sees it: a snapshot (everything up to its index, compacted) followed by
 * entries. Tracks what is committed, applied and persisted ("stable").
 * Invariants: snapshot.index <= applied <= committed <= lastIndex(); durable <= lastIndex();
 * stable <= lastIndex().
 */
export class RaftLog {
  snapshot: Snapshot;
  private entries: Entry[];
  committed: number;
  applied: number;
  /** Last index handed to the application for persisting (its write may still be in flight). */
  stable: number;
  /**
   * Last index the application reported durable (RawNode.persisted). A leader counts its own log
   * toward commitment only up to here, so it never commits on the strength of a write in flight.
   */
  durable: number;

  constructor(snapshot: Snapshot, entries: readonly Entry[], committed: number, applied: number) {
    this.snapshot = snapshot;
    this.entries = [...entries];
    for (let i = 0; i < this.entries.length; i++) {
      if ((this.entries[i] as Entry).index !== snapshot.meta.index + 1 + i)
        throw new CorruptError('log entries are not contiguous with the snapshot');
    }
    this.committed = Math.max(committed, snapshot.meta.index);
    this.applied = Math.max(applied, snapshot.meta.index);
    this.stable = this.lastIndex();
    this.durable = this.lastIndex();
    if (this.committed > this.lastIndex())
      throw new CorruptError(`commit ${committed} is beyond the last log index ${this.lastIndex()}`);
    if (this.applied > this.committed) throw new CorruptError(`applied ${applied} is beyond commit ${this.committed}`);
  }

  /** Index of the first entry still held (snapshot index + 1). */
  firstIndex(): number {
    return this.snapshot.meta.index + 1;
  }

  lastIndex(): number {
    return this.snapshot.meta.index + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) as number;
  }

  /** Term of the entry at `index`; undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    const snap = this.snapshot.meta;
    if (index === snap.index) return snap.term;
    if (index < snap.index || index > this.lastIndex()) return undefined;
    return (this.entries[index - snap.index - 1] as Entry).term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi), at most maxBytes (but at least one). Undefined if lo is compacted. */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi && i <= this.lastIndex(); i++) {
      const e = this.entries[i - this.firstIndex()] as Entry;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Appends entries, truncating any existing entries at or after the first new index. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    if (first <= this.committed)
      throw new CorruptError(`cannot overwrite committed entry ${first} (commit ${this.committed})`);
    if (first > this.lastIndex() + 1) throw new CorruptError(`gap: appending ${first} after ${this.lastIndex()}`);
    this.entries.length = first - this.firstIndex();
    for (const e of entries) this.entries.push(e);
    this.stable = Math.min(this.stable, first - 1);
    this.durable = Math.min(this.durable, first - 1);
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
    this.entries = [];
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
    this.entries = this.entries.slice(idx - this.snapshot.meta.index);
    this.snapshot = snapshot;
  }
}
