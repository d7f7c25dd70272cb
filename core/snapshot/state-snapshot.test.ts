import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../store/memory-store.js';
import { DumpBuilder, dumpTables, parseDump } from './state-snapshot.js';

const TABLES = ['a', 'b', 'c'];

function filled(): MemoryStateStore {
  const s = new MemoryStateStore(TABLES);
  s.writeSync((tx) => {
    for (let i = 0; i < 300; i++) tx.put('a', `k${i}`, { i, bytes: new Uint8Array([i & 255]) });
    tx.put('c', 'x', 'only row');
  });
  return s;
}

describe('DumpBuilder', () => {
  it('builds, a slice at a time, a dump that decodes to what a one-shot msgpack encoding of the tables does', () => {
    const s = filled();
    const reference = s.read((tx) => {
      const tables: Record<string, unknown[]> = {};
      for (const t of TABLES) tables[t] = [...tx.range(t)].map(([k, v]) => [k, v]);
      return decode(encode({ v: 1, tables }));
    });
    expect(decode(s.read((tx) => dumpTables(tx, TABLES)))).toEqual(reference);
    for (const rowsPerStep of [1, 7, 299, 300, 301]) {
      const view = s.snapshotRead();
      const b = new DumpBuilder(view, TABLES, rowsPerStep);
      let steps = 1;
      while (!b.step()) steps++;
      view.close();
      expect(decode(b.result())).toEqual(reference);
      expect(b.bytes).toBe(b.result().length);
      expect(steps).toBeGreaterThanOrEqual(Math.ceil(301 / rowsPerStep));
    }
  });

  it('joins the finished chunks into one array a few at a time, the same bytes as result()', () => {
    const s = filled();
    const view = s.snapshotRead();
    const b = new DumpBuilder(view, TABLES, 7);
    expect(() => b.join(1)).toThrow(RangeError);
    while (!b.step());
    view.close();
    const whole = b.result();
    const chunks = b.chunks();
    // One byte per call still copies one whole chunk each time.
    let calls = 1;
    while (!b.join(1)) calls++;
    expect(calls).toBe(chunks.length);
    const joined = b.result();
    expect(joined).toEqual(whole);
    // Joined once: result() hands out that array, not a new copy.
    expect(b.result()).toBe(joined);
  });

  it('dumps the view as it was when opened while writes go on between slices', async () => {
    const s = filled();
    const before = s.read((tx) => dumpTables(tx, TABLES));
    const view = s.snapshotRead();
    const b = new DumpBuilder(view, TABLES, 10);
    let i = 0;
    while (!b.step()) {
      await s.write((tx) => {
        tx.put('a', `k${i}`, 'changed');
        tx.delete('a', `k${299 - i}`);
        tx.put('b', `new${i}`, i);
      });
      i++;
    }
    view.close();
    expect(i).toBeGreaterThan(10);
    expect(b.result()).toEqual(before);
    const parsed = parseDump(b.result(), TABLES);
    expect(parsed.a).toHaveLength(300);
    expect((decode(s.read((tx) => dumpTables(tx, TABLES))) as { tables: { b: unknown[] } }).tables.b).toHaveLength(i);
  });
});
