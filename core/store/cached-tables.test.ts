import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTRACT_TABLES, stateStoreContract } from '../ports/state-store.contract.js';
import { rangeOptions } from '../../testing/store-arbitraries.js';
import type { StateStore, WriteTxn } from '../ports/state-store.js';
import { CachedTablesStore } from './cached-tables.js';
import { MemoryStateStore } from './memory-store.js';
import { WriteBehindStore } from './write-behind.js';

// One table cached, one passed through: both must keep the contract.
stateStoreContract(
  'cached tables over memory',
  async () => new CachedTablesStore(new MemoryStateStore(CONTRACT_TABLES), ['a']),
);

// As the server stacks them: the write-behind layer does not keep the cached table's changes.
stateStoreContract(
  'cached tables over write-behind that leaves them to the cache',
  async () =>
    new CachedTablesStore(new WriteBehindStore(new MemoryStateStore(CONTRACT_TABLES), { answeredAbove: ['a'] }), ['a']),
);

describe('CachedTablesStore', () => {
  it('loads what the store underneath holds, and answers every range as the store underneath does', async () => {
    const seed = Number(process.env['FC_SEED'] ?? Date.now() % 1_000_000_000);
    console.log(`[property] cached tables: seed=${seed} (replay with FC_SEED=${seed})`);
    const key = fc.stringMatching(/^[ab\u00e9\u{1F600}/]{1,4}$/u);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), key, value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), key }),
      fc.record({ kind: fc.constant('fail' as const), key }),
    );
    const ranges = rangeOptions(key, 5);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { maxLength: 5 }), { maxLength: 20 }),
        fc.array(ranges, { maxLength: 10 }),
        async (batches, queries) => {
          const under = new MemoryStateStore(CONTRACT_TABLES);
          await under.write((tx) => tx.put('a', 'b', 0));
          const cached = new CachedTablesStore(under, ['a']);
          for (const batch of batches) {
            // A write that throws keeps nothing, in memory as underneath.
            await cached
              .write((tx) => {
                for (const o of batch) {
                  if (o.kind === 'put') tx.put('a', o.key, o.value);
                  else if (o.kind === 'delete') tx.delete('a', o.key);
                  else throw new Error('abort');
                }
              })
              .catch(() => undefined);
          }
          const view = cached.snapshotRead();
          const before = [{}, ...queries].map((q) => under.read((tx) => [...tx.range('a', q)]));
          for (const [i, q] of [{}, ...queries].entries()) {
            const mine = cached.read((tx) => [...tx.range('a', q)]);
            expect(mine).toEqual(before[i]);
          }
          // A snapshot view (clones of the trees, read lazily) answers as the store did when it
          // opened, also after a later write.
          await cached.write((tx) => tx.put('a', 'a', 'later'));
          for (const [i, q] of [{}, ...queries].entries()) expect([...view.range('a', q)]).toEqual(before[i]);
          view.close();
          expect(cached.cachedSizes()).toEqual({ a: under.read((tx) => [...tx.range('a')].length) });
        },
      ),
      { seed, numRuns: 200 },
    );
  });

  it('answers reads inside writes as the store underneath does, also while earlier writes commit', async () => {
    const seed = Number(process.env['FC_SEED'] ?? Date.now() % 1_000_000_000);
    console.log(`[property] cached tables, reads in writes: seed=${seed} (replay with FC_SEED=${seed})`);
    const key = fc.stringMatching(/^[ab\u00e9/]{1,3}$/u);
    const range = rangeOptions(key, 4);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), key, value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), key }),
      fc.record({ kind: fc.constant('get' as const), key }),
      fc.record({ kind: fc.constant('range' as const), range }),
      fc.record({ kind: fc.constant('fail' as const) }),
    );
    // Each write: its operations, and whether the next write waits for it to commit.
    const writes = fc.array(fc.record({ ops: fc.array(op, { maxLength: 6 }), wait: fc.boolean() }), { maxLength: 15 });
    await fc.assert(
      fc.asyncProperty(writes, async (plan) => {
        const run = async (store: StateStore) => {
          const seen: unknown[] = [];
          const pending: Array<Promise<unknown>> = [];
          for (const w of plan) {
            const done = store
              .write((tx) => {
                for (const o of w.ops) {
                  if (o.kind === 'put') tx.put('a', o.key, o.value);
                  else if (o.kind === 'delete') seen.push(tx.delete('a', o.key));
                  else if (o.kind === 'get') seen.push(tx.get('a', o.key) ?? null);
                  else if (o.kind === 'range') seen.push([...tx.range('a', o.range)]);
                  else throw new Error('abort');
                }
              })
              .catch(() => 'aborted');
            pending.push(done);
            if (w.wait) await done;
          }
          await Promise.all(pending);
          return { seen, after: store.read((tx) => [...tx.range('a')]) };
        };
        const truth = await run(new MemoryStateStore(CONTRACT_TABLES));
        const cached = new CachedTablesStore(new MemoryStateStore(CONTRACT_TABLES), ['a']);
        expect(await run(cached)).toEqual(truth);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('never mixes a cached table as it was with another as a write under way left it in a snapshot view', async () => {
    const cached = new CachedTablesStore(new MemoryStateStore(CONTRACT_TABLES), ['a']);
    await cached.write((tx) => {
      tx.put('a', 'k', 1);
      tx.put('b', 'k', 1);
    });
    // The store underneath has committed this write before the cached table has it.
    const pending = cached.write((tx) => {
      tx.put('a', 'k', 2);
      tx.put('b', 'k', 2);
    });
    const during = cached.snapshotRead();
    expect([during.get('a', 'k'), during.get('b', 'k')]).toEqual([2, 2]);
    await pending;
    const after = cached.snapshotRead();
    await cached.write((tx) => tx.put('a', 'k', 3));
    expect([after.get('a', 'k'), after.get('b', 'k')]).toEqual([2, 2]);
    during.close();
    after.close();
  });

  it('applies writes to memory in call order when a later one completes first', async () => {
    // Underneath, a durable write resolves only after a flush; a committed one called after it
    // resolves at once (as LMDB's do). The cached table must end with the later value.
    const under = new MemoryStateStore(CONTRACT_TABLES);
    const slowDurable: StateStore = Object.assign(Object.create(under) as StateStore, {
      write: async <T>(fn: (tx: WriteTxn) => T, durability?: 'durable' | 'committed'): Promise<T> => {
        const result = await under.write(fn);
        if (durability === 'durable') await new Promise((r) => setTimeout(r, 5));
        return result;
      },
    });
    const cached = new CachedTablesStore(slowDurable, ['a']);
    const first = cached.write((tx) => tx.put('a', 'k', 1), 'durable');
    const second = cached.write((tx) => tx.put('a', 'k', 2), 'committed');
    await second;
    // A read after a write's promise sees that write.
    expect(cached.read((tx) => tx.get('a', 'k'))).toBe(2);
    await first;
    expect(cached.read((tx) => tx.get('a', 'k'))).toBe(2);
  });

  it('keeps a derived value while its version stands, and drops every one when a version is deleted', async () => {
    const store = new CachedTablesStore(new MemoryStateStore(CONTRACT_TABLES), ['a', 'b'], 'b');
    await store.write((tx) => tx.put('b', 'v', 1));
    const derive = (version: number, value: string) => store.read((tx) => tx.derived?.('k', version, () => value));
    expect(derive(1, 'first')).toBe('first');
    expect(derive(1, 'second')).toBe('first');
    expect(derive(2, 'third')).toBe('third');
    // Deleting in other tables keeps derived values; deleting a version (a snapshot replacing the state) drops them.
    await store.write((tx) => tx.put('a', 'x', 1));
    await store.write((tx) => tx.delete('a', 'x'));
    expect(derive(2, 'fourth')).toBe('third');
    await store.write((tx) => tx.delete('b', 'v'));
    expect(derive(2, 'fifth')).toBe('fifth');
  });
});
