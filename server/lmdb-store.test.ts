import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONTRACT_TABLES, stateStoreContract } from '../core/ports/state-store.contract.js';
import { cleanupAll, tempDir } from '../testing/spawn-server.js';
import { CachedTablesStore } from '../core/store/cached-tables.js';
import { WriteBehindStore } from '../core/store/write-behind.js';
import { LmdbStateStore } from './lmdb-store.js';

afterAll(cleanupAll);
const files = new WeakMap<object, string>();

stateStoreContract(
  'lmdb',
  async () => {
    const file = join(tempDir(), 'state.mdb');
    const s = new LmdbStateStore(file, CONTRACT_TABLES);
    files.set(s, file);
    return s;
  },
  async (s) => {
    await s.close();
    return new LmdbStateStore(files.get(s)!, CONTRACT_TABLES);
  },
);

// What servers run: writes applied in memory, committed to LMDB behind them.
stateStoreContract(
  'write-behind over lmdb',
  async () => {
    const file = join(tempDir(), 'state.mdb');
    const s = new WriteBehindStore(new LmdbStateStore(file, CONTRACT_TABLES), {
      maxKeyBytes: LmdbStateStore.MAX_KEY_BYTES,
    });
    files.set(s, file);
    return s;
  },
  async (s) => {
    await s.close();
    return new LmdbStateStore(files.get(s)!, CONTRACT_TABLES);
  },
);

describe('WriteBehindStore over LMDB', () => {
  it('refuses a key LMDB cannot take in the write that puts it, and keeps serving', async () => {
    const lmdb = new LmdbStateStore(join(tempDir(), 'state.mdb'), CONTRACT_TABLES);
    const store = new WriteBehindStore(lmdb, { maxKeyBytes: LmdbStateStore.MAX_KEY_BYTES });
    const long = 'k'.repeat(LmdbStateStore.MAX_KEY_BYTES + 1);
    await expect(store.write((tx) => tx.put('a', long, 1), 'committed')).rejects.toThrow(/1979 bytes/);
    // The longest key LMDB takes goes through to LMDB, and so do later writes.
    const longest = 'k'.repeat(LmdbStateStore.MAX_KEY_BYTES);
    await store.write((tx) => tx.put('a', longest, 2), 'durable');
    expect(lmdb.read((tx) => tx.get('a', longest))).toBe(2);
    await store.close();
  });
});

describe('CachedTablesStore over LMDB', () => {
  it('keeps every write of a pipeline, durable and committed ones mixed, in call order', async () => {
    // A committed write completes before a durable one called earlier finishes its flush; the
    // cached table must still end with the later value, and each write must read the one before.
    const lmdb = new LmdbStateStore(join(tempDir(), 'state.mdb'), CONTRACT_TABLES);
    const store = new CachedTablesStore(lmdb, ['a']);
    const seen: number[] = [];
    const step = (i: number) =>
      store.write(
        (tx) => {
          seen.push(tx.get<number>('a', 'n') ?? 0);
          tx.put('a', 'n', i);
          tx.put('b', `e${i}`, i);
        },
        i % 3 === 0 ? 'durable' : 'committed',
      );
    const calls: Array<Promise<void>> = [];
    for (let i = 1; i <= 60; i++) {
      calls.push(step(i));
      // Two writes in flight at a time.
      if (calls.length >= 2) await calls[calls.length - 2];
    }
    await Promise.all(calls);
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(store.read((tx) => tx.get('a', 'n'))).toBe(60);
    await lmdb.close();
  });
});
