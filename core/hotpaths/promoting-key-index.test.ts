import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KeyIndex } from '../ports/hot-paths.js';
import { TsKeyIndex } from './key-index.js';
import { PromotingKeyIndex } from './promoting-key-index.js';

type Op = { kind: 'insert' | 'delete'; key: string };

const ops = fc.array(
  fc.record({ kind: fc.constantFrom('insert' as const, 'delete' as const), key: fc.stringMatching(/^[a-c/]{1,4}$/) }),
  { maxLength: 80 },
);

/** Runs `list` on both indexes and checks every answer along the way. */
function same(a: KeyIndex, b: KeyIndex, list: Op[]): void {
  for (const op of list) {
    expect(a[op.kind](op.key)).toBe(b[op.kind](op.key));
    expect(a.size).toBe(b.size);
    expect(a.has(op.key)).toBe(b.has(op.key));
  }
  for (const p of ['', 'a', 'b/', 'c/a']) {
    expect(a.prefix(p)).toEqual(b.prefix(p));
    expect(a.separated(p, '/')).toEqual(b.separated(p, '/'));
  }
  expect(a.range('a', 'c')).toEqual(b.range('a', 'c'));
}

describe('PromotingKeyIndex', () => {
  it('answers as the index it starts with, before and after its keys move', () => {
    fc.assert(
      fc.property(ops, fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 3 }), (list, at, unready) => {
        let asked = 0;
        const next = () => (++asked > unready ? new TsKeyIndex() : undefined);
        const idx = new PromotingKeyIndex(new TsKeyIndex(), at, next);
        same(idx, new TsKeyIndex(), list);
      }),
    );
  });

  it('moves its keys once, at the threshold, and never asks again', () => {
    let asked = 0;
    const next = new TsKeyIndex();
    const idx = new PromotingKeyIndex(new TsKeyIndex(), 3, () => (++asked === 1 ? undefined : next));
    idx.insert('b');
    idx.insert('a');
    expect(asked).toBe(0);
    idx.insert('c');
    expect(idx.isPromoted).toBe(false);
    idx.insert('d');
    expect(idx.isPromoted).toBe(true);
    expect(next.prefix('')).toEqual(['a', 'b', 'c', 'd']);
    idx.insert('e');
    expect(asked).toBe(2);
  });

  it('stays where it is when the other index never comes', () => {
    const idx = new PromotingKeyIndex(new TsKeyIndex(), 1, () => undefined);
    for (const k of ['x', 'y', 'z']) idx.insert(k);
    expect(idx.isPromoted).toBe(false);
    expect(idx.prefix('')).toEqual(['x', 'y', 'z']);
  });
});
