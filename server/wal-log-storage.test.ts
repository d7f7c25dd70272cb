import { closeSync, copyFileSync, openSync, readdirSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { META_TABLE, readAppliedIndex, writeAppliedIndex } from '../core/fsm/meta.js';
import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { silentLogger } from '../core/ports/logger.js';
import { logStorageContract, type LogStorageUnderTest, testEntries } from '../core/replication/log-storage.contract.js';
import { RAFT_LOG_TABLE, RAFT_META_TABLE, RaftStorage } from '../core/replication/storage.js';
import type { Entry, Snapshot } from '../core/raft/types.js';
import { cleanupAll, tempDir } from '../testing/spawn-server.js';
import { LmdbStateStore } from './lmdb-store.js';
import { WalLogStorage } from './wal-log-storage.js';

afterAll(cleanupAll);

const hp = createTsHotPaths();
const TABLES = [META_TABLE, RAFT_LOG_TABLE, RAFT_META_TABLE];
/** Entries of 100 bytes, so a few fill the small test segments. */
const range = (from: number, to: number, term = 1) => testEntries(from, to, term, 100);
const snapshotAt = (index: number, term = 1): Snapshot => ({
  meta: { index, term, conf: { voters: ['a'], learners: [] } },
  data: new Uint8Array([7, index & 0xff]),
});
/** The one WAL segment file in `dir`. */
function onlySegment(dir: string): string {
  const names = readdirSync(join(dir, 'wal'));
  expect(names).toHaveLength(1);
  return join(dir, 'wal', names[0] as string);
}
/** Where the non-zero bytes of a file end. */
function dataEnd(file: string): number {
  const bytes = readFileSync(file);
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return end;
}
/** Overwrites bytes [from, to) of a file with zeros. */
function zero(file: string, from: number, to: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(to - from), 0, to - from, from);
  } finally {
    closeSync(fd);
  }
}
const indexes = (init: { entries?: readonly Entry[] }) => (init.entries ?? []).map((e) => e.index);

/** A WalLogStorage in `dir` (state.mdb and wal/ under it), with small segments. */
interface WalUnderTest extends LogStorageUnderTest {
  readonly storage: WalLogStorage;
  reopen(): Promise<WalUnderTest>;
}

async function onWal(dir: string, segmentBytes = 4096): Promise<WalUnderTest> {
  const store = new LmdbStateStore(join(dir, 'state.mdb'), TABLES);
  const storage = await WalLogStorage.open({ dir: join(dir, 'wal'), store, hp, logger: silentLogger, segmentBytes });
  return {
    storage,
    store,
    reopen: async () => {
      await storage.close();
      await store.close();
      return onWal(dir, segmentBytes);
    },
    close: async () => {
      await storage.close();
      await store.close();
    },
  };
}

logStorageContract('WalLogStorage (WAL and LMDB)', () => onWal(tempDir()));

/** Persists entries `from..to` (synced) with a hard state committing `commit`, applying up to `applied`. */
const write = (storage: WalLogStorage, from: number, to: number, commit: number, applied?: number) =>
  storage.persist(
    { hardState: { term: 1, vote: 'a', commit }, entries: range(from, to), snapshot: undefined, sync: true },
    (tx) => {
      if (applied !== undefined) writeAppliedIndex(tx, applied);
    },
  );

describe('WalLogStorage', () => {
  it('deletes the segments a durable compaction snapshot covers, and loads from what is left', async () => {
    const dir = tempDir();
    let s = await onWal(dir);
    for (let i = 1; i <= 200; i += 10) await write(s.storage, i, i + 9, i + 9, i + 9);
    const before = s.storage.segmentCount();
    expect(before).toBeGreaterThan(4);
    await s.storage.saveSnapshot(snapshotAt(150));
    const after = s.storage.segmentCount();
    expect(after).toBeLessThan(before);
    // Every segment left holds an entry above the snapshot, or the last hard state.
    s = await s.reopen();
    const init = s.storage.load();
    expect(init.snapshot?.meta.index).toBe(150);
    expect(indexes(init)).toEqual(range(151, 200).map((e) => e.index));
    expect(init.hardState?.commit).toBe(200);
    // Each entry owns its bytes: none keeps the segment it was read from alive.
    for (const e of init.entries ?? []) expect(e.data.buffer.byteLength).toBe(e.data.byteLength);
    expect(readdirSync(join(dir, 'wal')).length).toBe(after);
    await s.close();
  });

  it('reads entries back across segments, after older segments went, and refuses a damaged frame', async () => {
    const dir = tempDir();
    let s = await onWal(dir, 1024);
    for (let i = 1; i <= 120; i += 3) await write(s.storage, i, i + 2, i + 2, i + 2);
    // A new leader's entries replace 100..120 of the old term.
    await s.storage.persist(
      { hardState: { term: 2, vote: 'b', commit: 110 }, entries: range(100, 110, 2), snapshot: undefined, sync: true },
      () => undefined,
    );
    expect(s.storage.segmentCount()).toBeGreaterThan(10);
    const expected = [...range(1, 99), ...range(100, 110, 2)].map((e) => `${e.index}/${e.term}`);
    const read = (lo: number, hi: number) => s.storage.read(lo, hi, Infinity).map((e) => `${e.index}/${e.term}`);
    expect(read(1, 111)).toEqual(expected);
    expect(() => read(111, 112)).toThrow(/entry 111 is not in the WAL/);
    await s.storage.saveSnapshot(snapshotAt(60));
    expect(s.storage.indexedFrames()).toBeLessThan(25);
    expect(read(61, 111)).toEqual(expected.slice(60));
    s = await s.reopen();
    expect(read(61, 111)).toEqual(expected.slice(60));
    // Flip a byte inside the entries of the frame holding entry 70: the read names where.
    const walDir = join(dir, 'wal');
    const names = readdirSync(walDir).sort();
    const entry70 = Buffer.from(range(70, 70)[0]?.data ?? []);
    const file = names.map((n) => join(walDir, n)).find((f) => readFileSync(f).includes(entry70)) as string;
    const at = readFileSync(file).indexOf(entry70);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from([0xee]), 0, 1, at + 5);
    closeSync(fd);
    expect(() => read(70, 71)).toThrow(/WAL segment \w+\.wal at byte \d+: /);
    await s.close();
  });

  it('replays from an older LMDB (a machine crash rolled it back) with every entry it needs', async () => {
    const dir = tempDir();
    let s = await onWal(dir);
    await write(s.storage, 1, 10, 10, 10);
    await s.close();
    copyFileSync(join(dir, 'state.mdb'), join(dir, 'older.mdb'));
    s = await onWal(dir);
    await write(s.storage, 11, 30, 30, 30);
    expect(s.store.read(readAppliedIndex)).toBe(30);
    await s.close();
    copyFileSync(join(dir, 'older.mdb'), join(dir, 'state.mdb'));
    s = await onWal(dir);
    const init = s.storage.load();
    expect(init.applied).toBe(10);
    expect(indexes(init)).toEqual(range(1, 30).map((e) => e.index));
    expect(init.hardState?.commit).toBe(30);
    await s.close();
  });

  it('raises the commit index to what LMDB applied when an unsynced commit record was lost', async () => {
    const dir = tempDir();
    let s = await onWal(dir, 1 << 20);
    await write(s.storage, 1, 10, 4, 4);
    // A commit-only Ready is not synced: a machine crash can lose its record while LMDB keeps its apply.
    await s.storage.persist(
      { hardState: { term: 1, vote: 'a', commit: 8 }, entries: [], snapshot: undefined, sync: false },
      (tx) => writeAppliedIndex(tx, 8),
    );
    await s.close();
    const file = onlySegment(dir);
    const end = dataEnd(file);
    // The last frame is that hard state record: 12 header bytes, 21 of payload with the vote 'a'.
    zero(file, end - 33, end);
    s = await onWal(dir, 1 << 20);
    const init = s.storage.load();
    expect(init.applied).toBe(8);
    expect(init.hardState?.commit).toBe(8);
    await s.close();
  });

  it("keeps what follows a leader's snapshot, and drops entries of the log the snapshot replaced", async () => {
    const dir = tempDir();
    let s = await onWal(dir);
    await write(s.storage, 1, 40, 5);
    // The snapshot is stored, then a crash comes before anything after it reaches the WAL: the old
    // entries above it (term 1, older than the snapshot's term 2) must not come back after it.
    await s.store.write((tx) =>
      tx.put(RAFT_META_TABLE, 'snapshot', { meta: snapshotAt(30, 2).meta, data: new Uint8Array([1]) }),
    );
    s = await s.reopen();
    expect(indexes(s.storage.load())).toEqual([]);
    expect(s.storage.load().lastIndex).toBe(30);
    await s.storage.persist(
      { hardState: { term: 2, vote: 'b', commit: 30 }, entries: range(31, 33, 2), snapshot: undefined, sync: true },
      () => undefined,
    );
    s = await s.reopen();
    expect(indexes(s.storage.load())).toEqual([31, 32, 33]);
    await s.close();
  });

  it('moves a log that LMDB held (a data dir from before the WAL) into the WAL', async () => {
    const dir = tempDir();
    const store = new LmdbStateStore(join(dir, 'state.mdb'), TABLES);
    const old = new RaftStorage(store, hp);
    old.load();
    await old.persist(
      { hardState: { term: 3, vote: 'a', commit: 12 }, entries: range(1, 12, 3), snapshot: undefined, sync: true },
      () => undefined,
    );
    await old.saveSnapshot(snapshotAt(5, 3));
    await store.close();
    let s = await onWal(dir);
    let init = s.storage.load();
    expect(init.hardState).toEqual({ term: 3, vote: 'a', commit: 12 });
    expect(indexes(init)).toEqual(range(6, 12).map((e) => e.index));
    expect(s.store.read((tx) => [...tx.range(RAFT_LOG_TABLE)].length)).toBe(0);
    expect(s.storage.hasState()).toBe(true);
    s = await s.reopen();
    init = s.storage.load();
    expect(indexes(init)).toEqual(range(6, 12).map((e) => e.index));
    expect(init.snapshot?.meta.index).toBe(5);
    await s.close();
  });

  it('recovers every acknowledged entry when the WAL is cut inside its last frame', async () => {
    const dir = tempDir();
    let s = await onWal(dir, 1 << 20);
    await write(s.storage, 1, 5, 5);
    await s.close();
    // Append one more Ready, then tear it: its hard state frame and part of its entries frame go.
    s = await onWal(dir, 1 << 20);
    await write(s.storage, 6, 9, 9);
    await s.close();
    const file = onlySegment(dir);
    truncateSync(file, dataEnd(file) - 60);
    s = await onWal(dir, 1 << 20);
    const init = s.storage.load();
    expect(indexes(init)).toEqual([1, 2, 3, 4, 5]);
    expect(init.hardState?.commit).toBe(5);
    await s.close();
  });
});
