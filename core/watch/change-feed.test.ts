import { describe, expect, it } from 'vitest';
import { ChangeFeed, type FeedMessage, type FeedSubscription } from './change-feed.js';

const feed = (maxEvents = 1000) =>
  new ChangeFeed({ tables: ['kv'], maxEvents, maxBytes: 1 << 20, maxSubscribers: 1000, startIndex: 0 });

/** Lets pending promise callbacks run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** Starts next() on each subscription, recording what each one resolves with. */
function pull(subs: readonly FeedSubscription[]): Array<FeedMessage[] | undefined> {
  const got: Array<FeedMessage[] | undefined> = subs.map(() => undefined);
  subs.forEach((s, i) => void s.next().then((m) => (got[i] = m)));
  return got;
}

describe('ChangeFeed wakes only the subscriptions a change concerns', () => {
  it('a key change wakes the subscriptions whose prefix it falls under, no others', async () => {
    const f = feed();
    const subs = Array.from({ length: 100 }, (_, i) => f.subscribe({ table: 'kv', prefix: `p${i}/` }, { index: 0 }));
    const all = f.subscribe({ table: 'kv', prefix: '' }, { index: 0 });
    const got = pull([...subs, all]);
    await settle();
    f.applied([{ index: 1, change: { table: 'kv', key: 'p7/x' } }], 1);
    await settle();
    expect(f.wakeups).toBe(2);
    expect(got[7]?.[0]).toMatchObject({ kind: 'change', index: 1 });
    expect(got[100]?.[0]).toMatchObject({ kind: 'change', index: 1 });
    expect(got.filter((g) => g !== undefined)).toHaveLength(2);
    // A change of another table is not retained and wakes nobody.
    f.applied([{ index: 2, change: { table: 'other', key: 'p8/x' } }], 2);
    await settle();
    expect(f.wakeups).toBe(2);
    for (const s of [...subs, all]) s.close();
  });

  it('a tree delete wakes the subscriptions it overlaps', async () => {
    const f = feed();
    const subs = Array.from({ length: 30 }, (_, i) => f.subscribe({ table: 'kv', prefix: `p${i}/` }, { index: 0 }));
    const got = pull(subs);
    await settle();
    f.applied([{ index: 1, change: { table: 'kv', prefix: 'p1' } }], 1);
    await settle();
    // p1/ and p10/ .. p19/
    expect(f.wakeups).toBe(11);
    expect(got.filter((g) => g !== undefined)).toHaveLength(11);
    for (const s of subs) s.close();
  });

  it('a waiter overtaken by eviction is woken and told to resync; a replace wakes everyone', async () => {
    const f = feed(4);
    const quiet = f.subscribe({ table: 'kv', prefix: 'quiet/' }, { index: 0 });
    const got = pull([quiet]);
    await settle();
    expect(got[0]).toBeUndefined();
    f.applied(
      Array.from({ length: 6 }, (_, i) => ({ index: i + 1, change: { table: 'kv', key: `busy/${i}` } })),
      6,
    );
    await settle();
    expect(f.wakeups).toBe(1);
    expect(got[0]?.[0]).toMatchObject({ kind: 'resync', reason: 'behind' });
    const others = Array.from({ length: 3 }, (_, i) => f.subscribe({ table: 'kv', prefix: `x${i}/` }, { index: 6 }));
    const after = pull(others);
    await settle();
    f.replaced(7);
    await settle();
    expect(after.every((m) => m?.[0]?.kind === 'resync')).toBe(true);
    quiet.close();
    for (const s of others) s.close();
  });

  it('a subscriber resuming from a position this server has not applied yet gets nothing twice', async () => {
    // Found by the nemesis: a watcher moved from a server that was ahead to one behind it, with
    // Last-Event-ID 3, and was sent index 3 again when this server applied it.
    const f = feed();
    f.applied([{ index: 1, change: { table: 'kv', key: 'w/1' } }], 1);
    const after3 = f.subscribe({ table: 'kv', prefix: 'w/' }, { index: 3 });
    const after3seq0 = f.subscribe({ table: 'kv', prefix: 'w/' }, { index: 3, seq: 0 });
    f.applied([{ index: 2, change: { table: 'kv', key: 'w/2' } }], 2);
    f.applied(
      [
        { index: 3, change: { table: 'kv', key: 'w/3a' } },
        { index: 3, change: { table: 'kv', key: 'w/3b' } },
      ],
      3,
    );
    f.applied([{ index: 4, change: { table: 'kv', key: 'w/4' } }], 4);
    const keys = (ms: FeedMessage[]) =>
      ms.map((m) => (m.kind === 'change' && 'key' in m.change ? m.change.key : m.kind));
    expect(keys(await after3.next())).toEqual(['w/4']);
    expect(keys(await after3seq0.next())).toEqual(['w/3b']);
    expect(keys(await after3seq0.next())).toEqual(['w/4']);
    after3.close();
    after3seq0.close();
  });
});
