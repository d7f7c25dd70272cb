import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../testing/manual-clock.js';
import { seededRng } from '../../testing/seeded-rng.js';
import { registerModule, SIM_KV_TABLE } from '../../testing/sim/register.js';
import { Applier } from '../fsm/applier.js';
import { META_TABLE } from '../fsm/meta.js';
import { StateMachine } from '../fsm/state-machine.js';
import { createTsHotPaths } from '../hotpaths/ts-hot-paths.js';
import { silentLogger } from '../ports/logger.js';
import { bootstrapState } from '../raft/raw-node.js';
import type { Message } from '../raft/types.js';
import { MemoryStateStore } from '../store/memory-store.js';
import { WatchRegistry } from '../watch/watch-registry.js';
import { RaftDriver } from './driver.js';
import { RAFT_LOG_TABLE, RAFT_META_TABLE, RaftStorage } from './storage.js';

const IDS = ['a', 'b', 'c'];
const settle = async () => {
  for (let i = 0; i < 50; i++) await Promise.resolve();
};

/** Three drivers on memory stores, with every message held in `wire` until delivered. */
async function threeDrivers() {
  const clock = new ManualClock();
  const hp = createTsHotPaths();
  const wire: Message[] = [];
  const drivers = new Map<string, RaftDriver>();
  for (const [i, id] of IDS.entries()) {
    const machine = new StateMachine([registerModule]);
    const store = new MemoryStateStore([...machine.tables, META_TABLE, SIM_KV_TABLE, RAFT_LOG_TABLE, RAFT_META_TABLE]);
    const storage = new RaftStorage(store, hp);
    await storage.persist({ ...bootstrapState(IDS), snapshot: undefined, sync: true }, () => undefined);
    drivers.set(
      id,
      new RaftDriver({
        id,
        rng: seededRng(i + 1),
        clock,
        raft: { electionTicks: 10, heartbeatTicks: 1 },
        tickMs: 10,
        storage,
        store,
        stateTables: machine.tables,
        applier: new Applier(store, machine, new WatchRegistry(64), 'committed'),
        logger: silentLogger,
        transport: { send: (messages) => wire.push(...messages) },
        snapshotThreshold: 1_000_000,
        maxPending: 64,
        requestTimeoutMs: 10_000,
        maxQueuedMessages: 1024,
      }),
    );
  }
  const held: Message[] = [];
  /** Delivers what is on the wire, and what that sends, until it is quiet; `only` filters (the rest waits). */
  const deliver = async (only?: (m: Message) => boolean) => {
    for (let round = 0; round < 100; round++) {
      const now = wire.splice(0).filter((m) => {
        if (!only || only(m)) return true;
        held.push(m);
        return false;
      });
      if (now.length === 0) break;
      for (const m of now) drivers.get(m.to)?.receive(m);
      await settle();
    }
    wire.push(...held.splice(0));
  };
  return { clock, wire, drivers, deliver };
}

describe('RaftDriver', () => {
  it('asks one ReadIndex round at a time; reads that come meanwhile share the next one', async () => {
    const { clock, wire, drivers, deliver } = await threeDrivers();
    for (const d of drivers.values()) d.start();
    const leader = async () => [...drivers.values()].find((d) => d.status().role === 'leader');
    for (let i = 0; i < 200 && !(await leader()); i++) {
      clock.advance(10);
      await settle();
      await deliver();
    }
    const lead = (await leader()) as RaftDriver;
    const followerId = IDS.find((id) => drivers.get(id) !== lead) as string;
    const follower = drivers.get(followerId) as RaftDriver;
    await deliver();
    wire.length = 0;
    const readIndexSent = () => wire.filter((m) => m.type === 'readIndex' && m.from === followerId).length;

    let answered = 0;
    const first = follower.readBarrier().then(() => answered++);
    await settle();
    expect(readIndexSent()).toBe(1);
    // Four more while the first round has no read point: none is asked yet.
    const more = [1, 2, 3, 4].map(() => follower.readBarrier().then(() => answered++));
    await settle();
    expect(readIndexSent()).toBe(1);
    // The first round's answer comes back: those four go in one round of their own.
    let asked = 0;
    await deliver((m) => {
      if (m.type === 'readIndex' && m.from === followerId) asked++;
      return true;
    });
    await Promise.all([first, ...more]);
    expect(answered).toBe(5);
    expect(asked).toBe(2);
    for (const d of drivers.values()) await d.close();
  });
});
