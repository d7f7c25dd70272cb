import { afterAll, describe, expect, it, vi } from 'vitest';
import { encodeEntriesFrame } from '../core/codec/entries.js';
import { DiskFullError } from '../core/errors.js';
import { FRAME_KIND } from '../core/hotpaths/frame.js';
import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { silentLogger } from '../core/ports/logger.js';
import { META_TABLE, readAppliedIndex, writeAppliedIndex } from '../core/fsm/meta.js';
import { RAFT_LOG_TABLE, RAFT_META_TABLE } from '../core/replication/storage.js';
import { MemoryStateStore } from '../core/store/memory-store.js';
import type { LogFields } from '../core/ports/logger.js';
import { cleanupAll, tempDir } from '../testing/spawn-server.js';

// The disk "fills up" on demand: writevSync then writes only part of what it is given, as it
// does on a full file system (the rest would fail with ENOSPC).
const disk = vi.hoisted(() => ({ full: false }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    writevSync: (fd: number, buffers: NodeJS.ArrayBufferView[], position?: number) => {
      if (!disk.full) return fs.writevSync(fd, buffers, position);
      const first = buffers[0] as Uint8Array;
      return fs.writeSync(fd, first.subarray(0, Math.max(1, first.length >> 1)), 0, undefined, position);
    },
  };
});
const { Wal } = await import('./wal.js');
const { WalLogStorage } = await import('./wal-log-storage.js');

afterAll(cleanupAll);
const hp = createTsHotPaths();
const frame = (i: number): Uint8Array =>
  new Uint8Array(encodeEntriesFrame(hp, [{ index: i, term: 1, type: 'normal', data: new Uint8Array(20).fill(i) }]));

describe('the WAL on a full disk', () => {
  it('refuses an append it wrote in part with DiskFullError, and takes it again once there is room', async () => {
    const dir = tempDir();
    const open = () =>
      Wal.open({ dir, hp, logger: silentLogger, segmentBytes: 4096, kinds: [FRAME_KIND.entries] }, () => undefined);
    const wal = await open();
    await wal.append([frame(1)], true);
    disk.full = true;
    await expect(wal.append([frame(2)], true)).rejects.toBeInstanceOf(DiskFullError);
    await expect(wal.append([frame(2)], true)).rejects.toThrow(/the disk is full: short write/);
    // Room again: the same append goes where the torn one was, and nothing of it remains.
    disk.full = false;
    const [at] = await wal.append([frame(2)], true);
    const [next] = await wal.append([frame(3)], true);
    expect(next?.offset).toBe((at?.offset ?? 0) + frame(2).length);
    await wal.close();
    const seen: number[] = [];
    const again = await Wal.open(
      { dir, hp, logger: silentLogger, segmentBytes: 4096, kinds: [FRAME_KIND.entries] },
      (r) => seen.push(r.frame[r.frame.length - 1] as number),
    );
    expect(seen).toEqual([1, 2, 3]);
    await again.close();
  });
});

describe('WalLogStorage.persist on a full disk', () => {
  it('refuses a synced write whole, but keeps a state write whose unsynced hard state found no room', async () => {
    disk.full = false;
    const dir = tempDir();
    const store = new MemoryStateStore([META_TABLE, RAFT_LOG_TABLE, RAFT_META_TABLE]);
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (msg: string, _f?: LogFields) => void warnings.push(msg) };
    const storage = await WalLogStorage.open({ dir, store, hp, logger, segmentBytes: 4096 });
    const entry = (i: number) => ({ index: i, term: 1, type: 'normal' as const, data: new Uint8Array(20).fill(i) });
    const apply = (i: number) => (tx: Parameters<typeof writeAppliedIndex>[0]) => {
      writeAppliedIndex(tx, i);
      return i;
    };
    await storage.persist(
      {
        entries: [entry(1), entry(2)],
        hardState: { term: 1, vote: undefined, commit: 0 },
        snapshot: undefined,
        sync: true,
      },
      undefined,
    );

    disk.full = true;
    // Entries must be on disk before they apply: nothing of this write happens.
    let durable = 0;
    await expect(
      storage.persist(
        { entries: [entry(3)], hardState: { term: 1, vote: undefined, commit: 3 }, snapshot: undefined, sync: true },
        apply(3),
        () => durable++,
      ),
    ).rejects.toBeInstanceOf(DiskFullError);
    expect(durable).toBe(0);
    expect(store.read(readAppliedIndex)).toBe(0);
    // Applying entries the disk already holds, with only a new commit index for the WAL (no sync
    // due): the hard state is skipped for want of space, and the apply stands.
    await expect(
      storage.persist(
        { entries: [], hardState: { term: 1, vote: undefined, commit: 2 }, snapshot: undefined, sync: false },
        apply(2),
        () => durable++,
      ),
    ).resolves.toBe(2);
    expect(durable).toBe(1);
    expect(store.read(readAppliedIndex)).toBe(2);
    expect(warnings).toEqual(['a hard state was not written for want of space (no sync was due)']);

    // Room again: the refused write, tried again, goes through; a restart finds all of it.
    disk.full = false;
    await expect(
      storage.persist(
        { entries: [entry(3)], hardState: { term: 1, vote: undefined, commit: 3 }, snapshot: undefined, sync: true },
        apply(3),
        () => durable++,
      ),
    ).resolves.toBe(3);
    await storage.close();
    const again = await WalLogStorage.open({ dir, store, hp, logger: silentLogger, segmentBytes: 4096 });
    const loaded = again.load();
    expect(loaded.entries?.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(loaded.hardState?.commit).toBe(3);
    await again.close();
  });
});
