import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { META_TABLE } from '../core/fsm/meta.js';
import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import type { Snapshot } from '../core/raft/types.js';
import { LmdbStateStore } from './lmdb-store.js';
import { logKey, RAFT_LOG_TABLE, RAFT_META_TABLE, RaftStorage } from '../core/replication/storage.js';
import { cleanupAll, tempDir } from '../testing/spawn-server.js';
import { logStorageContract, type LogStorageUnderTest, testEntries } from '../core/replication/log-storage.contract.js';

afterAll(cleanupAll);

const hp = createTsHotPaths();
const TABLES = [META_TABLE, RAFT_LOG_TABLE, RAFT_META_TABLE];
const range = (from: number, to: number) => testEntries(from, to);
const snapshotAt = (index: number): Snapshot => ({
  meta: { index, term: 1, conf: { voters: ['a'], learners: [] } },
  data: new Uint8Array([1, 2, 3]),
});
const stored = (store: LmdbStateStore) => store.read((tx) => [...tx.range(RAFT_LOG_TABLE)].map(([k]) => Number(k)));
const nothing = () => undefined;

/** A new LMDB file with a loaded (empty) RaftStorage on it. */
function fresh(): { file: string; store: LmdbStateStore; storage: RaftStorage } {
  const file = join(tempDir(), 'state.mdb');
  const store = new LmdbStateStore(file, TABLES);
  const storage = new RaftStorage(store, hp);
  storage.load();
  return { file, store, storage };
}

/** RaftStorage on the LMDB file `file`, loaded; reopened on a new store over the same file. */
function onLmdb(file: string): LogStorageUnderTest {
  const store = new LmdbStateStore(file, TABLES);
  const storage = new RaftStorage(store, hp);
  storage.load();
  return {
    storage,
    store,
    reopen: async () => {
      await store.close();
      return onLmdb(file);
    },
    close: () => store.close(),
  };
}

logStorageContract('RaftStorage on LMDB', async () => onLmdb(join(tempDir(), 'state.mdb')));

/** Persists entries `from..to` of term 1 with a hard state (synced). */
const write = (storage: RaftStorage, from: number, to: number, commit: number) =>
  storage.persist(
    { hardState: { term: 1, vote: undefined, commit }, entries: range(from, to), snapshot: undefined, sync: true },
    nothing,
  );

describe('RaftStorage', () => {
  it('stores a large compaction snapshot in pieces and keeps the newest when saves overlap', async () => {
    const f = fresh();
    await write(f.storage, 1, 20, 20);
    const big = (index: number): Snapshot => ({
      ...snapshotAt(index),
      data: new Uint8Array(2.5 * 1024 * 1024).map((_, i) => (i * 7 + index) & 0xff),
    });
    // The newer save is issued second but both run together; the older one must not win.
    await Promise.all([f.storage.saveSnapshot(big(10)), f.storage.saveSnapshot(big(15))]);
    await f.storage.saveSnapshot(big(12));
    f.storage.load();
    const pieces = f.store.read((tx) => [...tx.range(RAFT_META_TABLE, { prefix: 'snapshot/' })].map(([k]) => k));
    expect(pieces).toHaveLength(3);
    expect(pieces.every((k) => k.startsWith(`snapshot/${logKey(15)}/`))).toBe(true);
    await f.store.close();
    const again = new RaftStorage(new LmdbStateStore(f.file, TABLES), hp);
    const init = again.load();
    expect(init.snapshot?.meta.index).toBe(15);
    expect(init.snapshot?.data).toEqual(big(15).data);
  });

  it('drops a compacted log prefix a bounded slice per write, and reloads only the tail', async () => {
    const f = fresh();
    const { file, storage } = f;
    let store = f.store;
    await write(storage, 1, 1000, 1000);
    await storage.saveSnapshot(snapshotAt(900));
    // Compaction itself deletes nothing.
    expect(stored(store)).toHaveLength(1000);
    await storage.persist(
      { hardState: undefined, entries: range(1001, 1001), snapshot: undefined, sync: true },
      nothing,
    );
    // One write deletes the first 256 covered entries.
    expect(stored(store)).toEqual(range(257, 1001).map((e) => e.index));
    for (let i = 0; i < 5; i++)
      await storage.persist(
        { hardState: { term: 1, vote: 'a', commit: 1001 + i }, entries: [], snapshot: undefined, sync: false },
        nothing,
      );
    expect(stored(store)).toEqual(range(901, 1001).map((e) => e.index));

    // A restart in the middle of trimming sees the snapshot and the tail only.
    await storage.saveSnapshot(snapshotAt(950));
    await store.close();
    store = new LmdbStateStore(file, TABLES);
    const again = new RaftStorage(store, hp);
    const init = again.load();
    expect(init.snapshot?.meta.index).toBe(950);
    expect((init.entries ?? []).map((e) => e.index)).toEqual(range(951, 1001).map((e) => e.index));
    // ...and goes on trimming what the old compaction left.
    await again.persist(
      { hardState: { term: 1, vote: 'a', commit: 1001 }, entries: [], snapshot: undefined, sync: true },
      nothing,
    );
    expect(stored(store)[0]).toBe(951);
    await store.close();
  });

  it('replaces the whole log with a snapshot from the leader, in the same transaction as the caller', async () => {
    const { store, storage } = fresh();
    await write(storage, 1, 20, 10);
    const result = await storage.persist(
      { hardState: { term: 2, vote: undefined, commit: 500 }, entries: [], snapshot: snapshotAt(500), sync: true },
      (tx) => {
        tx.put(META_TABLE, 'probe', 'written with the snapshot');
        return 'done';
      },
    );
    expect(result).toBe('done');
    expect(stored(store)).toEqual([]);
    expect(store.read((tx) => tx.get(META_TABLE, 'probe'))).toBe('written with the snapshot');
    await storage.persist({ hardState: undefined, entries: range(501, 503), snapshot: undefined, sync: true }, nothing);
    expect(stored(store)).toEqual([501, 502, 503]);
    await store.close();
  });

  it('keeps writes in flight in order: a later one replaces what an earlier one is still writing', async () => {
    const { file, store, storage } = fresh();
    const a = write(storage, 1, 10, 0);
    const b = storage.persist(
      {
        hardState: { term: 2, vote: undefined, commit: 0 },
        entries: testEntries(8, 9, 2),
        snapshot: undefined,
        sync: true,
      },
      nothing,
    );
    await Promise.all([a, b]);
    await store.close();
    const reopened = new LmdbStateStore(file, TABLES);
    const again = new RaftStorage(reopened, hp).load();
    expect((again.entries ?? []).map((e) => `${e.index}/${e.term}`)).toEqual([
      ...range(1, 7).map((e) => `${e.index}/1`),
      '8/2',
      '9/2',
    ]);
    await reopened.close();
  });

  const title =
    'does not read entries a snapshot covers: a damaged one there does not stop a restart, one in the tail does';
  it(title, async () => {
    const f = fresh();
    const { file, storage } = f;
    let store = f.store;
    await write(storage, 1, 10, 10);
    await storage.saveSnapshot(snapshotAt(8));
    await store.write((tx) => tx.put(RAFT_LOG_TABLE, logKey(3), new Uint8Array([1, 2, 3])));
    await store.close();
    store = new LmdbStateStore(file, TABLES);
    expect((new RaftStorage(store, hp).load().entries ?? []).map((e) => e.index)).toEqual([9, 10]);
    await store.write((tx) => tx.put(RAFT_LOG_TABLE, logKey(9), new Uint8Array([1, 2, 3])));
    expect(() => new RaftStorage(store, hp).load()).toThrow(/damaged|frame|CRC|corrupt/i);
    await store.close();
  });
});
