import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertySeed } from '../../testing/kv-arbitraries.js';
import { CorruptError } from '../errors.js';
import { RaftLog } from './log.js';
import { type Entry, type LogEntrySource, type Snapshot, entrySize } from './types.js';

const CONF = { voters: ['a'], learners: [] };
const snap = (index: number, term: number): Snapshot => ({ meta: { index, term, conf: CONF }, data: new Uint8Array() });
const entry = (index: number, term: number, bytes = 10): Entry => ({
  index,
  term,
  type: 'normal',
  data: new Uint8Array(bytes).fill(index & 0xff),
});

/** A log storage model: what was persisted, by index (later writes replace from their first index on). */
class ModelStorage implements LogEntrySource {
  readonly stored = new Map<number, Entry>();
  reads = 0;
  persist(entries: readonly Entry[]): void {
    const first = entries[0];
    if (!first) return;
    for (const i of [...this.stored.keys()]) if (i >= first.index) this.stored.delete(i);
    for (const e of entries) this.stored.set(e.index, e);
  }
  read(lo: number, hi: number, maxBytes: number): Entry[] {
    this.reads++;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.stored.get(i);
      if (!e) throw new CorruptError(`entry ${i} not stored`);
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }
}

/** Persists what `log` has not persisted yet into `storage` and marks it durable. */
function persistAll(log: RaftLog, storage: ModelStorage): void {
  storage.persist(log.unstable());
  log.stable = log.lastIndex();
  log.durable = log.lastIndex();
  log.evict();
}

type Op =
  | { kind: 'append'; back: number; count: number; newTerm: boolean; bytes: number }
  | { kind: 'persist' }
  | { kind: 'commit'; by: number }
  | { kind: 'apply' }
  | { kind: 'compact'; back: number }
  | { kind: 'restore'; ahead: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      back: fc.nat(4),
      count: fc.integer({ min: 1, max: 6 }),
      newTerm: fc.boolean(),
      bytes: fc.nat(40),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ kind: 'persist' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('commit' as const), by: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'apply' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restore' as const), ahead: fc.integer({ min: 1, max: 5 }) }) },
);

describe('RaftLog', () => {
  it('keeps a bounded suffix in memory and answers like a log that keeps everything', () => {
    fc.assert(
      fc.property(fc.nat(300), fc.array(opArb, { maxLength: 80 }), (maxBytes, ops) => {
        const storage = new ModelStorage();
        const base = snap(0, 0);
        const full = new RaftLog(base, [], 0, 0);
        const bounded = new RaftLog(base, [], 0, 0, { source: storage, maxBytes });
        const fullStore = new ModelStorage();
        let term = 1;
        for (const op of ops) {
          for (const log of [full, bounded]) {
            switch (op.kind) {
              case 'append': {
                const first = Math.max(log.committed + 1, log.lastIndex() + 1 - op.back);
                const t = log === full && op.newTerm ? ++term : term;
                log.append(Array.from({ length: op.count }, (_, i) => entry(first + i, t, op.bytes)));
                break;
              }
              case 'persist':
                persistAll(log, log === full ? fullStore : storage);
                break;
              case 'commit':
                log.commitTo(Math.min(log.durable, log.committed + op.by));
                break;
              case 'apply':
                log.applied = log.committed;
                log.evict();
                break;
              case 'compact': {
                const at = Math.max(log.snapshot.meta.index, log.applied - op.back);
                if (at > log.snapshot.meta.index) log.compact(snap(at, log.term(at) as number));
                break;
              }
              case 'restore': {
                const at = log.lastIndex() + op.ahead;
                if (log === full) term++;
                log.restore(snap(at, term));
                log.applied = at;
                log.durable = at;
                log.stable = at;
                break;
              }
            }
          }
          expect(bounded.lastIndex()).toBe(full.lastIndex());
          expect(bounded.committed).toBe(full.committed);
          for (let i = full.snapshot.meta.index; i <= full.lastIndex() + 1; i++) {
            expect(bounded.term(i)).toBe(full.term(i));
            const want = full.slice(i, full.lastIndex() + 1, 60) ?? [];
            const got = bounded.slice(i, full.lastIndex() + 1, 60) ?? [];
            // A slice read from the source may stop where memory begins, never sooner than one entry.
            expect(got.length).toBeLessThanOrEqual(want.length);
            if (want.length > 0) expect(got.length).toBeGreaterThan(0);
            expect(got.map((e) => [e.index, e.term])).toEqual(want.slice(0, got.length).map((e) => [e.index, e.term]));
          }
          // The bound holds unless what is in memory is not yet applied or not yet durable.
          const held = bounded.inMemory();
          const firstHeld = bounded.lastIndex() - held.entries + 1;
          if (held.bytes > maxBytes) expect(firstHeld).toBeGreaterThan(Math.min(bounded.applied, bounded.durable));
          expect(bounded.unstable().map((e) => e.index)).toEqual(full.unstable().map((e) => e.index));
          expect(bounded.nextCommitted(Infinity).map((e) => e.index)).toEqual(
            full.nextCommitted(Infinity).map((e) => e.index),
          );
        }
      }),
      { seed: propertySeed('raft log memory bound'), numRuns: 300 },
    );
  });

  it('reads evicted entries from the source and keeps their terms without it', () => {
    const storage = new ModelStorage();
    const log = new RaftLog(snap(0, 0), [], 0, 0, { source: storage, maxBytes: 3 * entrySize(entry(1, 1)) });
    log.append([1, 2, 3, 4, 5].map((i) => entry(i, 1)));
    log.append([6, 7, 8, 9, 10].map((i) => entry(i, 2)));
    persistAll(log, storage);
    log.commitTo(10);
    log.applied = 10;
    log.evict();
    expect(log.inMemory().entries).toBe(3);
    const reads = storage.reads;
    expect(log.term(5)).toBe(1);
    expect(log.term(6)).toBe(2);
    expect(storage.reads).toBe(reads);
    expect(log.slice(2, 11)?.map((e) => e.index)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(storage.reads).toBe(reads + 1);
    expect(log.slice(8, 11)?.map((e) => e.index)).toEqual([8, 9, 10]);
    expect(storage.reads).toBe(reads + 1);
    // Compacting inside the evicted part keeps the terms after it.
    log.compact(snap(5, 1));
    expect(log.term(5)).toBe(1);
    expect(log.term(6)).toBe(2);
    expect(log.slice(5, 11)).toBeUndefined();
  });

  it('keeps entries not yet durable or not yet applied in memory', () => {
    const storage = new ModelStorage();
    const log = new RaftLog(snap(0, 0), [], 0, 0, { source: storage, maxBytes: 0 });
    log.append([1, 2, 3].map((i) => entry(i, 1)));
    log.evict();
    expect(log.inMemory().entries).toBe(3);
    persistAll(log, storage);
    expect(log.inMemory().entries).toBe(3);
    log.commitTo(2);
    log.applied = 2;
    log.evict();
    expect(log.inMemory().entries).toBe(1);
    expect(log.unstable()).toEqual([]);
    expect(log.nextCommitted(Infinity)).toEqual([]);
  });
});
