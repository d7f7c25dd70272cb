import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../testing/harness.js';
import { sealedKeyUsage, type KvUseKeyCommand } from '../kv/sealed.js';
import { KV_TABLE, type KvRecord } from '../kv/types.js';
import { silentLogger } from '../ports/logger.js';
import { sealedKeyId } from '../secrets/envelope.js';
import { Keyring, keyIdOf } from '../secrets/keyring.js';
import { encodeBase64 } from '../util/base64.js';
import { SecretsRotation } from './rotation.js';
import { Secrets } from './secrets.js';

const subtle = globalThis.crypto.subtle;
const keyA = new Uint8Array(32).fill(7);
const keyB = new Uint8Array(32).fill(9);
const idA = keyIdOf(keyA);
const idB = keyIdOf(keyB);

async function node(prefixes: readonly string[] = [], keys = [keyA, keyB]): Promise<TestNode> {
  const keyring = await Keyring.load(subtle, { keys, primary: 0 });
  return createTestNode({ secrets: { keyring, prefixes } });
}
const stored = (n: TestNode, key: string) => n.store.read((tx) => tx.get<KvRecord>(KV_TABLE, key));
const put = (n: TestNode, key: string, body: string) => n.request(`/v1/kv/${key}`, { method: 'PUT', body });
const raw = async (n: TestNode, key: string) => (await n.request(`/v1/kv/${key}?raw`)).text();

describe('encrypted values through the API', () => {
  it('stores values under an encrypted prefix sealed, answers them in plaintext, leaves the rest as sent', async () => {
    const n = await node(['secret/']);
    expect(await (await put(n, 'secret/db', 'hunter2')).text()).toBe('true');
    await put(n, 'public/x', 'plain');
    const rec = stored(n, 'secret/db') as KvRecord;
    expect(sealedKeyId(rec.value)).toBe(idA);
    expect(Buffer.from(rec.value).includes(Buffer.from('hunter2'))).toBe(false);
    expect(new TextDecoder().decode((stored(n, 'public/x') as KvRecord).value)).toBe('plain');
    expect(await raw(n, 'secret/db')).toBe('hunter2');
    const [entry] = (await (await n.request('/v1/kv/secret/db')).json()) as { Value: string }[];
    expect(entry?.Value).toBe(encodeBase64(new TextEncoder().encode('hunter2')));
    const all = (await (await n.request('/v1/kv/?recurse')).json()) as { Key: string; Value: string }[];
    expect(all.map((e) => Buffer.from(e.Value, 'base64').toString())).toEqual(['plain', 'hunter2']);
    expect(n.store.read(sealedKeyUsage)).toEqual(new Map([[idA, 1]]));
  });

  it('keeps an identical rewrite a no-op, and counts values out when deleted', async () => {
    const n = await node();
    await put(n, 'a', 'v1');
    const first = stored(n, 'a') as KvRecord;
    await put(n, 'a', 'v1');
    expect((stored(n, 'a') as KvRecord).modifyIndex).toBe(first.modifyIndex);
    await put(n, 'b', 'v2');
    expect(n.store.read(sealedKeyUsage).get(idA)).toBe(2);
    await n.request('/v1/kv/a', { method: 'DELETE' });
    await n.request('/v1/kv/?recurse', { method: 'DELETE' });
    expect(n.store.read(sealedKeyUsage).size).toBe(0);
  });

  it('seals transaction writes and opens transaction reads', async () => {
    const n = await node();
    const value = encodeBase64(new TextEncoder().encode('txn-secret'));
    const res = await n.request('/v1/txn', {
      method: 'PUT',
      body: JSON.stringify([{ KV: { Verb: 'set', Key: 't/1', Value: value } }, { KV: { Verb: 'get', Key: 't/1' } }]),
    });
    const body = (await res.json()) as { Results: { KV: { Value: string | null } }[] };
    expect(body.Results[1]?.KV.Value).toBe(value);
    expect(sealedKeyId((stored(n, 't/1') as KvRecord).value)).toBe(idA);
  });

  it('seals a value that looks like an envelope even outside the prefixes (no client can forge one)', async () => {
    const n = await node(['secret/']);
    await put(n, 'secret/a', 'x');
    const envelope = (stored(n, 'secret/a') as KvRecord).value;
    await n.request('/v1/kv/public/fake', { method: 'PUT', body: envelope as Uint8Array<ArrayBuffer> });
    // Read back, it is exactly the bytes the client sent (it was sealed once more, then opened).
    expect(Buffer.from(await (await n.request('/v1/kv/public/fake?raw')).arrayBuffer())).toEqual(Buffer.from(envelope));
  });

  it('answers 503 naming the key id when this node lacks the key of a value', async () => {
    const n = await node([], [keyA]);
    await put(n, 'k', 'v');
    // The same data read by a node holding only key B.
    n.deps.secrets?.replaceKeyring(await Keyring.load(subtle, { keys: [keyB], primary: 0 }));
    const res = await n.request('/v1/kv/k');
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(text).toContain(idA);
    expect(text).not.toContain(encodeBase64(keyA));
  });
});

/** Runs the job's timers until `done()` holds (a deadline of turns, never of time). */
async function runUntil(n: TestNode, done: () => boolean, between: () => Promise<void> = async () => undefined) {
  for (let turn = 0; turn < 2000 && !done(); turn++) {
    n.clock.advance(1000);
    await between();
    for (let i = 0; i < 20; i++) await Promise.resolve();
    await new Promise((r) => setImmediate(r));
  }
  expect(done()).toBe(true);
}

describe('SecretsRotation', () => {
  it('re-seals every value under the new primary while writes go on, losing none', async () => {
    const n = await node();
    const secrets = n.deps.secrets as Secrets;
    const expected = new Map<string, string>();
    for (let i = 0; i < 60; i++) {
      await put(n, `app/${String(i).padStart(3, '0')}`, `v${i}`);
      expected.set(`app/${String(i).padStart(3, '0')}`, `v${i}`);
    }
    const rotation = new SecretsRotation(
      {
        read: (fn) => n.store.read(fn),
        writer: n.deps.writer,
        secrets,
        clock: n.clock,
        isLeader: () => true,
        logger: silentLogger,
      },
      { batchItems: 7, batchBytes: 1 << 20, pollMs: 1000 },
    );
    await n.deps.writer.submit({ type: 'kv.use-key', keyId: idB } satisfies KvUseKeyCommand);
    rotation.start();
    let round = 0;
    // Concurrent writes: some keys change between batches (sealed with B already), some are new.
    await runUntil(
      n,
      () => rotation.status().Remaining === 0 && round > 5,
      async () => {
        round++;
        const key = `app/${String((round * 13) % 60).padStart(3, '0')}`;
        await put(n, key, `w${round}`);
        expected.set(key, `w${round}`);
        await put(n, `new/${round}`, `n${round}`);
        expected.set(`new/${round}`, `n${round}`);
      },
    );
    rotation.stop();
    const usage = n.store.read(sealedKeyUsage);
    expect([...usage.keys()]).toEqual([idB]);
    expect(usage.get(idB)).toBe(expected.size);
    for (const [key, value] of expected) expect(await raw(n, key)).toBe(value);
    expect(rotation.status().Resealed).toBeGreaterThan(0);
  });

  it('seals plaintext values under the prefixes when a pass is asked for', async () => {
    const keyring = await Keyring.load(subtle, { keys: [keyA], primary: 0 });
    const n = createTestNode();
    await put(n, 'secret/old', 'before-encryption');
    const secrets = new Secrets(keyring, ['secret/'], (fn) => n.store.read(fn));
    const rotation = new SecretsRotation({
      read: (fn) => n.store.read(fn),
      writer: n.deps.writer,
      secrets,
      clock: n.clock,
      isLeader: () => true,
      logger: silentLogger,
    });
    rotation.start();
    rotation.requestPass(true);
    await runUntil(n, () => rotation.status().Sealed === 1);
    rotation.stop();
    expect(sealedKeyId((stored(n, 'secret/old') as KvRecord).value)).toBe(idA);
    expect(
      new TextDecoder().decode(await secrets.open('secret/old', (stored(n, 'secret/old') as KvRecord).value)),
    ).toBe('before-encryption');
  });
});
