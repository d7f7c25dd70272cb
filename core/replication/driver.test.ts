import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../testing/manual-clock.js';
import { seededRng } from '../../testing/seeded-rng.js';
import { registerModule, SIM_KV_TABLE } from '../../testing/sim/register.js';
import { Applier } from '../fsm/applier.js';
import { META_TABLE } from '../fsm/meta.js';
import { StateMachine } from '../fsm/state-machine.js';
import { createTsHotPaths } from '../hotpaths/ts-hot-paths.js';
import { silentLogger } from '../ports/logger.js';
import type { TraceSpan, Tracer } from '../ports/tracing.js';
import { encodeRegisterCommand } from '../../testing/sim/register.js';
import { bootstrapState } from '../raft/raw-node.js';
import type { Message } from '../raft/types.js';
import { MemoryStateStore } from '../store/memory-store.js';
import { WatchRegistry } from '../watch/watch-registry.js';
import { DiskFullError } from '../errors.js';
import { DISK_FULL_RETRY_MS, RaftDriver } from './driver.js';
import { type LogStorage, RAFT_LOG_TABLE, RAFT_META_TABLE, RaftStorage } from './storage.js';

const IDS = ['a', 'b', 'c'];
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const settle = async () => {
  for (let i = 0; i < 50; i++) await Promise.resolve();
};

/** A span as the recording tracer saw it. */
interface RecordedSpan {
  readonly name: string;
  readonly parent: string | undefined;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  failed?: string;
  ended: boolean;
}

/** A Tracer that records spans; current() answers `current.traceparent` (set by the test). */
function recordingTracer() {
  const spans: RecordedSpan[] = [];
  const current: { traceparent: string | undefined } = { traceparent: undefined };
  const tracer: Tracer = {
    enabled: true,
    current: () => current.traceparent,
    within: (_span, fn) => fn(),
    startSpan: (name, _kind, options = {}) => {
      const r: RecordedSpan = { name, parent: options.parent, attributes: options.attributes ?? {}, ended: false };
      spans.push(r);
      const span: TraceSpan = {
        traceparent: () => undefined,
        setAttribute: () => undefined,
        addEvent: () => undefined,
        fail: (message) => (r.failed = message),
        end: () => (r.ended = true),
      };
      return span;
    },
  };
  return { spans, current, tracer };
}

/** Three drivers on memory stores, with every message held in `wire` until delivered. */
async function threeDrivers(tracer?: Tracer, storageOf?: (id: string, storage: LogStorage) => LogStorage) {
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
        storage: storageOf ? storageOf(id, storage) : storage,
        store,
        stateTables: machine.tables,
        applier: new Applier(store, machine, new WatchRegistry(64), 'committed'),
        logger: silentLogger,
        transport: { send: (messages) => wire.push(...messages) },
        snapshotThreshold: 1_000_000,
        maxPending: 64,
        requestTimeoutMs: 10_000,
        maxQueuedMessages: 1024,
        ...(tracer ? { tracer } : {}),
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
  const leader = async (): Promise<RaftDriver> => {
    for (let i = 0; i < 200; i++) {
      const found = [...drivers.values()].find((d) => d.status().role === 'leader');
      if (found) return found;
      clock.advance(10);
      await settle();
      await deliver();
    }
    throw new Error('no leader elected');
  };
  return { clock, wire, drivers, deliver, leader };
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

  it('traces a proposal of a traced write: replicate until committed, then apply; failures end the spans', async () => {
    const { spans, current, tracer } = recordingTracer();
    const { clock, wire, drivers, deliver, leader } = await threeDrivers(tracer);
    for (const d of drivers.values()) d.start();
    const lead = await leader();
    await deliver();
    const put = (value: string) => encodeRegisterCommand({ type: 'sim.put', id: value, key: 'k', value });

    // Untraced writes (no current span) open none.
    const untraced = lead.propose(put('a'));
    await settle();
    await deliver();
    expect((await untraced).ok).toBe(true);
    expect(spans).toEqual([]);

    current.traceparent = TRACEPARENT;
    const traced = lead.propose(put('b'));
    current.traceparent = undefined;
    await settle();
    // Appended, not yet committed (the followers have not answered): only "raft replicate", open.
    expect(spans.map((s) => [s.name, s.ended])).toEqual([['raft replicate', false]]);
    await deliver();
    const result = await traced;
    expect(result.ok).toBe(true);
    expect(spans.map((s) => [s.name, s.parent, s.ended, s.failed])).toEqual([
      ['raft replicate', TRACEPARENT, true, undefined],
      ['raft apply', TRACEPARENT, true, undefined],
    ]);
    expect(spans[1]?.attributes['konsul.raft.index']).toBe(result.index);

    // A traced proposal that never commits (the followers never answer) times out: its span ends failed.
    spans.length = 0;
    current.traceparent = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01';
    const lost = lead.propose(put('c'));
    current.traceparent = undefined;
    const outcome = lost.then(
      () => 'applied',
      (e: unknown) => (e as Error).name,
    );
    for (let i = 0; i < 1100; i++) {
      wire.length = 0;
      clock.advance(10);
      await settle();
    }
    expect(await outcome).not.toBe('applied');
    expect(spans.map((s) => [s.name, s.ended, s.failed !== undefined])).toEqual([['raft replicate', true, true]]);
    for (const d of drivers.values()) await d.close();
  });
  it('pauses applying: nodes keep replicating and committing, apply nothing, and catch up when resumed', async () => {
    const { clock, drivers, deliver, leader } = await threeDrivers();
    for (const d of drivers.values()) d.start();
    const lead = await leader();
    await deliver();
    const [follower, other] = [...drivers.values()].filter((d) => d !== lead) as [RaftDriver, RaftDriver];
    const put = (value: string) => encodeRegisterCommand({ type: 'sim.put', id: value, key: 'k', value });
    /** A few ticks with every message delivered, so the commit index reaches the followers. */
    const rounds = async () => {
      for (let i = 0; i < 5; i++) {
        clock.advance(10);
        await settle();
        await deliver();
      }
    };

    // A paused follower still acknowledges: the leader commits and applies without it.
    follower.pauseApply(true);
    const held = follower.applied();
    const first = lead.propose(put('x'));
    await settle();
    await deliver();
    expect((await first).ok).toBe(true);
    await rounds();
    expect(other.applied()).toBe(lead.applied());
    expect(follower.status().commit).toBeGreaterThanOrEqual(lead.applied());
    expect(follower.applied()).toBe(held);
    follower.pauseApply(false);
    await settle();
    expect(follower.applied()).toBe(lead.applied());

    // A paused leader commits a proposal but does not apply it, so it waits until resumed.
    lead.pauseApply(true);
    let outcome = 'waiting';
    const second = lead.propose(put('y')).then((r) => (outcome = r.ok ? 'applied' : 'failed'));
    await settle();
    await rounds();
    expect(outcome).toBe('waiting');
    expect(lead.status().commit).toBeGreaterThan(lead.applied());
    lead.pauseApply(false);
    await settle();
    await second;
    expect(outcome).toBe('applied');
    for (const d of drivers.values()) await d.close();
  });

  it('on a full disk refuses writes and consistent reads with a clear error, goes on once there is room', async () => {
    let full = false;
    let refusals = 0;
    // The node named `fullNode` cannot append to its log while `full` (as the WAL answers ENOSPC).
    let fullNode = '';
    const { clock, drivers, deliver, leader } = await threeDrivers(undefined, (id, storage) => ({
      load: () => storage.load(),
      hasState: () => storage.hasState(),
      saveSnapshot: (snap) => storage.saveSnapshot(snap),
      persist: (w, also, onDurable) => {
        if (full && id === fullNode && (w.entries.length > 0 || w.hardState)) {
          refusals++;
          return Promise.reject(new DiskFullError('WAL append failed, the disk is full: short write'));
        }
        return storage.persist(w, also, onDurable);
      },
    }));
    for (const d of drivers.values()) d.start();
    // A settled leader: every node names it.
    let lead = await leader();
    for (let i = 0; i < 50; i++) {
      clock.advance(10);
      await settle();
      await deliver();
      lead = await leader();
      if ([...drivers.values()].every((d) => d.status().lead === lead.status().id)) break;
    }
    fullNode = IDS.find((id) => drivers.get(id) !== lead) as string;
    const c = drivers.get(fullNode) as RaftDriver;
    const put = (value: string) => encodeRegisterCommand({ type: 'sim.put', id: value, key: 'k', value });
    const rounds = async (n = 5) => {
      for (let i = 0; i < n; i++) {
        clock.advance(10);
        await settle();
        await deliver();
      }
    };
    full = true;
    const written = lead.propose(put('during'));
    await rounds();
    // The other two commit and apply it; c could not store it.
    expect((await written).ok).toBe(true);
    expect(refusals).toBeGreaterThan(0);
    expect(c.applied()).toBeLessThan(lead.applied());
    // c says why, at once, instead of timing out.
    await expect(c.propose(put('refused'))).rejects.toThrow(/disk under this server's data dir is full/);
    await expect(c.readBarrier()).rejects.toBeInstanceOf(DiskFullError);
    // Still full after a retry: still refusing.
    clock.advance(DISK_FULL_RETRY_MS);
    await rounds();
    await expect(c.propose(put('refused'))).rejects.toBeInstanceOf(DiskFullError);
    // Space again: the retry succeeds, c catches up and takes writes.
    full = false;
    clock.advance(DISK_FULL_RETRY_MS);
    await rounds(20);
    expect(c.applied()).toBe(lead.applied());
    // Its proposals are no longer refused for want of space (a follower's go to the leader, so
    // it answers NotLeaderError instead), and it applies what comes next.
    await expect(c.propose(put('after'))).rejects.not.toBeInstanceOf(DiskFullError);
    // (Back in the game it may have started an election: ask whoever leads now.)
    const now = await leader();
    const after = now.propose(put('after'));
    await rounds();
    expect((await after).ok).toBe(true);
    await rounds();
    expect(c.applied()).toBe(now.applied());
    for (const d of drivers.values()) await d.close();
  });
});
