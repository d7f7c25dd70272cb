import { describe, expect, it } from 'vitest';
import type { StateStore } from './state-store.js';

/** Tables every store under contract test is opened with. */
export const CONTRACT_TABLES = ['a', 'b'] as const;

/**
 * The StateStore contract: every implementation (memory, LMDB, …) must pass it. `open` returns a
 * fresh, empty store with CONTRACT_TABLES; `reopen`, when given, reopens the same data (for
 * durability checks).
 */
export function stateStoreContract(
  name: string,
  open: () => Promise<StateStore>,
  reopen?: (s: StateStore) => Promise<StateStore>,
): void {
  describe(`StateStore contract: ${name}`, () => {
    it('puts, gets and deletes per table', async () => {
      const s = await open();
      await s.write((tx) => {
        tx.put('a', 'k', { n: 1 });
        tx.put('b', 'k', 'other table');
      });
      expect(s.read((tx) => tx.get('a', 'k'))).toEqual({ n: 1 });
      expect(s.read((tx) => tx.get('b', 'k'))).toBe('other table');
      expect(await s.write((tx) => tx.delete('a', 'k'))).toBe(true);
      expect(await s.write((tx) => tx.delete('a', 'k'))).toBe(false);
      expect(s.read((tx) => tx.get('a', 'k'))).toBeUndefined();
      await s.close();
    });

    it('round-trips structured values and bytes exactly', async () => {
      const s = await open();
      const bytes = new Uint8Array(256).map((_, i) => i);
      const value = {
        value: bytes,
        empty: new Uint8Array(0),
        flags: '18446744073709551615',
        n: 2 ** 53 - 1,
        nested: { list: [1, 'two', null, true] },
      };
      await s.write((tx) => tx.put('a', 'v', value));
      const got = s.read((tx) => tx.get<typeof value>('a', 'v'));
      expect(got).toBeDefined();
      expect(new Uint8Array(got!.value)).toEqual(bytes);
      expect(got!.value).toBeInstanceOf(Uint8Array);
      expect(got!.empty.byteLength).toBe(0);
      expect(got!.flags).toBe(value.flags);
      expect(got!.n).toBe(value.n);
      expect(got!.nested).toEqual(value.nested);
      await s.close();
    });

    it('scans in code-point order with prefix, start, end and limit', async () => {
      const s = await open();
      // "\uFFFD" sorts before an astral character in code-point (UTF-8) order, after it in UTF-16 order.
      const keys = ['b', 'a/2', 'a/1', 'a', 'a/10', '\u{1F600}', '\uFFFD', 'ab', 'a/\u00e9'];
      await s.write((tx) => {
        for (const k of keys) tx.put('a', k, k);
      });
      const scan = (o?: Parameters<StateStore['read']>[0] extends never ? never : object) =>
        s.read((tx) => [...tx.range<string>('a', o as never)].map(([k]) => k));
      expect(scan()).toEqual(['a', 'a/1', 'a/10', 'a/2', 'a/\u00e9', 'ab', 'b', '\uFFFD', '\u{1F600}']);
      expect(scan({ prefix: 'a/' })).toEqual(['a/1', 'a/10', 'a/2', 'a/\u00e9']);
      expect(scan({ prefix: 'a/', start: 'a/10' })).toEqual(['a/10', 'a/2', 'a/\u00e9']);
      expect(scan({ start: 'a/2', end: 'b' })).toEqual(['a/2', 'a/\u00e9', 'ab']);
      expect(scan({ prefix: 'a', limit: 2 })).toEqual(['a', 'a/1']);
      expect(scan({ prefix: 'zz' })).toEqual([]);
      const values = s.read((tx) => [...tx.range<string>('a', { prefix: 'a/1' })]);
      expect(values).toEqual([
        ['a/1', 'a/1'],
        ['a/10', 'a/10'],
      ]);
      await s.close();
    });

    it('reads inside a write see that write', async () => {
      const s = await open();
      const seen = await s.write((tx) => {
        tx.put('a', 'x', 1);
        tx.put('a', 'y', 2);
        tx.delete('a', 'x');
        return { x: tx.get('a', 'x'), y: tx.get('a', 'y'), keys: [...tx.range('a')].map(([k]) => k) };
      });
      expect(seen).toEqual({ x: undefined, y: 2, keys: ['y'] });
      await s.close();
    });

    it('a write whose callback throws leaves nothing behind and rejects with that error', async () => {
      const s = await open();
      await s.write((tx) => tx.put('a', 'keep', 1));
      const boom = new Error('boom');
      await expect(
        s.write((tx) => {
          tx.put('a', 'new', 1);
          tx.put('a', 'keep', 2);
          tx.delete('a', 'keep');
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(s.read((tx) => [...tx.range('a')])).toEqual([['keep', 1]]);
      await s.close();
    });

    it('applies concurrent writes in call order', async () => {
      const s = await open();
      const writes = [];
      for (let i = 0; i < 50; i++)
        writes.push(
          s.write((tx) => {
            const prev = tx.get<number>('a', 'counter') ?? 0;
            tx.put('a', 'counter', prev + 1);
            tx.put('a', `seq/${String(i).padStart(3, '0')}`, prev);
            return prev;
          }),
        );
      expect(await Promise.all(writes)).toEqual([...Array(50).keys()]);
      await s.close();
    });

    it('snapshotRead: a view keeps the data of when it opened while writes commit, until closed', async () => {
      const s = await open();
      await s.write((tx) => {
        for (let i = 0; i < 20; i++) tx.put('a', `k${String(i).padStart(2, '0')}`, i);
        tx.put('b', 'gone', 'soon');
      });
      const view = s.snapshotRead();
      const rows = view.range<number>('a')[Symbol.iterator]();
      const firstHalf = Array.from({ length: 10 }, () => rows.next().value as readonly [string, number]);
      await s.write((tx) => {
        tx.put('a', 'k15', -1);
        tx.delete('a', 'k19');
        tx.put('a', 'k05x', 99);
        tx.delete('b', 'gone');
        tx.put('b', 'new', 1);
      });
      // Later turns of the event loop: the view still reads its own data.
      await Promise.resolve();
      await s.write((tx) => tx.put('a', 'k00', 'rewritten'));
      const rest = [...{ [Symbol.iterator]: () => rows }];
      const expected = Array.from({ length: 20 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i]);
      expect([...firstHalf, ...rest]).toEqual(expected);
      expect([...view.range('a')]).toEqual(expected);
      expect(view.get('a', 'k15')).toBe(15);
      expect(view.get('a', 'k05x')).toBeUndefined();
      expect([...view.range('b')]).toEqual([['gone', 'soon']]);
      // Ordinary reads see the writes.
      expect(s.read((tx) => [tx.get('a', 'k15'), tx.get('a', 'k19'), tx.get('b', 'new')])).toEqual([-1, undefined, 1]);
      // A view opened now sees them too.
      const later = s.snapshotRead();
      expect(later.get('a', 'k00')).toBe('rewritten');
      expect([...later.range('b')]).toEqual([['new', 1]]);
      later.close();
      view.close();
      view.close();
      expect(() => view.get('a', 'k00')).toThrow();
      await s.close();
    });

    it('refuses empty keys and unknown tables', async () => {
      const s = await open();
      await expect(s.write((tx) => tx.put('a', '', 1))).rejects.toThrow(/empty/);
      expect(() => s.read((tx) => tx.get('nope', 'k'))).toThrow(/unknown table/);
      await s.close();
    });

    if (reopen) {
      it('keeps committed writes across close and reopen', async () => {
        const s = await open();
        await s.write((tx) => tx.put('a', 'durable', { v: new Uint8Array([9, 8, 7]) }));
        const again = await reopen(s);
        const got = again.read((tx) => tx.get<{ v: Uint8Array }>('a', 'durable'));
        expect(new Uint8Array(got!.v)).toEqual(new Uint8Array([9, 8, 7]));
        await again.close();
      });
    }
  });
}
