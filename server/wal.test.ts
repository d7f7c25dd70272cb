import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptError } from '../core/errors.js';
import { encodeEntriesFrame } from '../core/codec/entries.js';
import { FRAME_KIND } from '../core/hotpaths/frame.js';
import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import type { Logger } from '../core/ports/logger.js';
import { cleanupAll, tempDir } from '../testing/spawn-server.js';
import { Wal, type WalPosition, type WalRecord } from './wal.js';

afterAll(cleanupAll);

const hp = createTsHotPaths();

/** A logger that keeps its warnings. */
function recordingLogger(): Logger & { warnings: Array<[string, Record<string, unknown> | undefined]> } {
  const warnings: Array<[string, Record<string, unknown> | undefined]> = [];
  const logger = {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    warn: (msg: string, fields?: Record<string, unknown>) => void warnings.push([msg, fields]),
    error: () => undefined,
    child: () => logger,
  };
  return logger as unknown as Logger & { warnings: typeof warnings };
}

/** An entries frame for index `i`, with `i % 50` bytes of data (frames of varied lengths). */
const frame = (i: number): Uint8Array =>
  new Uint8Array(
    encodeEntriesFrame(hp, [{ index: i, term: 1, type: 'normal', data: new Uint8Array(i % 50).fill(i & 0xff) }]),
  );

async function openWal(dir: string, segmentBytes: number, logger: Logger = recordingLogger()) {
  const records: Array<Omit<WalRecord, 'frame'> & { frame: Uint8Array }> = [];
  const wal = await Wal.open({ dir, hp, logger, segmentBytes, kinds: [FRAME_KIND.entries] }, (r) =>
    records.push({ ...r, frame: new Uint8Array(r.frame) }),
  );
  return { wal, records };
}

/** Appends frames 1..n, `perAppend` at a time, every append synced. */
async function filled(dir: string, n: number, segmentBytes: number, perAppend = 3): Promise<WalPosition[]> {
  const { wal } = await openWal(dir, segmentBytes);
  const positions: WalPosition[] = [];
  for (let i = 1; i <= n; i += perAppend) {
    const batch = Array.from({ length: Math.min(perAppend, n - i + 1) }, (_, k) => frame(i + k));
    positions.push(...(await wal.append(batch, true)));
  }
  await wal.close();
  return positions;
}

const segmentFiles = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();

describe('WAL', () => {
  it('gives back every frame in order across segments and reopenings, and reads one back by position', async () => {
    const dir = tempDir();
    const positions = await filled(dir, 40, 512);
    expect(segmentFiles(dir).length).toBeGreaterThan(2);
    const { wal, records } = await openWal(dir, 512);
    expect(records.map((r) => r.frame)).toEqual(Array.from({ length: 40 }, (_, i) => frame(i + 1)));
    expect(records.map(({ segment, offset, length }) => ({ segment, offset, length }))).toEqual(positions);
    expect(wal.readSync(positions[17] as WalPosition)).toEqual(frame(18));
    // Appends continue after the last frame, in the last segment, which reads back too.
    const [at41] = await wal.append([frame(41)], true);
    expect(wal.readSync(at41 as WalPosition)).toEqual(frame(41));
    expect(() =>
      wal.readSync({ ...(positions[17] as WalPosition), offset: (positions[17] as WalPosition).offset + 1 }),
    ).toThrow(/WAL segment .* at byte/);
    await wal.close();
    const again = await openWal(dir, 512);
    expect(again.records.map((r) => r.frame)).toEqual(Array.from({ length: 41 }, (_, i) => frame(i + 1)));
    await again.wal.close();
  });

  it('a frame larger than a segment gets a segment of its own', async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, 256);
    const big = new Uint8Array(
      encodeEntriesFrame(hp, [{ index: 1, term: 1, type: 'normal', data: new Uint8Array(1000).fill(7) }]),
    );
    await wal.append([frame(1)], true);
    await wal.append([big], true);
    await wal.append([frame(3)], true);
    await wal.close();
    const { wal: w2, records } = await openWal(dir, 256);
    expect(records.map((r) => r.frame)).toEqual([frame(1), big, frame(3)]);
    await w2.close();
  });

  it('cut anywhere in its last segment, it keeps exactly the frames before the cut, then appends', async () => {
    const base = tempDir();
    const positions = await filled(base, 12, 4096);
    const name = segmentFiles(base)[0] as string;
    const original = readFileSync(join(base, name));
    const end =
      (positions[positions.length - 1] as WalPosition).offset + (positions[positions.length - 1] as WalPosition).length;
    // Every byte from the end of the segment header to the end of the last frame: at and inside
    // every frame boundary. The cut is a shorter file, or zeros from there (a torn write into the
    // preallocated space).
    for (let cut = (positions[0] as WalPosition).offset; cut <= end; cut++) {
      for (const how of ['shorter', 'zeroed'] as const) {
        const dir = tempDir();
        const bytes = Buffer.from(original);
        if (how === 'zeroed') bytes.fill(0, cut);
        writeFileSync(join(dir, name), how === 'shorter' ? bytes.subarray(0, cut) : bytes);
        const kept = positions.filter((p) => p.offset + p.length <= cut).length;
        const { wal, records } = await openWal(dir, 4096);
        expect(
          records.map((r) => r.frame),
          `cut at ${cut} (${how})`,
        ).toEqual(Array.from({ length: kept }, (_, i) => frame(i + 1)));
        await wal.append([frame(100)], true);
        await wal.close();
        const again = await openWal(dir, 4096);
        expect(
          again.records.map((r) => r.frame),
          `cut at ${cut} (${how}), reopened`,
        ).toEqual([...Array.from({ length: kept }, (_, i) => frame(i + 1)), frame(100)]);
        await again.wal.close();
      }
    }
  });

  it('a torn write that left garbage after the last frame is cut, logged with its offset, and cleared', async () => {
    const dir = tempDir();
    const positions = await filled(dir, 6, 4096);
    const name = segmentFiles(dir)[0] as string;
    const bytes = readFileSync(join(dir, name));
    const last = positions[positions.length - 1] as WalPosition;
    // Half of a seventh frame, then noise that is no frame.
    const seventh = frame(7);
    bytes.set(seventh.subarray(0, seventh.length >> 1), last.offset + last.length);
    bytes.fill(0xab, last.offset + last.length + seventh.length, last.offset + last.length + seventh.length + 40);
    writeFileSync(join(dir, name), bytes);
    const logger = recordingLogger();
    const { wal, records } = await openWal(dir, 4096, logger);
    expect(records).toHaveLength(6);
    expect(logger.warnings).toEqual([
      ['WAL torn tail cut', expect.objectContaining({ segment: name, offset: last.offset + last.length })],
    ]);
    await wal.append([frame(8)], true);
    await wal.close();
    const again = await openWal(dir, 4096);
    expect(again.records.map((r) => r.frame)).toEqual([...positions.map((_, i) => frame(i + 1)), frame(8)]);
    await again.wal.close();
  });

  it('refuses a flipped bit in any frame that valid frames follow, naming the segment and offset', async () => {
    const base = tempDir();
    const positions = await filled(base, 30, 1024);
    const names = segmentFiles(base);
    expect(names.length).toBeGreaterThan(1);
    for (const [k, p] of positions.entries()) {
      const name = names[p.segment - 1] as string;
      for (const at of [0, 4, 8, 12, p.length - 1]) {
        if (at >= p.length) continue;
        const dir = tempDir();
        for (const n of names) writeFileSync(join(dir, n), readFileSync(join(base, n)));
        const bytes = readFileSync(join(dir, name));
        bytes[p.offset + at] = (bytes[p.offset + at] as number) ^ 0x10;
        writeFileSync(join(dir, name), bytes);
        const lastFrame = k === positions.length - 1;
        if (lastFrame) {
          // The newest frame with nothing after it cannot be told from a torn write: it is cut.
          const { wal, records } = await openWal(dir, 1024);
          expect(records).toHaveLength(positions.length - 1);
          await wal.close();
          continue;
        }
        const opened = openWal(dir, 1024);
        await expect(opened, `flip in frame ${k + 1} at +${at}`).rejects.toThrow(CorruptError);
        await expect(opened).rejects.toThrow(new RegExp(`WAL segment ${name} at byte ${p.offset}\\b`));
      }
    }
  });

  it('empties a new last segment whose header write was torn, and refuses a missing segment', async () => {
    const dir = tempDir();
    await filled(dir, 5, 4096);
    // A preallocated next segment whose header never reached the disk (half its size, zeros).
    writeFileSync(join(dir, '0000000000000002.wal'), Buffer.alloc(2048));
    const { wal, records } = await openWal(dir, 4096);
    expect(records).toHaveLength(5);
    await wal.append([frame(6)], true);
    await wal.close();
    const again = await openWal(dir, 4096);
    expect(again.records.map((r) => r.frame)).toEqual(Array.from({ length: 6 }, (_, i) => frame(i + 1)));
    expect(again.records[5]?.segment).toBe(2);
    await again.wal.close();

    writeFileSync(join(dir, '0000000000000004.wal'), Buffer.alloc(16));
    await expect(openWal(dir, 4096)).rejects.toThrow(/segment 0000000000000004\.wal follows 0000000000000002\.wal/);
  });

  it('deletes the segments before a given one, never the last, and keeps the rest readable', async () => {
    const dir = tempDir();
    await filled(dir, 40, 512);
    const before = segmentFiles(dir);
    const { wal } = await openWal(dir, 512);
    expect(await wal.removeBefore(3)).toBe(2);
    expect(await wal.removeBefore(1_000)).toBe(before.length - 3);
    expect(segmentFiles(dir)).toEqual([before[before.length - 1]]);
    await wal.close();
    const { wal: w2, records } = await openWal(dir, 512);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.segment === before.length)).toBe(true);
    await w2.close();
  });

  it('refuses frames it cannot hold and appends after close', async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, 4096);
    await expect(wal.append([new Uint8Array(4)], true)).rejects.toThrow(/WAL frame of 4 bytes refused/);
    const segmentKind = frame(1);
    segmentKind[0] = FRAME_KIND.walSegment;
    await expect(wal.append([segmentKind], true)).rejects.toThrow(/WAL frame of kind 6 refused/);
    await wal.close();
    await expect(wal.append([frame(1)], true)).rejects.toThrow(/WAL append refused: the WAL is closed/);
    truncateSync(join(dir, segmentFiles(dir)[0] as string), 0);
    const { wal: w2, records } = await openWal(dir, 4096);
    expect(records).toEqual([]);
    await w2.close();
  });
});
