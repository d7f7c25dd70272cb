import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeEntriesFrame, encodeEntriesFrame } from '../../core/codec/entries.js';
import { decodeMessageFrame, encodeMessageFrame } from '../../core/codec/message.js';
import { CorruptFrameError } from '../../core/hotpaths/frame.js';
import { createTsHotPaths } from '../../core/hotpaths/ts-hot-paths.js';
import type { HotPaths } from '../../core/ports/hot-paths.js';
import { HOT_PATH_VECTORS, runVectors } from '../../core/ports/hot-paths.vectors.js';
import type { Entry, Message } from '../../core/raft/types.js';
import { propertySeed } from '../../testing/kv-arbitraries.js';
import { nodeRuntime } from '../node/index.js';

let wasm: HotPaths;
const ts = createTsHotPaths();
beforeAll(async () => {
  wasm = await nodeRuntime.loadHotPaths('wasm');
});

const entryArb: fc.Arbitrary<Entry> = fc.record({
  term: fc.nat({ max: 2 ** 53 - 1 }),
  index: fc.nat({ max: 2 ** 53 - 1 }),
  type: fc.constantFrom('normal' as const, 'conf' as const),
  data: fc.uint8Array({ maxLength: 300 }),
});
const keyArb = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'b', '/', '-'), minLength: 1, maxLength: 6 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }),
);

function errorOf(fn: () => unknown): { position: number; message: string } | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof CorruptFrameError)) throw err;
    return { position: err.position, message: err.message };
  }
}

describe('hot paths: WebAssembly and TypeScript give identical results', () => {
  it('shared test vectors pass on both', () => {
    expect(runVectors(ts)).toEqual(HOT_PATH_VECTORS.expected);
    expect(runVectors(wasm)).toEqual(HOT_PATH_VECTORS.expected);
  });

  it('CRC32C agrees on random data and seeds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.nat({ max: 2 ** 32 - 1 }), (d, seed) => {
        expect(wasm.crc32c(d, seed)).toBe(ts.crc32c(d, seed));
      }),
      { seed: propertySeed('crc32c'), numRuns: 300 },
    );
  });

  it('entry frames encode to identical bytes and decode back exactly', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 20 }), (entries) => {
        const a = encodeEntriesFrame(ts, entries);
        const b = encodeEntriesFrame(wasm, entries);
        expect(b).toEqual(a);
        for (const hp of [ts, wasm]) {
          const { entries: back, next } = decodeEntriesFrame(hp, a);
          expect(next).toBe(a.length);
          expect(back.map((e) => ({ ...e, data: [...e.data] }))).toEqual(
            entries.map((e) => ({ ...e, data: [...e.data] })),
          );
        }
      }),
      { seed: propertySeed('entry frames'), numRuns: 200 },
    );
  });

  it('corrupted or truncated frames fail identically, with the position, never mis-decoding', () => {
    fc.assert(
      fc.property(
        fc.array(entryArb, { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.nat({ max: 255 }),
        fc.boolean(),
        (entries, at, xor, truncate) => {
          const frame = encodeEntriesFrame(ts, entries);
          const bad = truncate ? frame.slice(0, at % frame.length) : frame.slice();
          if (!truncate) bad[at % frame.length] = (bad[at % frame.length] as number) ^ (xor || 1);
          const a = errorOf(() => decodeEntriesFrame(ts, bad));
          const b = errorOf(() => decodeEntriesFrame(wasm, bad));
          expect(a).toBeDefined();
          expect(b).toEqual(a);
        },
      ),
      { seed: propertySeed('corrupt frames'), numRuns: 300 },
    );
  });

  it('decodes consecutive frames in one buffer', () => {
    const one = encodeEntriesFrame(wasm, [{ term: 1, index: 1, type: 'normal', data: new Uint8Array([1]) }]);
    const two = encodeEntriesFrame(wasm, [{ term: 1, index: 2, type: 'normal', data: new Uint8Array([2]) }]);
    const both = new Uint8Array([...one, ...two]);
    const first = decodeEntriesFrame(wasm, both);
    const second = decodeEntriesFrame(ts, both, first.next);
    expect(second.entries[0]?.index).toBe(2);
    expect(second.next).toBe(both.length);
  });

  it('Raft messages round-trip through frames on both', () => {
    const msgArb: fc.Arbitrary<Message> = fc.record(
      {
        type: fc.constantFrom('app', 'appResp', 'vote', 'heartbeat', 'snap', 'timeoutNow' as const),
        from: keyArb,
        to: keyArb,
        term: fc.nat(),
        index: fc.nat(),
        logTerm: fc.nat(),
        commit: fc.nat(),
        reject: fc.constant(true),
        rejectHint: fc.nat(),
        context: fc.string(),
        transfer: fc.constant(true),
        leaseTick: fc.nat(),
        offset: fc.nat(),
        entries: fc.array(entryArb, { maxLength: 3 }),
        snapshot: fc.record({
          meta: fc.record({
            index: fc.nat(),
            term: fc.nat(),
            conf: fc.record({
              voters: fc.array(keyArb, { maxLength: 3 }),
              learners: fc.array(keyArb, { maxLength: 2 }),
            }),
          }),
          offset: fc.nat(),
          total: fc.nat(),
          data: fc.uint8Array({ maxLength: 64 }),
        }),
      },
      { requiredKeys: ['type', 'from', 'to', 'term'] },
    ) as fc.Arbitrary<Message>;
    const plain = (m: Message) => JSON.parse(JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));
    fc.assert(
      fc.property(msgArb, (m) => {
        const a = encodeMessageFrame(ts, m);
        expect(encodeMessageFrame(wasm, m)).toEqual(a);
        expect(plain(decodeMessageFrame(wasm, a).message)).toEqual(plain(m));
      }),
      { seed: propertySeed('message frames'), numRuns: 200 },
    );
  });

  it('the key index answers like the TypeScript one for random operations', () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant('insert' as const), key: keyArb }),
      fc.record({ op: fc.constant('delete' as const), key: keyArb }),
      fc.record({ op: fc.constant('has' as const), key: keyArb }),
      fc.record({ op: fc.constant('prefix' as const), key: fc.oneof(fc.constant(''), keyArb) }),
      fc.record({
        op: fc.constant('separated' as const),
        key: fc.oneof(fc.constant(''), keyArb),
        sep: fc.constantFrom('/', '-', 'ab', ''),
      }),
      fc.record({ op: fc.constant('range' as const), key: keyArb, end: keyArb }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const a = ts.createKeyIndex();
        const b = wasm.createKeyIndex();
        for (const o of ops) {
          const run = (ix: typeof a) => {
            switch (o.op) {
              case 'insert':
                return ix.insert(o.key);
              case 'delete':
                return ix.delete(o.key);
              case 'has':
                return ix.has(o.key);
              case 'prefix':
                return ix.prefix(o.key);
              case 'separated':
                return ix.separated(o.key, o.sep);
              case 'range':
                return ix.range(o.key, o.end);
            }
          };
          expect(run(b)).toEqual(run(a));
          expect(b.size).toBe(a.size);
        }
        b.dispose();
      }),
      { seed: propertySeed('key index'), numRuns: 200 },
    );
  });

  it('the prefix matcher finds the same prefixes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(''), keyArb), { maxLength: 30 }),
        fc.array(keyArb, { maxLength: 10 }),
        fc.array(keyArb, { maxLength: 20 }),
        (adds, removes, keys) => {
          const a = ts.createPrefixMatcher();
          const b = wasm.createPrefixMatcher();
          for (const p of adds) {
            a.add(p);
            b.add(p);
          }
          for (const p of removes) expect(b.remove(p)).toBe(a.remove(p));
          expect(b.size).toBe(a.size);
          for (const k of keys) expect(b.match(k).sort()).toEqual(a.match(k).sort());
          expect(b.matchMany(keys).map((m) => m.sort())).toEqual(a.matchMany(keys).map((m) => m.sort()));
        },
      ),
      { seed: propertySeed('prefix matcher'), numRuns: 200 },
    );
  });

  it('key index instances do not share state', () => {
    const a = wasm.createKeyIndex();
    const b = wasm.createKeyIndex();
    a.insert('x');
    expect(b.has('x')).toBe(false);
    const m = wasm.createPrefixMatcher();
    const n = wasm.createPrefixMatcher();
    m.add('p');
    expect(n.match('p')).toEqual([]);
  });
});
