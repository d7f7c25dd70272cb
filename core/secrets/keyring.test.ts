import { describe, expect, it } from 'vitest';
import { ConfigError, CorruptError, MissingKeyError } from '../errors.js';
import { encodeBase64 } from '../util/base64.js';
import { ENVELOPE_OVERHEAD, HEADER_BYTES, looksSealed, sealedKeyId } from './envelope.js';
import { formatKeyFile, type KeyFile, Keyring, keyIdOf, parseKeyFile } from './keyring.js';

const subtle = globalThis.crypto.subtle;
const keyA = new Uint8Array(32).fill(1);
const keyB = new Uint8Array(32).fill(2);
const file = (keys: Uint8Array[], primary = 0): KeyFile => ({ keys, primary });
const text = (s: string) => new TextEncoder().encode(s);

describe('Keyring', () => {
  it('seals and opens a value (round trip), with the key id in the header', async () => {
    const ring = await Keyring.load(subtle, file([keyA, keyB]));
    const sealed = await ring.seal('app/db/password', text('hunter2'), keyIdOf(keyA));
    expect(sealed.byteLength).toBe(7 + ENVELOPE_OVERHEAD);
    expect(looksSealed(sealed)).toBe(true);
    expect(sealedKeyId(sealed)).toBe(keyIdOf(keyA));
    expect(new TextDecoder().decode(await ring.open('app/db/password', sealed))).toBe('hunter2');
    // The plaintext is nowhere in the envelope.
    expect(Buffer.from(sealed).includes(Buffer.from('hunter2'))).toBe(false);
  });

  it('is deterministic per key name, value and data key, and differs otherwise', async () => {
    const ring = await Keyring.load(subtle, file([keyA, keyB]));
    const a1 = await ring.seal('k', text('v'), keyIdOf(keyA));
    expect(await ring.seal('k', text('v'), keyIdOf(keyA))).toEqual(a1);
    expect(await ring.seal('k2', text('v'), keyIdOf(keyA))).not.toEqual(a1);
    expect(await ring.seal('k', text('w'), keyIdOf(keyA))).not.toEqual(a1);
    expect(await ring.seal('k', text('v'), keyIdOf(keyB))).not.toEqual(a1);
  });

  it('refuses a value sealed under a key it lacks, naming the key id only', async () => {
    const sealed = await (await Keyring.load(subtle, file([keyA]))).seal('k', text('v'), keyIdOf(keyA));
    const other = await Keyring.load(subtle, file([keyB]));
    const err = await other.open('k', sealed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingKeyError);
    expect((err as Error).message).toContain(keyIdOf(keyA));
    expect((err as Error).message).not.toContain(encodeBase64(keyA));
    await expect(other.seal('k', text('v'), keyIdOf(keyA))).rejects.toBeInstanceOf(MissingKeyError);
  });

  it('refuses a tampered ciphertext, nonce or header', async () => {
    const ring = await Keyring.load(subtle, file([keyA]));
    const sealed = await ring.seal('k', text('secret value'), keyIdOf(keyA));
    for (const at of [HEADER_BYTES, HEADER_BYTES + 12, sealed.byteLength - 1]) {
      const bad = sealed.slice();
      bad[at] = (bad[at] as number) ^ 1;
      await expect(ring.open('k', bad)).rejects.toBeInstanceOf(CorruptError);
    }
  });

  it('binds the KV key name: a ciphertext moved to another key does not open', async () => {
    const ring = await Keyring.load(subtle, file([keyA]));
    const sealed = await ring.seal('app/a', text('v'), keyIdOf(keyA));
    await expect(ring.open('app/b', sealed)).rejects.toBeInstanceOf(CorruptError);
  });

  it('binds the key id: an envelope relabelled with another key of the ring does not open', async () => {
    const ring = await Keyring.load(subtle, file([keyA, keyB]));
    const sealed = await ring.seal('k', text('v'), keyIdOf(keyA));
    const idB = Buffer.from(keyIdOf(keyB), 'hex');
    const moved = sealed.slice();
    moved.set(idB, 5);
    expect(sealedKeyId(moved)).toBe(keyIdOf(keyB));
    await expect(ring.open('k', moved)).rejects.toBeInstanceOf(CorruptError);
  });
});

describe('parseKeyFile', () => {
  const a = encodeBase64(keyA);
  const b = encodeBase64(keyB);
  it('reads keys and the primary, and formats them back', () => {
    const f = parseKeyFile(JSON.stringify({ keys: [a, b], primary: b }));
    expect(f.primary).toBe(1);
    expect(parseKeyFile(formatKeyFile(f))).toEqual(f);
  });
  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['no keys', JSON.stringify({ keys: [], primary: a })],
    ['a short key', JSON.stringify({ keys: [encodeBase64(new Uint8Array(16))], primary: a })],
    ['a key twice', JSON.stringify({ keys: [a, a], primary: a })],
    ['a primary not among the keys', JSON.stringify({ keys: [a], primary: b })],
    ['an unknown field', JSON.stringify({ keys: [a], primary: a, extra: 1 })],
  ])('refuses %s without quoting key material', (_, body) => {
    let err: unknown;
    try {
      parseKeyFile(body);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain(a);
    expect((err as Error).message).not.toContain(b);
  });
});
