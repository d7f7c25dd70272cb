import { describe, expect, it } from 'vitest';
import type { KvRecord } from '../core/kv/types.js';
import { EdgePersistence, memoryFileStore } from './persist.js';

const rec = (value: string): KvRecord => ({
  value: new TextEncoder().encode(value),
  flags: '0',
  createIndex: 1,
  modifyIndex: 1,
  lockIndex: 0,
});
const scope = { prefixes: ['cfg/'], services: [] };

describe('EdgePersistence', () => {
  it('a snapshot (reset) replaces the replica records and keeps the agent id and the outbox', async () => {
    const p = new EdgePersistence(memoryFileStore());
    await p.setMeta('agent-id', 'a1');
    await p.putOutbox(1, { id: 'w1' });
    const empty = { kvDelete: [], healthPut: [], healthDelete: [] };
    await p.saveDelta({ reset: false, kvPut: [['cfg/old', rec('x')]], index: 5, ...empty }, { scope, agentId: 'a1' });
    await p.saveDelta({ reset: true, kvPut: [['cfg/new', rec('y')]], index: 9, ...empty }, { scope, agentId: 'a1' });
    const loaded = await p.loadReplica();
    expect(loaded.meta?.index).toBe(9);
    expect(loaded.kv.map(([k]) => k)).toEqual(['cfg/new']);
    expect(await p.getMeta('agent-id')).toBe('a1');
    expect(await p.loadOutbox()).toEqual([{ id: 'w1' }]);
    await p.close();
  });
});
