import { describe, expect, it } from 'vitest';
import { META_TABLE } from '../fsm/meta.js';
import type { StateStore } from '../ports/state-store.js';
import type { Entry, HardState, Snapshot } from '../raft/types.js';
import type { LogStorage } from './storage.js';

/** A LogStorage under test, with the state store under it. */
export interface LogStorageUnderTest {
  readonly storage: LogStorage;
  /** The state machine's store (it holds META_TABLE), where `also` writes. */
  readonly store: StateStore;
  /** The same data opened again, as after a restart (this one is closed first). */
  reopen(): Promise<LogStorageUnderTest>;
  close(): Promise<void>;
}

/**
 * A normal entry for storage tests: `bytes` of data (at least 2), its index's low byte, its term's
 * low byte, then the index's low byte repeated.
 */
export function testEntry(index: number, term = 1, bytes = 2): Entry {
  const data = new Uint8Array(Math.max(2, bytes)).fill(index & 0xff);
  data[1] = term & 0xff;
  return { index, term, type: 'normal', data };
}

/** testEntry for each index from `from` to `to`, inclusive. */
export function testEntries(from: number, to: number, term = 1, bytes = 2): Entry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => testEntry(from + i, term, bytes));
}

const range = (from: number, to: number, term = 1) => testEntries(from, to, term);
const hard = (term: number, commit: number, vote?: string): HardState => ({ term, vote, commit });
const snapshotAt = (index: number, term = 1): Snapshot => ({
  meta: { index, term, conf: { voters: ['a'], learners: [] } },
  data: new Uint8Array([9, index & 0xff]),
});
const nothing = () => undefined;
/** Entries as plain values (a store may give the data back as a Uint8Array subclass). */
const plain = (entries: readonly Entry[] | undefined) =>
  (entries ?? []).map((e) => ({ index: e.index, term: e.term, type: e.type, data: [...e.data] }));
const ids = (init: { entries?: readonly Entry[] }) => (init.entries ?? []).map((e) => `${e.index}/${e.term}`);

/**
 * The LogStorage contract (see LogStorage): every implementation the RaftDriver runs on (the
 * StateStore one on LMDB and in the simulator, and any other) must pass it. `open` gives a fresh,
 * empty storage, already loaded.
 */
export function logStorageContract(name: string, open: () => Promise<LogStorageUnderTest>): void {
  describe(`LogStorage contract: ${name}`, () => {
    it('gives back the entries and hard state it persisted, after a restart', async () => {
      let s = await open();
      expect(s.storage.hasState()).toBe(false);
      await s.storage.persist(
        { hardState: hard(1, 0, 'a'), entries: range(1, 3), snapshot: undefined, sync: true },
        nothing,
      );
      await s.storage.persist(
        { hardState: hard(1, 3, 'a'), entries: range(4, 5), snapshot: undefined, sync: false },
        nothing,
      );
      s = await s.reopen();
      const init = s.storage.load();
      expect(s.storage.hasState()).toBe(true);
      expect(init.hardState).toEqual(hard(1, 3, 'a'));
      expect(plain(init.entries)).toEqual(plain(range(1, 5)));
      expect(init.lastIndex).toBe(5);
      await s.close();
    });

    it('loads what was persisted before the first load, without a restart (a bootstrap)', async () => {
      const s = await open();
      await s.storage.persist(
        { hardState: hard(1, 1, 'a'), entries: range(1, 1), snapshot: undefined, sync: true },
        nothing,
      );
      const init = s.storage.load();
      expect(init.hardState).toEqual(hard(1, 1, 'a'));
      expect(plain(init.entries)).toEqual(plain(range(1, 1)));
      expect(init.lastIndex).toBe(1);
      expect(s.storage.hasState()).toBe(true);
      await s.close();
    });

    it('calls onDurable before it resolves, in call order, with or without a state machine write', async () => {
      const s = await open();
      const seen: string[] = [];
      const a = s.storage.persist(
        { hardState: hard(1, 0), entries: range(1, 3), snapshot: undefined, sync: true },
        undefined,
        () => seen.push('durable a'),
      );
      const b = s.storage.persist(
        { hardState: hard(1, 3), entries: [], snapshot: undefined, sync: false },
        (tx) => {
          tx.put(META_TABLE, 'probe', 'b');
          return 'b';
        },
        () => seen.push('durable b'),
      );
      void a.then(() => seen.push('resolved a'));
      void b.then(() => seen.push('resolved b'));
      expect(await a).toBeUndefined();
      expect(await b).toBe('b');
      expect(seen.indexOf('durable a')).toBeLessThan(seen.indexOf('resolved a'));
      expect(seen.indexOf('durable b')).toBeLessThan(seen.indexOf('resolved b'));
      expect(seen.indexOf('durable a')).toBeLessThan(seen.indexOf('durable b'));
      expect(s.store.read((tx) => tx.get(META_TABLE, 'probe'))).toBe('b');
      await s.close();
    });

    it('entries at an index it holds replace that entry and every later one', async () => {
      let s = await open();
      await s.storage.persist(
        { hardState: hard(1, 0), entries: range(1, 6), snapshot: undefined, sync: true },
        nothing,
      );
      await s.storage.persist(
        { hardState: hard(2, 0), entries: range(4, 4, 2), snapshot: undefined, sync: true },
        nothing,
      );
      s = await s.reopen();
      expect(ids(s.storage.load())).toEqual(['1/1', '2/1', '3/1', '4/2']);
      await s.close();
    });

    it('keeps writes in flight in call order and returns what `also` returns', async () => {
      let s = await open();
      const a = s.storage.persist(
        { hardState: hard(1, 0), entries: range(1, 10), snapshot: undefined, sync: true },
        (tx) => {
          tx.put(META_TABLE, 'probe', 'first');
          return 'a';
        },
      );
      const b = s.storage.persist(
        { hardState: hard(2, 0), entries: range(8, 9, 2), snapshot: undefined, sync: true },
        (tx) => {
          tx.put(META_TABLE, 'probe', 'second');
          return 'b';
        },
      );
      expect(await Promise.all([a, b])).toEqual(['a', 'b']);
      expect(s.store.read((tx) => tx.get(META_TABLE, 'probe'))).toBe('second');
      s = await s.reopen();
      expect(ids(s.storage.load())).toEqual([...range(1, 7).map((e) => `${e.index}/1`), '8/2', '9/2']);
      expect(s.storage.load().hardState).toEqual(hard(2, 0));
      await s.close();
    });

    it("replaces the whole log with a leader's snapshot, in the same write as `also`", async () => {
      let s = await open();
      await s.storage.persist(
        { hardState: hard(1, 10), entries: range(1, 20), snapshot: undefined, sync: true },
        nothing,
      );
      const done = await s.storage.persist(
        { hardState: hard(2, 500), entries: [], snapshot: snapshotAt(500, 2), sync: true },
        (tx) => {
          tx.put(META_TABLE, 'probe', 'with the snapshot');
          return 'done';
        },
      );
      expect(done).toBe('done');
      await s.storage.persist(
        { hardState: undefined, entries: range(501, 503, 2), snapshot: undefined, sync: true },
        nothing,
      );
      s = await s.reopen();
      const init = s.storage.load();
      expect(init.snapshot?.meta).toEqual(snapshotAt(500, 2).meta);
      expect([...(init.snapshot?.data ?? [])]).toEqual([...snapshotAt(500, 2).data]);
      expect(ids(init)).toEqual(['501/2', '502/2', '503/2']);
      expect(init.lastIndex).toBe(503);
      expect(s.store.read((tx) => tx.get(META_TABLE, 'probe'))).toBe('with the snapshot');
      await s.close();
    });

    it('reads durable entries back, across a restart, a compaction and a leader snapshot', async () => {
      let s = await open();
      const read = (lo: number, hi: number, maxBytes = Infinity) =>
        ids({ entries: s.storage.load().entrySource?.read(lo, hi, maxBytes) ?? [] });
      await s.storage.persist(
        { hardState: hard(1, 0), entries: range(1, 8), snapshot: undefined, sync: true },
        nothing,
      );
      await s.storage.persist(
        { hardState: hard(2, 0), entries: range(5, 12, 2), snapshot: undefined, sync: true },
        nothing,
      );
      await s.storage.persist({ hardState: hard(2, 12), entries: [], snapshot: undefined, sync: false }, nothing);
      const expected = [...range(1, 4).map((e) => `${e.index}/1`), ...range(5, 12).map((e) => `${e.index}/2`)];
      expect(read(1, 13)).toEqual(expected);
      expect(read(3, 7)).toEqual(expected.slice(2, 6));
      // At least one entry, then as many as fit (an entry counts its data and 24 bytes).
      expect(read(2, 13, 1)).toEqual(['2/1']);
      expect(read(2, 13, 2 * 26)).toEqual(['2/1', '3/1']);
      const data = s.storage.load().entrySource?.read(6, 7, Infinity)[0]?.data;
      expect([...(data ?? [])]).toEqual([...testEntry(6, 2).data]);
      s = await s.reopen();
      expect(read(1, 13)).toEqual(expected);
      await s.storage.saveSnapshot(snapshotAt(6, 2));
      await s.storage.persist(
        { hardState: hard(2, 14), entries: range(13, 14, 2), snapshot: undefined, sync: true },
        nothing,
      );
      expect(read(7, 15)).toEqual([...expected.slice(6), '13/2', '14/2']);
      await s.storage.persist(
        { hardState: hard(3, 40), entries: [], snapshot: snapshotAt(40, 3), sync: true },
        nothing,
      );
      await s.storage.persist(
        { hardState: undefined, entries: range(41, 43, 3), snapshot: undefined, sync: true },
        nothing,
      );
      expect(read(41, 44)).toEqual(['41/3', '42/3', '43/3']);
      s = await s.reopen();
      expect(read(41, 44)).toEqual(['41/3', '42/3', '43/3']);
      await s.close();
    });

    it('starts from the newest compaction snapshot it kept and skips the entries it covers', async () => {
      let s = await open();
      await s.storage.persist(
        { hardState: hard(1, 30), entries: range(1, 30), snapshot: undefined, sync: true },
        nothing,
      );
      await s.storage.saveSnapshot(snapshotAt(20));
      // An older snapshot saved later does not replace the newer one.
      await s.storage.saveSnapshot(snapshotAt(12));
      await s.storage.persist(
        { hardState: hard(1, 31), entries: range(31, 31), snapshot: undefined, sync: true },
        nothing,
      );
      s = await s.reopen();
      const init = s.storage.load();
      expect(init.snapshot?.meta).toEqual(snapshotAt(20).meta);
      expect([...(init.snapshot?.data ?? [])]).toEqual([...snapshotAt(20).data]);
      expect(ids(init)).toEqual(range(21, 31).map((e) => `${e.index}/1`));
      expect(init.hardState).toEqual(hard(1, 31));
      await s.close();
    });
  });
}
