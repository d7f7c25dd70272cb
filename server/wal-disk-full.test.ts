import { afterAll, describe, expect, it, vi } from 'vitest';
import { encodeEntriesFrame } from '../core/codec/entries.js';
import { DiskFullError } from '../core/errors.js';
import { FRAME_KIND } from '../core/hotpaths/frame.js';
import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { silentLogger } from '../core/ports/logger.js';
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
