import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../fsm/command.js';
import { StateMachine, type ApplyResult } from '../fsm/state-machine.js';
import { MemoryStateStore } from '../store/memory-store.js';
import { compareKeys } from '../util/keys.js';
import type { KvCommand } from './commands.js';
import { kvCommandArb, propertySeed } from '../../testing/kv-arbitraries.js';
import { getEntry, listEntries, listKeys } from './queries.js';
import { kvModule } from './state-machine.js';
import { sessionLockHolders } from '../session/bindings.js';

interface ModelEntry {
  value: Uint8Array;
  flags: string;
  createIndex: number;
  modifyIndex: number;
}

/** The reference: a plain Map and the rules of Consul's KVS, written as simply as possible. */
class MapModel {
  readonly entries = new Map<string, ModelEntry>();

  apply(index: number, c: KvCommand): unknown {
    const same = (e: ModelEntry | undefined, value: Uint8Array, flags: string) =>
      e !== undefined && e.flags === flags && Buffer.from(e.value).equals(Buffer.from(value));
    const set = (key: string, value: Uint8Array, flags: string) => {
      const e = this.entries.get(key);
      if (same(e, value, flags)) return;
      this.entries.set(key, { value, flags, createIndex: e?.createIndex ?? index, modifyIndex: index });
    };
    switch (c.type) {
      case 'kv.set':
        set(c.key, c.value, c.flags);
        return true;
      case 'kv.cas': {
        const e = this.entries.get(c.key);
        if (c.cas === 0 ? e !== undefined : e?.modifyIndex !== c.cas) return false;
        set(c.key, c.value, c.flags);
        return true;
      }
      case 'kv.delete':
        this.entries.delete(c.key);
        return true;
      case 'kv.delete-cas': {
        const e = this.entries.get(c.key);
        if (e === undefined) return true;
        if (e.modifyIndex !== c.cas) return false;
        this.entries.delete(c.key);
        return true;
      }
      case 'kv.delete-tree':
        for (const k of [...this.entries.keys()]) if (k.startsWith(c.prefix)) this.entries.delete(k);
        return true;
      default:
        throw new Error(`model does not know ${c.type}`);
    }
  }

  sortedKeys(prefix: string): string[] {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
  }

  keys(prefix: string, sep: string): string[] {
    const out: string[] = [];
    for (const k of this.sortedKeys(prefix)) {
      const at = sep ? k.indexOf(sep, prefix.length) : -1;
      const rolled = at >= 0 ? k.slice(0, at + sep.length) : k;
      if (out[out.length - 1] !== rolled) out.push(rolled);
    }
    return out;
  }
}

function newMachine() {
  const machine = new StateMachine([kvModule(sessionLockHolders)]);
  const store = new MemoryStateStore(machine.tables);
  let index = 0;
  const apply = (c: KvCommand): ApplyResult => {
    index++;
    return store.writeSync((tx) => machine.apply(tx, { index, data: encodeCommand(c) }, () => {}));
  };
  return { store, apply, index: () => index };
}

const PREFIXES = ['', 'a', 'a/', 'b', 'a/b', '/', '\u00e9'];

describe('KV state machine against a Map model', () => {
  it('gives the same results and state for random command sequences', () => {
    const seed = propertySeed('kv model');
    fc.assert(
      fc.property(fc.array(kvCommandArb, { maxLength: 60 }), (commands) => {
        const sm = newMachine();
        const model = new MapModel();
        const lastIndex = new Map<string, number>();
        for (const c of commands) {
          const r = sm.apply(c);
          expect(r.ok).toBe(true);
          expect(r.ok && r.value).toEqual(model.apply(r.index, c));
          sm.store.read((tx) => {
            for (const [key, e] of model.entries) {
              const got = getEntry(tx, key).value;
              expect(got && { ...got, value: Buffer.from(got.value) }).toEqual({
                key,
                value: Buffer.from(e.value),
                flags: e.flags,
                createIndex: e.createIndex,
                modifyIndex: e.modifyIndex,
                lockIndex: 0,
              });
            }
            for (const p of PREFIXES) {
              const list = listEntries(tx, p);
              expect(list.value.map((e) => e.key)).toEqual(model.sortedKeys(p));
              for (const sep of ['', '/']) expect(listKeys(tx, p, sep).value).toEqual(model.keys(p, sep));
              // Index rules: covers every listed entry, never 0 once anything happened, never backwards.
              for (const e of list.value) expect(list.index).toBeGreaterThanOrEqual(e.modifyIndex);
              expect(list.index).toBeGreaterThanOrEqual(lastIndex.get(p) ?? 0);
              lastIndex.set(p, list.index);
            }
          });
        }
        expect(sm.store.read((tx) => [...tx.range('kv')].length)).toBe(model.entries.size);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('is deterministic: the same commands give byte-identical tables', () => {
    const seed = propertySeed('kv determinism');
    fc.assert(
      fc.property(fc.array(kvCommandArb, { maxLength: 40 }), (commands) => {
        const a = newMachine();
        const b = newMachine();
        for (const c of commands) {
          a.apply(c);
          b.apply(c);
        }
        for (const t of ['kv', 'kv_tombstones', 'meta']) {
          expect(a.store.read((tx) => [...tx.range(t)])).toEqual(b.store.read((tx) => [...tx.range(t)]));
        }
      }),
      { seed, numRuns: 100 },
    );
  });
});

describe('KV state machine details', () => {
  it('a missing key reports the table index, which deletes raise', () => {
    const sm = newMachine();
    sm.apply({ type: 'kv.set', key: 'a', value: new Uint8Array([1]), flags: '0' });
    sm.apply({ type: 'kv.delete', key: 'a' });
    expect(sm.store.read((tx) => getEntry(tx, 'zzz').index)).toBe(2);
    // A no-op delete changes no table.
    sm.apply({ type: 'kv.delete', key: 'never' });
    expect(sm.store.read((tx) => getEntry(tx, 'zzz').index)).toBe(2);
  });

  it('reaps tombstones up to an index, and only those', () => {
    const sm = newMachine();
    const v = new Uint8Array([1]);
    sm.apply({ type: 'kv.set', key: 'x/1', value: v, flags: '0' });
    sm.apply({ type: 'kv.set', key: 'x/2', value: v, flags: '0' });
    sm.apply({ type: 'kv.delete', key: 'x/1' }); // tombstone at 3
    sm.apply({ type: 'kv.delete', key: 'x/2' }); // tombstone at 4
    expect(sm.store.read((tx) => listEntries(tx, 'x/').index)).toBe(4);
    const r = sm.apply({ type: 'kv.reap-tombstones', upTo: 3 });
    expect(r.ok && r.value).toBe(1);
    expect(sm.store.read((tx) => [...tx.range('kv_tombstones')].map(([k]) => k))).toEqual(['>x/2']);
  });

  it('reports malformed commands as failed results and changes nothing but the applied index', () => {
    const machine = new StateMachine([kvModule(sessionLockHolders)]);
    const store = new MemoryStateStore(machine.tables);
    const bad = [
      encodeCommand({ type: 'kv.nope' }),
      encodeCommand({ type: 'kv.set', key: 'k', value: 'not bytes', flags: '0' } as never),
      encodeCommand({ type: 'kv.set', key: 'k', value: new Uint8Array(), flags: '007' } as never),
      encodeCommand({ type: 'kv.cas', key: 'k', value: new Uint8Array(), flags: '0', cas: -1 } as never),
      new Uint8Array([0xc1]),
    ];
    bad.forEach((data, i) => {
      const r = store.writeSync((tx) => machine.apply(tx, { index: i + 1, data }, () => {}));
      expect(r.ok).toBe(false);
    });
    expect(store.read((tx) => [...tx.range('kv')])).toEqual([]);
    expect(store.read((tx) => tx.get('meta', 'applied'))).toBe(bad.length);
  });

  it('refuses non-contiguous indexes', () => {
    const machine = new StateMachine([kvModule(sessionLockHolders)]);
    const store = new MemoryStateStore(machine.tables);
    const data = encodeCommand({ type: 'kv.delete', key: 'k' });
    expect(() => store.writeSync((tx) => machine.apply(tx, { index: 2, data }, () => {}))).toThrow(/contiguous/);
  });
});
