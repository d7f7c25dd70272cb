import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../fsm/command.js';
import { StateMachine } from '../fsm/state-machine.js';
import { readAppliedIndex } from '../fsm/meta.js';
import { silentLogger } from '../ports/logger.js';
import { MemoryStateStore } from '../store/memory-store.js';
import { ManualClock } from '../../testing/manual-clock.js';
import type { KvCommand } from './commands.js';
import { kvModule } from './state-machine.js';
import { sessionLockHolders } from '../session/bindings.js';
import { TombstoneGc } from './tombstone-gc.js';

describe('TombstoneGc', () => {
  it('reaps tombstones once they are older than the TTL, through a command', async () => {
    const machine = new StateMachine([kvModule(sessionLockHolders)]);
    const store = new MemoryStateStore(machine.tables);
    const clock = new ManualClock();
    const apply = (c: KvCommand) =>
      store.writeSync((tx) => machine.apply(tx, { index: readAppliedIndex(tx) + 1, data: encodeCommand(c) }, () => {}));
    const reaps: number[] = [];
    const gc = new TombstoneGc({
      clock,
      logger: silentLogger,
      ttlMs: 60_000,
      granularityMs: 10_000,
      appliedIndex: () => store.read(readAppliedIndex),
      read: (fn) => store.read(fn),
      reap: async (upTo) => {
        reaps.push(upTo);
        apply({ type: 'kv.reap-tombstones', upTo });
      },
    });
    const tombstones = () => store.read((tx) => [...tx.range('kv_tombstones')].length);
    apply({ type: 'kv.set', key: 'a', value: new Uint8Array([1]), flags: '0' });
    apply({ type: 'kv.delete', key: 'a' }); // tombstone at index 2
    await gc.tick(); // samples index 2 at t0
    clock.advance(30_000);
    apply({ type: 'kv.set', key: 'b', value: new Uint8Array([1]), flags: '0' });
    apply({ type: 'kv.delete', key: 'b' }); // tombstone at index 4
    await gc.tick();
    clock.advance(29_999);
    await gc.tick();
    expect(reaps).toEqual([]);
    expect(tombstones()).toBe(2);
    clock.advance(1);
    await gc.tick(); // the t0 sample (index 2) is now 60 s old
    expect(reaps).toEqual([2]);
    expect(tombstones()).toBe(1);
    clock.advance(30_000);
    await gc.tick(); // the t0+30 s sample (index 4) is now 60 s old
    expect(reaps).toEqual([2, 4]);
    expect(tombstones()).toBe(0);
    clock.advance(120_000);
    await gc.tick();
    expect(reaps).toEqual([2, 4]); // nothing left to reap: no command
  });
});
