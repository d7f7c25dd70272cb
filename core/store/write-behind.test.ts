import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiskFullError, StorageError } from '../errors.js';
import { CONTRACT_TABLES, stateStoreContract } from '../ports/state-store.contract.js';
import { rangeOptions } from '../../testing/store-arbitraries.js';
import type { StateStore, WriteTxn } from '../ports/state-store.js';
import { MemoryStateStore } from './memory-store.js';
import { WriteBehindStore } from './write-behind.js';
import { ManualClock } from '../../testing/manual-clock.js';

stateStoreContract('write-behind over memory', async () => new WriteBehindStore(new MemoryStateStore(CONTRACT_TABLES)));
// A clock that never moves: committed writes wait underneath until a durable one, or close().
stateStoreContract(
  'write-behind over memory, gathering writes',
  async () =>
    new WriteBehindStore(new MemoryStateStore(CONTRACT_TABLES), { commitDelay: { clock: new ManualClock(), ms: 10 } }),
);

/**
 * A memory store whose commits wait until the test lets them go (`release`), recording each
 * transaction's size and the state after it.
 */
class GatedStore {
  readonly inner = new MemoryStateStore(CONTRACT_TABLES);
  readonly commits: Array<{ changes: number; durable: boolean }> = [];
  readonly states: string[] = [];
  private gates: Array<() => void> = [];
  failNext = false;
  /** Fails commits with DiskFullError while set (nothing of them is committed). */
  full = false;
  auto = false;

  /** The StateStore face. */
  readonly store: StateStore = Object.assign(Object.create(this.inner) as StateStore, {
    write: async <T>(fn: (tx: WriteTxn) => T, durability?: 'durable' | 'committed'): Promise<T> => {
      if (!this.auto) await new Promise<void>((resolve) => this.gates.push(resolve));
      if (this.failNext) throw new Error('disk full');
      if (this.full) throw new DiskFullError('no space left on device');
      let changes = 0;
      const result = await this.inner.write((tx) =>
        fn({
          ...tx,
          get: tx.get.bind(tx),
          range: tx.range.bind(tx),
          put: (t, k, v) => {
            changes++;
            tx.put(t, k, v);
          },
          delete: (t, k) => {
            changes++;
            return tx.delete(t, k);
          },
        }),
      );
      this.commits.push({ changes, durable: durability !== 'committed' });
      this.states.push(dump(this.inner));
      return result;
    },
  });

  /** Lets every commit waiting now go. */
  release(): number {
    const gates = this.gates.splice(0);
    for (const go of gates) go();
    return gates.length;
  }
}

/** Every row of both tables, as a comparable string. */
function dump(s: StateStore): string {
  return JSON.stringify(s.read((tx) => CONTRACT_TABLES.map((t) => [...tx.range(t)])));
}

/** Lets pending promise callbacks run (a few dozen microtask turns: commits here take about ten). */
const settle = async () => {
  for (let i = 0; i < 40; i++) await Promise.resolve();
};

describe('WriteBehindStore', () => {
  it('reads as a plain store does, and underneath always holds a prefix of the writes', async () => {
    const seed = Number(process.env['FC_SEED'] ?? Date.now() % 1_000_000_000);
    console.log(`[property] write-behind: seed=${seed} (replay with FC_SEED=${seed})`);
    // Mostly a few short keys, so writes often meet the same key again.
    const key = fc.oneof(
      { arbitrary: fc.constantFrom('a', 'b', 'a/', 'a/b', 'b/a'), weight: 4 },
      { arbitrary: fc.stringMatching(/^[ab\u00e9\u{1F600}/]{1,3}$/u), weight: 1 },
    );
    const table = fc.constantFrom(...CONTRACT_TABLES);
    const range = rangeOptions(key, 4);
    const op = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('put' as const), table, key, value: fc.integer() }), weight: 4 },
      { arbitrary: fc.record({ kind: fc.constant('delete' as const), table, key }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('get' as const), table, key }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('range' as const), table, range }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('fail' as const) }), weight: 1 },
    );
    // Each step: a write (durable or not, awaited or not), a read, a view, or commits let go underneath.
    const step = fc.oneof(
      {
        arbitrary: fc.record({
          kind: fc.constant('write' as const),
          ops: fc.array(op, { maxLength: 6 }),
          durable: fc.boolean(),
          wait: fc.boolean(),
        }),
        weight: 4,
      },
      { arbitrary: fc.record({ kind: fc.constant('read' as const), table, range }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('view' as const) }), weight: 1 },
      { arbitrary: fc.record({ kind: fc.constant('release' as const) }), weight: 2 },
    );
    const plans = fc.array(step, { minLength: 4, maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(plans, fc.integer({ min: 1, max: 12 }), async (plan, maxBatch) => {
        /** Runs the plan; `release` lets commits go underneath (a no-op for the plain store). */
        const run = async (store: StateStore, release: () => void) => {
          const seen: unknown[] = [];
          const views: Array<{ view: ReturnType<StateStore['snapshotRead']>; at: string }> = [];
          const pending: Array<Promise<unknown>> = [];
          for (const s of plan) {
            if (s.kind === 'write') {
              const done = store
                .write(
                  (tx) => {
                    for (const o of s.ops) {
                      if (o.kind === 'put') tx.put(o.table, o.key, o.value);
                      else if (o.kind === 'delete') seen.push(tx.delete(o.table, o.key));
                      else if (o.kind === 'get') seen.push(tx.get(o.table, o.key) ?? null);
                      else if (o.kind === 'range') seen.push([...tx.range(o.table, o.range)]);
                      else throw new Error('abort');
                    }
                  },
                  s.durable ? 'durable' : 'committed',
                )
                .catch(() => 'aborted');
              pending.push(done);
              if (s.wait && !s.durable) await done;
            } else if (s.kind === 'read') {
              seen.push(store.read((tx) => [...tx.range(s.table, s.range)]));
            } else if (s.kind === 'view') {
              views.push({ view: store.snapshotRead(), at: dump(store) });
            } else {
              release();
              await settle();
            }
          }
          for (let i = 0; i < 100 && !(await allSettled(pending)); i++) {
            release();
            await settle();
          }
          await Promise.all(pending);
          // A view still reads what the store held when it was opened.
          const viewed = views.map(({ view, at }) => {
            const rows = JSON.stringify(CONTRACT_TABLES.map((t) => [...view.range(t)]));
            view.close();
            return rows === at;
          });
          return { seen, end: dump(store), viewed };
        };
        const truth = await run(new MemoryStateStore(CONTRACT_TABLES), () => undefined);
        const gated = new GatedStore();
        const wb = new WriteBehindStore(gated.store, { maxBatch });
        const mine = await run(wb, () => gated.release());
        expect(mine.seen).toEqual(truth.seen);
        expect(mine.end).toEqual(truth.end);
        expect(mine.viewed.every(Boolean)).toBe(true);
        // Underneath, every commit left the state after some prefix of the writes (what a crash keeps).
        const prefixes = await prefixStates(plan);
        for (const state of gated.states) expect(prefixes.has(state)).toBe(true);
        expect(dump(gated.inner)).toEqual(truth.end);
        expect(wb.backlogSize()).toBe(0);
        // No transaction held more than maxBatch changes, unless one write alone had more.
        for (const c of gated.commits) expect(c.changes).toBeLessThanOrEqual(Math.max(maxBatch, 6));
      }),
      { seed, numRuns: 300 },
    );
  });

  it('answers a committed write at once and a durable one only once its transaction underneath is done', async () => {
    const gated = new GatedStore();
    const wb = new WriteBehindStore(gated.store);
    let durableDone = false;
    await wb.write((tx) => tx.put('a', 'k', 1), 'committed');
    expect(wb.read((tx) => tx.get('a', 'k'))).toBe(1);
    expect(gated.inner.read((tx) => tx.get('a', 'k'))).toBeUndefined();
    const durable = wb.write((tx) => tx.put('a', 'k', 2), 'durable').then(() => (durableDone = true));
    await settle();
    expect(wb.read((tx) => tx.get('a', 'k'))).toBe(2);
    expect(durableDone).toBe(false);
    // The first transaction holds the committed write; the durable one waits for the next.
    expect(gated.release()).toBe(1);
    await settle();
    expect(durableDone).toBe(false);
    expect(gated.inner.read((tx) => tx.get('a', 'k'))).toBe(1);
    expect(gated.release()).toBe(1);
    await durable;
    expect(gated.commits).toEqual([
      { changes: 1, durable: false },
      { changes: 1, durable: true },
    ]);
    expect(wb.backlogSize()).toBe(0);
  });

  it('commits the writes made while a transaction runs underneath together, never splitting one', async () => {
    const gated = new GatedStore();
    const wb = new WriteBehindStore(gated.store, { maxBatch: 4 });
    void wb.write((tx) => tx.put('a', 'first', 1), 'committed');
    for (let i = 0; i < 5; i++) void wb.write((tx) => tx.put('a', `w${i}`, i), 'committed');
    void wb.write((tx) => {
      for (let i = 0; i < 6; i++) tx.put('b', `big${i}`, i);
    }, 'committed');
    void wb.write((tx) => tx.put('a', 'last', 1), 'committed');
    for (let round = 0; round < 6; round++) {
      gated.release();
      await settle();
    }
    expect(gated.commits.map((c) => c.changes)).toEqual([1, 4, 1, 6, 1]);
    expect(wb.backlogSize()).toBe(0);
  });

  it('with a commit delay, gathers writes until the delay ends, a durable write comes or a batch is full', async () => {
    const gated = new GatedStore();
    gated.auto = true;
    const clock = new ManualClock();
    const wb = new WriteBehindStore(gated.store, { maxBatch: 5, commitDelay: { clock, ms: 10 } });
    for (let i = 0; i < 3; i++) void wb.write((tx) => tx.put('a', `w${i}`, i), 'committed');
    await settle();
    expect(gated.commits).toEqual([]);
    expect(wb.read((tx) => tx.get('a', 'w2'))).toBe(2);
    clock.advance(9);
    await settle();
    expect(gated.commits).toEqual([]);
    clock.advance(1);
    await settle();
    expect(gated.commits).toEqual([{ changes: 3, durable: false }]);
    // A durable write does not wait, and takes what gathered before it along.
    void wb.write((tx) => tx.put('a', 'x', 1), 'committed');
    const durable = wb.write((tx) => tx.put('a', 'y', 1), 'durable');
    await durable;
    expect(gated.commits.slice(1)).toEqual([{ changes: 2, durable: true }]);
    // Nor does a full batch.
    for (let i = 0; i < 5; i++) void wb.write((tx) => tx.put('b', `f${i}`, i), 'committed');
    await settle();
    expect(gated.commits.slice(2)).toEqual([{ changes: 5, durable: false }]);
    // Closing commits what is left at once.
    void wb.write((tx) => tx.put('b', 'late', 1), 'committed');
    await wb.close();
    expect(gated.commits.slice(3)).toEqual([{ changes: 1, durable: false }]);
    expect(wb.backlogSize()).toBe(0);
  });

  it('gives writes of large byte values their own transactions', async () => {
    const gated = new GatedStore();
    const wb = new WriteBehindStore(gated.store, { maxBatchBytes: 1000 });
    void wb.write((tx) => tx.put('a', 'first', 1), 'committed');
    // As a compaction snapshot is kept: pieces, one write each, then the record naming them.
    for (let n = 0; n < 3; n++) void wb.write((tx) => tx.put('b', `piece/${n}`, new Uint8Array(600)), 'committed');
    void wb.write((tx) => tx.put('b', 'big', new Uint8Array(1500)), 'committed');
    void wb.write((tx) => tx.put('b', 'record', { pieces: 3 }), 'committed');
    for (let round = 0; round < 8; round++) {
      gated.release();
      await settle();
    }
    // 600 + 600 > 1000: each piece alone; 1500 alone, and a batch over the bound takes nothing more.
    expect(gated.commits.map((c) => c.changes)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(wb.backlogSize()).toBe(0);
  });

  it('holds a write back while the backlog is full, and keeps call order', async () => {
    const gated = new GatedStore();
    const wb = new WriteBehindStore(gated.store, { maxBacklog: 3 });
    const ran: string[] = [];
    const write = (name: string, keys: number) =>
      wb.write((tx) => {
        ran.push(name);
        for (let i = 0; i < keys; i++) tx.put('a', `${name}${i}`, i);
      }, 'committed');
    const first = write('x', 3);
    const second = write('y', 1);
    const third = write('z', 1);
    await first;
    await settle();
    expect(ran).toEqual(['x']);
    expect(wb.backlogSize()).toBe(3);
    gated.release();
    await Promise.all([second, third]);
    expect(ran).toEqual(['x', 'y', 'z']);
    expect(wb.read((tx) => tx.get('a', 'z0'))).toBe(0);
    gated.auto = true;
    gated.release();
    await wb.close();
    expect(gated.inner.read((tx) => [...tx.range('a')].length)).toBe(5);
  });

  it('refuses keys longer than the store underneath takes, and keeps nothing of that write', async () => {
    const wb = new WriteBehindStore(new MemoryStateStore(CONTRACT_TABLES), { maxKeyBytes: 8 });
    await expect(
      wb.write((tx) => {
        tx.put('a', 'ok', 1);
        tx.put('a', 'ééééé', 1);
      }),
    ).rejects.toThrow(/key of 10 bytes is longer than the store takes \(8\)/);
    await expect(wb.write((tx) => tx.put('nope', 'k', 1))).rejects.toThrow(/unknown table/);
    expect(wb.read((tx) => [...tx.range('a')])).toEqual([]);
    expect(wb.backlogSize()).toBe(0);
  });

  it('leaves tables answered above to the store above: commits them, and refuses to read them stale', async () => {
    expect(() => new WriteBehindStore(new MemoryStateStore(CONTRACT_TABLES), { answeredAbove: ['nope'] })).toThrow(
      StorageError,
    );
    const gated = new GatedStore();
    const wb = new WriteBehindStore(gated.store, { answeredAbove: ['a'] });
    await wb.write((tx) => {
      tx.put('a', 'k', 1);
      tx.put('a', 'gone', 1);
      tx.put('b', 'k', 1);
    }, 'committed');
    // A deletion there is passed on without a lookup (which would read the table stale).
    await wb.write((tx) => expect(tx.delete('a', 'gone')).toBe(true), 'committed');
    // The other table reads its pending value; the one answered above would read older data.
    expect(wb.read((tx) => tx.get('b', 'k'))).toBe(1);
    expect(() => wb.read((tx) => tx.get('a', 'k'))).toThrow(/answered by the store above/);
    expect(() => wb.read((tx) => [...tx.range('a')])).toThrow(StorageError);
    const view = wb.snapshotRead();
    // Two transactions: the first write's, then the deletion's.
    for (let round = 0; round < 2; round++) {
      gated.release();
      await settle();
    }
    expect(wb.backlogSize()).toBe(0);
    expect(gated.inner.read((tx) => [tx.get('a', 'k'), tx.get('a', 'gone'), tx.get('b', 'k')])).toEqual([
      1,
      undefined,
      1,
    ]);
    expect(wb.read((tx) => tx.get('a', 'k'))).toBe(1);
    // A view taken while the change was uncommitted stays without it.
    expect(view.get('b', 'k')).toBe(1);
    expect(() => view.get('a', 'k')).toThrow(StorageError);
    view.close();
    const later = wb.snapshotRead();
    expect(later.get('a', 'k')).toBe(1);
    later.close();
  });

  it('after a failed commit underneath, fails what was pending and every later write, and still reads', async () => {
    const gated = new GatedStore();
    const wb = new WriteBehindStore(gated.store);
    await wb.write((tx) => tx.put('a', 'k', 1), 'committed');
    const durable = wb.write((tx) => tx.put('a', 'k', 2), 'durable');
    gated.failNext = true;
    gated.release();
    await expect(durable).rejects.toThrow(StorageError);
    await expect(durable).rejects.toThrow(/state store commit failed: disk full/);
    await expect(wb.write((tx) => tx.put('a', 'k', 3), 'committed')).rejects.toThrow(/disk full/);
    expect(wb.read((tx) => tx.get('a', 'k'))).toBe(2);
  });

  it('with retryWhenFull, holds a batch refused for space, refuses new writes, commits it later', async () => {
    const gated = new GatedStore();
    gated.auto = true;
    const clock = new ManualClock();
    const wb = new WriteBehindStore(gated.store, { retryWhenFull: { clock, ms: 1000 } });
    await wb.write((tx) => tx.put('a', 'k', 1), 'durable');
    gated.full = true;
    await wb.write((tx) => tx.put('a', 'k', 2), 'committed');
    let durableDone = false;
    const durable = wb.write((tx) => tx.put('a', 'j', 3), 'durable').then(() => (durableDone = true));
    await settle();
    expect(wb.diskFullError()).toBeInstanceOf(DiskFullError);
    // What was taken stays readable; a new write is refused before its function runs.
    expect(wb.read((tx) => [tx.get('a', 'k'), tx.get('a', 'j')])).toEqual([2, 3]);
    let ran = false;
    await expect(
      wb.write((tx) => {
        ran = true;
        tx.put('a', 'x', 9);
      }, 'committed'),
    ).rejects.toBeInstanceOf(DiskFullError);
    expect(ran).toBe(false);
    // Still full at the first retry; room at the second, which commits both writes underneath.
    clock.advance(1000);
    await settle();
    expect(durableDone).toBe(false);
    expect(gated.inner.read((tx) => tx.get('a', 'k'))).toBe(1);
    gated.full = false;
    clock.advance(1000);
    await durable;
    expect(wb.diskFullError()).toBeUndefined();
    expect(gated.inner.read((tx) => [tx.get('a', 'k'), tx.get('a', 'j'), tx.get('a', 'x')])).toEqual([2, 3, undefined]);
    await wb.write((tx) => tx.put('a', 'x', 4), 'durable');
    expect(gated.inner.read((tx) => tx.get('a', 'x'))).toBe(4);
    await wb.close();
  });

  it('with retryWhenFull, closing while full fails what was pending and ends', async () => {
    const gated = new GatedStore();
    gated.auto = true;
    const clock = new ManualClock();
    const wb = new WriteBehindStore(gated.store, { retryWhenFull: { clock, ms: 1000 } });
    gated.full = true;
    const durable = wb.write((tx) => tx.put('a', 'k', 1), 'durable');
    await settle();
    await wb.close();
    await expect(durable).rejects.toThrow(/state store commit failed: no space left/);
  });
});

/** An operation of a planned write. */
interface PlannedOp {
  readonly kind: string;
  readonly table?: string;
  readonly key?: string;
  readonly value?: number;
}

/** The states after each write of `plan` made alone, in order (reads change nothing), and the empty one. */
async function prefixStates(plan: ReadonlyArray<{ kind: string; ops?: readonly PlannedOp[] }>): Promise<Set<string>> {
  const s = new MemoryStateStore(CONTRACT_TABLES);
  const states = new Set([dump(s)]);
  for (const step of plan) {
    if (step.kind !== 'write') continue;
    await s
      .write((tx) => {
        for (const o of step.ops ?? []) {
          if (o.kind === 'put') tx.put(o.table as string, o.key as string, o.value);
          else if (o.kind === 'delete') tx.delete(o.table as string, o.key as string);
          else if (o.kind === 'fail') throw new Error('abort');
        }
      })
      .catch(() => undefined);
    states.add(dump(s));
  }
  return states;
}

/** Whether every promise in `all` has settled (checked without waiting on the others). */
async function allSettled(all: ReadonlyArray<Promise<unknown>>): Promise<boolean> {
  const mark = Symbol('pending');
  const states = await Promise.all(all.map((p) => Promise.race([p.then(() => true), Promise.resolve(mark)])));
  return states.every((s) => s !== mark);
}
