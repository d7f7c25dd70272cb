import { describe, expect, it } from 'vitest';
import { silentLogger } from '../ports/logger.js';
import { MemoryStateStore } from '../store/memory-store.js';
import { ManualClock } from '../../testing/manual-clock.js';
import { SessionTtl } from './ttl.js';
import { SESSIONS_TABLE, type SessionRecord } from './types.js';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

function record(id: string, ttl: string): SessionRecord {
  return {
    ID: id,
    Name: '',
    Node: 'n',
    LockDelay: 0,
    Behavior: 'release',
    TTL: ttl,
    NodeChecks: [],
    ServiceChecks: null,
    CreateIndex: 1,
    ModifyIndex: 1,
  };
}

async function setup(sessions: SessionRecord[], failFirst = 0) {
  const store = new MemoryStateStore([SESSIONS_TABLE]);
  await store.write((tx) => {
    for (const s of sessions) tx.put(SESSIONS_TABLE, s.ID, s);
  });
  const clock = new ManualClock();
  const expired: string[] = [];
  let failures = failFirst;
  const ttl = new SessionTtl({
    clock,
    logger: silentLogger,
    read: (fn) => store.read(fn),
    expire: async (id) => {
      if (failures-- > 0) throw new Error('No cluster leader');
      expired.push(id);
      await store.write((tx) => tx.delete(SESSIONS_TABLE, id));
    },
    sweepMs: 1000,
    maxTracked: 10,
  });
  return { store, clock, ttl, expired };
}

describe('SessionTtl', () => {
  it('does nothing until active; on activation every TTL session gets a full 2 x TTL', async () => {
    const t = await setup([record('a', '10s'), record('b', '30s'), record('none', '')]);
    t.clock.advance(100_000);
    expect(t.expired).toEqual([]);
    t.ttl.activate();
    expect(t.ttl.size).toBe(2);
    expect(t.ttl.deadlineOf('a')).toBe(t.clock.now() + 20_000);
    t.clock.advance(19_000);
    await settle();
    expect(t.expired).toEqual([]);
    t.clock.advance(1_000);
    await settle();
    expect(t.expired).toEqual(['a']);
    t.clock.advance(40_000);
    await settle();
    expect(t.expired).toEqual(['a', 'b']);
    expect(t.ttl.size).toBe(0);
  });

  it('renewals push the deadline back; losing leadership forgets deadlines and a new term starts fresh', async () => {
    const t = await setup([record('a', '10s')]);
    t.ttl.activate();
    t.clock.advance(15_000);
    t.ttl.renewed(record('a', '10s'));
    t.clock.advance(15_000);
    await settle();
    expect(t.expired).toEqual([]);
    t.ttl.deactivate();
    expect(t.ttl.size).toBe(0);
    t.clock.advance(60_000);
    await settle();
    expect(t.expired).toEqual([]);
    t.ttl.renewed(record('a', '10s'));
    expect(t.ttl.size).toBe(0);
    t.ttl.activate();
    expect(t.ttl.deadlineOf('a')).toBe(t.clock.now() + 20_000);
  });

  it('retries an expiry that could not be committed, while still active', async () => {
    const t = await setup([record('a', '10s')], 2);
    t.ttl.activate();
    t.clock.advance(20_000);
    await settle();
    expect(t.expired).toEqual([]);
    for (let i = 0; i < 2; i++) {
      t.clock.advance(1_000);
      await settle();
    }
    expect(t.expired).toEqual(['a']);
  });

  it('picks up sessions created by another path on its next sweep, and drops destroyed ones', async () => {
    const t = await setup([]);
    t.ttl.activate();
    await t.store.write((tx) => tx.put(SESSIONS_TABLE, 'late', record('late', '10s')));
    t.clock.advance(1_000);
    expect(t.ttl.deadlineOf('late')).toBe(t.clock.now() + 20_000);
    await t.store.write((tx) => tx.delete(SESSIONS_TABLE, 'late'));
    t.clock.advance(1_000);
    expect(t.ttl.size).toBe(0);
  });
});
