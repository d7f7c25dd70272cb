import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertySeed } from '../../testing/kv-arbitraries.js';
import { MemoryStateStore } from '../store/memory-store.js';
import { compareKeys } from '../util/keys.js';
import { OverlayTxn } from './overlay-txn.js';

describe('OverlayTxn', () => {
  const keyArb = fc.constantFrom('a', 'ab', 'b', 'b/1', 'b/2', 'c', '\u{10000}', '\uffff', 'é');
  const writeArb = fc.oneof(
    fc.tuple(fc.constant('put' as const), keyArb, fc.nat(9)),
    fc.tuple(fc.constant('del' as const), keyArb, fc.constant(0)),
  );
  const rangeArb = fc.record({
    prefix: fc.option(fc.constantFrom('', 'a', 'b', 'b/'), { nil: undefined }),
    start: fc.option(keyArb, { nil: undefined }),
    end: fc.option(keyArb, { nil: undefined }),
    limit: fc.option(fc.nat(5), { nil: undefined }),
  });

  it('reads like the writes applied, and commit produces exactly that state', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(writeArb, { maxLength: 8 }),
        fc.array(writeArb, { maxLength: 8 }),
        rangeArb,
        async (base, over, range) => {
          const store = new MemoryStateStore(['t']);
          const model = new Map<string, number>();
          const apply = (
            tx: { put(t: string, k: string, v: number): void; delete(t: string, k: string): boolean },
            ws: typeof base,
          ) => {
            for (const [op, k, v] of ws) {
              if (op === 'put') {
                tx.put('t', k, v);
                model.set(k, v);
              } else {
                tx.delete('t', k);
                model.delete(k);
              }
            }
          };
          await store.write((tx) => apply(tx, base));
          const opts = Object.fromEntries(Object.entries(range).filter(([, v]) => v !== undefined));
          await store.write((tx) => {
            const overlay = new OverlayTxn(tx);
            apply(overlay, over);
            const expected = [...model.entries()]
              .filter(
                ([k]) =>
                  (opts.prefix === undefined || k.startsWith(opts.prefix as string)) &&
                  (opts.start === undefined || compareKeys(k, opts.start as string) >= 0) &&
                  (opts.end === undefined || compareKeys(k, opts.end as string) < 0),
              )
              .sort(([x], [y]) => compareKeys(x, y))
              .slice(0, (opts.limit as number | undefined) ?? Infinity);
            expect([...overlay.range<number>('t', opts)]).toEqual(expected);
            for (const k of ['a', 'b/1', 'é']) expect(overlay.get('t', k)).toBe(model.get(k));
            overlay.commit();
          });
          expect(store.read((tx) => [...tx.range<number>('t')])).toEqual(
            [...model.entries()].sort(([x], [y]) => compareKeys(x, y)),
          );
        },
      ),
      { seed: propertySeed('overlay txn'), numRuns: 300 },
    );
  });

  it('leaves the base untouched until commit', async () => {
    const store = new MemoryStateStore(['t']);
    await store.write((tx) => tx.put('t', 'k', 1));
    await store.write((tx) => {
      const overlay = new OverlayTxn(tx);
      overlay.put('t', 'k', 2);
      overlay.put('t', 'n', 3);
      expect(overlay.delete('t', 'k')).toBe(true);
      expect(tx.get('t', 'k')).toBe(1);
      expect(tx.get('t', 'n')).toBeUndefined();
    });
    expect(store.read((tx) => [...tx.range('t')])).toEqual([['k', 1]]);
  });
});
