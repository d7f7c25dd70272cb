import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertySeed } from '../../testing/kv-arbitraries.js';
import { serviceHealth } from '../catalog/queries.js';
import { listEntries } from '../kv/queries.js';
import { MemoryStateStore } from '../store/memory-store.js';
import { createTestNode, type TestNode } from '../../testing/harness.js';
import { WatchRegistry } from '../watch/watch-registry.js';
import {
  decodeRetained,
  decodeSyncMessage,
  encodeBatchForBroker,
  encodeRetained,
  encodeSyncMessage,
  SnapshotAssembler,
  type SyncMessage,
} from './codec.js';
import { REPLICA_TABLES, Replica } from './replica.js';
import { normalizeScope } from './scope.js';
import { SyncStream } from './stream.js';
import { pack, unpack } from '../util/msgpack.js';
import type { SyncBatch } from './types.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const put = (n: TestNode, path: string, body: unknown) =>
  n.request(path, { method: 'PUT', body: typeof body === 'string' ? body : JSON.stringify(body) });

const scope = normalizeScope({ prefixes: ['app/', 'cfg', 'app/sub/'], services: ['web', 'db'] });

const opArb = fc.oneof(
  fc.record({
    t: fc.constant('set' as const),
    key: fc.constantFrom('app/a', 'app/sub/b', 'cfg', 'cfg2', 'other/x'),
    v: fc.nat(3),
  }),
  fc.record({ t: fc.constant('del' as const), key: fc.constantFrom('app/a', 'cfg', 'other/x') }),
  fc.record({ t: fc.constant('tree' as const), key: fc.constantFrom('app/', 'app/sub/', 'c', 'other/') }),
  fc.record({
    t: fc.constant('txn' as const),
    keys: fc.uniqueArray(fc.constantFrom('app/a', 'app/z', 'cfg', 'other/y'), { minLength: 1, maxLength: 3 }),
    v: fc.nat(3),
  }),
  fc.record({
    t: fc.constant('reg' as const),
    svc: fc.constantFrom('web', 'db', 'cache'),
    node: fc.constantFrom('n1', 'n2'),
    status: fc.constantFrom('passing', 'critical'),
  }),
  fc.record({
    t: fc.constant('dereg' as const),
    svc: fc.constantFrom('web', 'db', 'cache'),
    node: fc.constantFrom('n1', 'n2'),
  }),
  fc.record({
    t: fc.constant('nodecheck' as const),
    node: fc.constantFrom('n1', 'n2'),
    status: fc.constantFrom('passing', 'warning'),
  }),
  fc.record({ t: fc.constant('nodegone' as const), node: fc.constantFrom('n1', 'n2') }),
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

async function run(n: TestNode, op: Op): Promise<void> {
  switch (op.t) {
    case 'set':
      await put(n, `/v1/kv/${op.key}`, `v${op.v}`);
      return;
    case 'del':
      await n.request(`/v1/kv/${op.key}`, { method: 'DELETE' });
      return;
    case 'tree':
      await n.request(`/v1/kv/${op.key}?recurse`, { method: 'DELETE' });
      return;
    case 'txn':
      await put(
        n,
        '/v1/txn',
        op.keys.map((k) => ({ KV: { Verb: 'set', Key: k, Value: b64(`t${op.v}`) } })),
      );
      return;
    case 'reg':
      await put(n, '/v1/catalog/register', {
        Node: op.node,
        Address: '10.0.0.1',
        Service: { ID: `${op.svc}-1`, Service: op.svc, Port: 80 },
        Check: { CheckID: `${op.svc}-check`, ServiceID: `${op.svc}-1`, Status: op.status },
      });
      return;
    case 'dereg':
      await put(n, '/v1/catalog/deregister', { Node: op.node, ServiceID: `${op.svc}-1` });
      return;
    case 'nodecheck':
      await put(n, '/v1/catalog/register', {
        Node: op.node,
        Address: '10.0.0.1',
        Check: { CheckID: 'serfHealth', Status: op.status },
      });
      return;
    case 'nodegone':
      await put(n, '/v1/catalog/deregister', { Node: op.node });
  }
}

/** What the scope shows on the server or the replica: entries per prefix and health per service. */
function view(read: <T>(fn: (tx: import('../ports/state-store.js').ReadTxn) => T) => T): string {
  return read((tx) =>
    JSON.stringify({
      kv: scope.prefixes.map((p) =>
        listEntries(tx, p).value.map((e) => [e.key, [...e.value], e.flags, e.createIndex, e.modifyIndex, e.lockIndex]),
      ),
      health: scope.services.map((s) =>
        serviceHealth(tx, s).value.map((h) => [
          h.node,
          h.service,
          [...h.checks].sort((a, b) => (a.CheckID < b.CheckID ? -1 : 1)),
        ]),
      ),
    }),
  );
}

/**
 * The MQTT bridge's encoding of `batch` is encodeSyncMessage's byte for byte, and each retained
 * payload is the change's entry at the batch's index (none for deletions and tree deletions).
 */
function expectBrokerEncoding(batch: SyncBatch): void {
  const { message, retained } = encodeBatchForBroker(batch);
  expect(Buffer.from(message).equals(Buffer.from(encodeSyncMessage({ k: 'batch', batch })))).toBe(true);
  expect(retained).toHaveLength(batch.changes.length);
  batch.changes.forEach((ch, i) => {
    const payload = retained[i];
    if (ch.t === 'kv-tree' || ch.entry === null) return expect(payload).toBeNull();
    const bytes = payload as Uint8Array;
    // Undefined fields are left out, as in the message.
    const entry = unpack(pack(ch.entry, { ignoreUndefined: true }));
    if (ch.t === 'kv') expect(decodeRetained(bytes, 'kv')).toEqual({ index: batch.index, entry });
    else expect(decodeRetained(bytes, 'health')).toEqual({ index: batch.index, entry });
  });
}

describe('edge sync (snapshot, batches, resume, resync) against a replica', () => {
  const title =
    'a replica that syncs through any disconnects and feed overflows ends equal to the server within its scope';
  it(title, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(opArb, fc.constantFrom('none', 'none', 'none', 'none', 'pump', 'reconnect', 'progress')), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.constantFrom(4, 1000),
        async (steps, feedSize) => {
          const server = createTestNode({ feed: { maxEvents: feedSize } });
          const source = {
            feed: server.feed,
            read: <T>(fn: (tx: import('../ports/state-store.js').ReadTxn) => T) => server.store.read(fn),
          };
          const replica = new Replica(new MemoryStateStore(REPLICA_TABLES), new WatchRegistry(10), scope);
          const assembler = new SnapshotAssembler();
          let stream = new SyncStream(source, scope, null);
          const apply = async (messages: SyncMessage[]) => {
            for (const raw of messages) {
              // Every message survives the wire codec.
              const m = decodeSyncMessage(encodeSyncMessage(raw));
              if (raw.k === 'batch') expectBrokerEncoding(raw.batch);
              if (m.k === 'chunk') {
                const snap = assembler.add(m.chunk);
                if (snap) await replica.applySnapshot(snap);
              } else if (m.k === 'batch') {
                const r = await replica.applyBatch(m.batch);
                expect(
                  r.applied || r.reason === 'duplicate',
                  `batch ${m.batch.index} after ${m.batch.prev}: ${JSON.stringify(r)}`,
                ).toBe(true);
              }
            }
          };
          const pump = async () => {
            for (let m = stream.poll(); m.length > 0; m = stream.poll()) await apply(m);
          };
          for (const [op, action] of steps) {
            await run(server, op);
            if (action === 'pump') await pump();
            if (action === 'progress') {
              await pump();
              const p = stream.progress();
              if (p) await apply([p]);
            }
            if (action === 'reconnect') {
              await pump();
              stream.close();
              stream = new SyncStream(source, scope, replica.lastIndex);
            }
          }
          await pump();
          stream.close();
          expect(view((fn) => replica.read(fn))).toBe(view((fn) => server.store.read(fn)));
        },
      ),
      { seed: propertySeed('edge sync'), numRuns: 120 },
    );
  });

  it('a stream that falls behind the feed sends a fresh snapshot in place of the lost changes', async () => {
    const server = createTestNode({ feed: { maxEvents: 4 } });
    const replica = new Replica(new MemoryStateStore(REPLICA_TABLES), new WatchRegistry(10), scope);
    const assembler = new SnapshotAssembler();
    const stream = new SyncStream({ feed: server.feed, read: (fn) => server.store.read(fn) }, scope, null);
    const kinds: string[] = [];
    const pump = async () => {
      for (let ms = stream.poll(); ms.length > 0; ms = stream.poll()) {
        for (const m of ms) {
          kinds.push(m.k);
          if (m.k === 'chunk') {
            const snap = assembler.add(m.chunk);
            if (snap) await replica.applySnapshot(snap);
          } else if (m.k === 'batch') expect((await replica.applyBatch(m.batch)).applied).toBe(true);
        }
      }
    };
    await pump();
    await put(server, '/v1/kv/app/first', '1');
    await pump();
    for (let i = 0; i < 10; i++) await put(server, `/v1/kv/app/${i}`, `${i}`);
    await pump();
    expect(kinds).toEqual(['chunk', 'batch', 'chunk']);
    expect(view((fn) => replica.read(fn))).toBe(view((fn) => server.store.read(fn)));
  });

  it('detects a gap in a batch chain and refuses it; refuses malformed messages', async () => {
    const replica = new Replica(new MemoryStateStore(REPLICA_TABLES), new WatchRegistry(10), scope);
    await replica.applySnapshot({ index: 10, kv: [], health: [] });
    expect(await replica.applyBatch({ index: 12, prev: 11, changes: [] })).toEqual({ applied: false, reason: 'gap' });
    expect(await replica.applyBatch({ index: 9, prev: 5, changes: [] })).toEqual({
      applied: false,
      reason: 'duplicate',
    });
    expect((await replica.applyBatch({ index: 12, prev: 8, changes: [] })).applied).toBe(true);
    expect(replica.lastIndex).toBe(12);
    expect(() => decodeSyncMessage(new Uint8Array([1, 2, 3]))).toThrow(/malformed sync message/);
    expect(() =>
      decodeSyncMessage(
        encodeSyncMessage({
          k: 'batch',
          batch: { index: 1, prev: 0, changes: [{ t: 'kv', key: 'a', entry: { value: 'x' } }] },
        } as never),
      ),
    ).toThrow(/KV entry/);
  });

  it('retained topic payloads round-trip, and anything else is refused as corrupt', () => {
    const rec = { value: new Uint8Array([1, 2, 3]), flags: '0', createIndex: 4, modifyIndex: 5, lockIndex: 0 };
    expect(decodeRetained(encodeRetained(5, rec), 'kv')).toEqual({ index: 5, entry: rec });
    const health = {
      node: { Node: 'n1' },
      service: { ID: 'web-1', Service: 'web' },
      checks: [{ CheckID: 'c', Status: 'passing' }],
    };
    expect(decodeRetained(encodeRetained(6, health as never), 'health').entry).toEqual(health);
    expect(() => decodeRetained(encodeRetained(5, rec), 'health')).toThrow(/malformed sync message/);
    expect(() => decodeRetained(encodeRetained(6, health as never), 'kv')).toThrow(/malformed sync message/);
    expect(() => decodeRetained(new TextEncoder().encode('{"index":1}'), 'kv')).toThrow(/malformed sync message/);
    expect(() => decodeRetained(encodeRetained(-1, rec), 'kv')).toThrow(/malformed sync message/);
  });

  it("encodes a batch of many changes for the broker as encodeSyncMessage does, each entry's payload apart", () => {
    const rec = (i: number) => ({
      value: new Uint8Array([i]),
      flags: '0',
      createIndex: i,
      modifyIndex: 70_000 + i,
      lockIndex: 0,
      session: undefined,
    });
    const changes = [
      ...Array.from({ length: 20 }, (_, i) => ({ t: 'kv' as const, key: `k/${'x'.repeat(i * 5)}`, entry: rec(i) })),
      { t: 'kv' as const, key: 'gone', entry: null },
      { t: 'kv-tree' as const, prefix: 'old/', keys: ['old/a', 'old/b'] },
    ];
    const batch = { index: 4_294_967_296 + 7, prev: 70_019, changes };
    expectBrokerEncoding(batch);
    const { retained } = encodeBatchForBroker(batch);
    expect(decodeRetained(retained[3] as Uint8Array, 'kv')).toEqual({
      index: batch.index,
      entry: { ...rec(3), session: undefined },
    });
    expect(retained.slice(20)).toEqual([null, null]);
  });
});
