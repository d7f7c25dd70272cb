import { describe, expect, it } from 'vitest';
import { OverloadedError, ShuttingDownError, StorageError } from '../errors.js';
import { Applier } from '../fsm/applier.js';
import { encodeCommand } from '../fsm/command.js';
import { StateMachine } from '../fsm/state-machine.js';
import { readAppliedIndex } from '../fsm/meta.js';
import { kvModule } from '../kv/state-machine.js';
import { sessionLockHolders } from '../session/bindings.js';
import { MemoryStateStore } from '../store/memory-store.js';
import { WatchRegistry } from '../watch/watch-registry.js';
import { SingleNodeCommitter } from './single-node-committer.js';

function setup(limits = { maxPendingProposals: 100, maxBatchEntries: 8, maxBatchBytes: 1 << 20 }) {
  const machine = new StateMachine([kvModule(sessionLockHolders)]);
  const store = new MemoryStateStore(machine.tables);
  let writes = 0;
  let failNext = false;
  const counting = Object.assign(Object.create(store) as MemoryStateStore, {
    write: <T>(fn: Parameters<MemoryStateStore['write']>[0]) => {
      writes++;
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error('disk full'));
      }
      return store.write(fn) as Promise<T>;
    },
  });
  const committer = new SingleNodeCommitter(new Applier(counting, machine, new WatchRegistry(10)), limits);
  const set = (key: string) => encodeCommand({ type: 'kv.set', key, value: new Uint8Array([1]), flags: '0' });
  return { store, committer, set, writes: () => writes, failNextWrite: () => (failNext = true) };
}

describe('SingleNodeCommitter', () => {
  it('assigns contiguous indexes in proposal order and groups proposals into batches', async () => {
    const t = setup();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => t.committer.propose(t.set(`k${i}`))));
    expect(results.map((r) => r.index)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // 20 proposals in one turn, at most 8 per batch: 3 transactions.
    expect(t.writes()).toBe(3);
    expect(t.store.read(readAppliedIndex)).toBe(20);
  });

  it('refuses proposals beyond the pending bound', async () => {
    const t = setup({ maxPendingProposals: 2, maxBatchEntries: 8, maxBatchBytes: 1 << 20 });
    const ok = [t.committer.propose(t.set('a')), t.committer.propose(t.set('b'))];
    await expect(t.committer.propose(t.set('c'))).rejects.toBeInstanceOf(OverloadedError);
    await Promise.all(ok);
  });

  it('fails a batch whose transaction fails, applies nothing of it, and recovers', async () => {
    const t = setup();
    await t.committer.propose(t.set('a'));
    t.failNextWrite();
    await expect(t.committer.propose(t.set('b'))).rejects.toBeInstanceOf(StorageError);
    const r = await t.committer.propose(t.set('c'));
    expect(r.index).toBe(2);
    expect(t.store.read((tx) => [...tx.range('kv')].map(([k]) => k))).toEqual(['a', 'c']);
  });

  it('finishes accepted proposals on close, then refuses new ones', async () => {
    const t = setup();
    const pending = t.committer.propose(t.set('a'));
    await t.committer.close();
    expect((await pending).ok).toBe(true);
    await expect(t.committer.propose(t.set('b'))).rejects.toBeInstanceOf(ShuttingDownError);
  });
});
