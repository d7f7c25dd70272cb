import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../core/secrets/keyring.js';
import { until } from '../testing/process.js';
import { spawnEdge } from '../testing/spawn-edge.js';
import { cleanupAll, devServerArgs, runCli, spawnServer, tempDir } from '../testing/spawn-server.js';

afterAll(cleanupAll);

const newKey = (): Buffer => Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32)));
const b64 = (k: Buffer) => k.toString('base64');

/** Writes a key file holding `keys` with `primary` first unless given. */
function keyFile(keys: Buffer[], primary: Buffer = keys[0] as Buffer): string {
  const path = join(tempDir('konsul-keys-'), 'keys.json');
  writeFileSync(path, JSON.stringify({ keys: keys.map(b64), primary: b64(primary) }), { mode: 0o600 });
  return path;
}

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path);
    return st.isDirectory() ? filesUnder(path) : st.isFile() ? [path] : [];
  });
}

/** The files under `dir` whose bytes contain `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const bytes = Buffer.from(needle);
  return filesUnder(dir).filter((f) => readFileSync(f).includes(bytes));
}

const put = (url: string, key: string, body: string) => fetch(`${url}/v1/kv/${key}`, { method: 'PUT', body });
const rawGet = async (url: string, key: string) => {
  const res = await fetch(`${url}/v1/kv/${key}?raw`);
  return { status: res.status, text: await res.text() };
};

describe('encrypted values at rest', () => {
  it('keeps a known secret out of the data dir (LMDB and WAL) and snapshots while reads answer it', async () => {
    const secret = `s3cret-${b64(newKey())}`;
    const keyName = `app/db/password-${Date.now().toString(36)}`;
    const file = keyFile([newKey()]);
    const server = await spawnServer({ args: ['--encrypt-key-file', file] });
    expect(await (await put(server.url, keyName, secret)).text()).toBe('true');
    expect(await rawGet(server.url, keyName)).toEqual({ status: 200, text: secret });
    const [entry] = (await (await fetch(`${server.url}/v1/kv/${keyName}`)).json()) as { Value: string }[];
    expect(Buffer.from(entry?.Value ?? '', 'base64').toString()).toBe(secret);
    const snapshot = Buffer.from(await (await fetch(`${server.url}/v1/snapshot`)).arrayBuffer());
    // The grep can find what is there: key names are not encrypted.
    expect(snapshot.includes(Buffer.from(keyName))).toBe(true);
    expect(snapshot.includes(Buffer.from(secret))).toBe(false);
    expect(await server.stop()).toBe(0);
    expect(filesHolding(server.dataDir, keyName).length).toBeGreaterThan(0);
    expect(filesHolding(server.dataDir, secret)).toEqual([]);
    expect(filesHolding(server.dataDir, Buffer.from(secret).toString('base64'))).toEqual([]);
  });

  it('refuses to start with a keyring that lacks a key in use, without one, or with a bad key file', async () => {
    const keyA = newKey();
    const server = await spawnServer({ args: ['--encrypt-key-file', keyFile([keyA])] });
    await put(server.url, 'k1', 'v1');
    await put(server.url, 'k2', 'v2');
    await server.stop();
    const start = (extra: string[]) => runCli(devServerArgs(server.dataDir, extra));
    const wrong = await start(['--encrypt-key-file', keyFile([newKey()])]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain(`the keyring lacks key ${keyIdOf(keyA)} used by 2 values`);
    expect(wrong.err).not.toContain(b64(keyA));
    const none = await start([]);
    expect(none.code).toBe(1);
    expect(none.err).toContain('the data holds 2 encrypted values');
    const bad = join(tempDir('konsul-keys-'), 'bad.json');
    writeFileSync(bad, JSON.stringify({ keys: ['c2hvcnQ='], primary: 'c2hvcnQ=' }));
    const malformed = await start(['--encrypt-key-file', bad]);
    expect(malformed.code).toBe(1);
    expect(malformed.err).toMatch(/--encrypt-key-file .*keys\[0\] is not a key/);
    const missing = await start(['--encrypt-key-file', join(tempDir(), 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot read --encrypt-key-file .*no such file/);
    // With the right key it starts and reads.
    const again = await spawnServer({ dataDir: server.dataDir, args: ['--encrypt-key-file', keyFile([keyA])] });
    expect(await rawGet(again.url, 'k2')).toEqual({ status: 200, text: 'v2' });
    await again.stop();
  });

  it('rotates the primary under concurrent writes, losing nothing; every value ends under the new key', async () => {
    const keyA = newKey();
    const keyB = newKey();
    const [idA, idB] = [keyIdOf(keyA), keyIdOf(keyB)];
    const file = keyFile([keyA]);
    const server = await spawnServer({ args: ['--encrypt-key-file', file, '--encrypt-prefix', 'app/'] });
    const url = server.url;
    const expected = new Map<string, string>();
    for (let i = 0; i < 400; i++) {
      const key = `app/${String(i).padStart(4, '0')}`;
      await put(url, key, `v0-${i}`);
      expected.set(key, `v0-${i}`);
    }
    // Install key B on this (only) server through the CLI, then make it the primary.
    const cli = (args: string[]) => runCli([...args, '-http-addr', url.replace('http://', '')]);
    const installed = await cli(['secrets', 'keyring', 'install', b64(keyB)]);
    expect(installed.out).toContain(`Installed key ${idB}`);
    expect(JSON.parse(readFileSync(file, 'utf8')).keys).toEqual([b64(keyA), b64(keyB)]);
    // A loop writing keys (updates and new ones) while the rotation runs.
    let writing = true;
    let round = 0;
    const writer = (async () => {
      while (writing) {
        round++;
        const key = `app/${String((round * 37) % 400).padStart(4, '0')}`;
        expect(await (await put(url, key, `v${round}`)).text()).toBe('true');
        expected.set(key, `v${round}`);
        const fresh = `app/new/${round}`;
        await put(url, fresh, `n${round}`);
        expected.set(fresh, `n${round}`);
      }
    })();
    const used = await cli(['secrets', 'keyring', 'use', idB]);
    expect(used.code, used.out).toBe(0);
    // Refused: B is the primary; A still encrypts values (or would, were the job done: checked below).
    expect((await cli(['secrets', 'keyring', 'remove', idB])).err).toContain('is the primary');
    type Status = { Remaining: number; Running: boolean; Resealed: number; Keys: Record<string, number> };
    const rotation = () => fetch(`${url}/v1/operator/secrets/rotation`).then((r) => r.json() as Promise<Status>);
    await until(
      'some writes during the rotation',
      async () => round,
      (r) => r > 20,
      30_000,
    );
    const done = await until('the rotation', rotation, (s) => s.Remaining === 0 && !s.Running, 60_000);
    writing = false;
    await writer;
    // Writes made after the switch were sealed with B already; nothing is left under A.
    const end = await until('the last pass', rotation, (s) => s.Remaining === 0 && !s.Running, 30_000);
    expect(Object.keys(end.Keys)).toEqual([idB]);
    expect(end.Keys[idB]).toBe(expected.size);
    expect(done.Resealed).toBeGreaterThan(0);
    for (const [key, value] of expected) expect((await rawGet(url, key)).text).toBe(value);
    const removed = await cli(['secrets', 'keyring', 'remove', idA]);
    expect(removed.code, removed.out).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8')).keys).toEqual([b64(keyB)]);
    expect(filesHolding(server.dataDir, 'v0-17')).toEqual([]);
    await server.stop();
  }, 120_000);

  it('keeps values sealed in an edge replica, served in plaintext only by an agent with the key file', async () => {
    const secret = `edge-secret-${b64(newKey())}`;
    const key = newKey();
    const file = keyFile([key]);
    const server = await spawnServer({ args: ['--encrypt-key-file', file] });
    await put(server.url, 'cfg/password', secret);
    const edge = await spawnEdge({ upstream: server.url, args: ['--prefix', 'cfg/', '--encrypt-key-file', file] });
    await until(
      'the replica',
      () => rawGet(edge.url, 'cfg/password'),
      (r) => r.text === secret,
    );
    const blind = await spawnEdge({ upstream: server.url, args: ['--prefix', 'cfg/'] });
    const refused = await until(
      'the blind replica',
      () => rawGet(blind.url, 'cfg/password'),
      (r) => r.status === 503,
    );
    expect(refused.text).toContain(keyIdOf(key));
    await edge.stop();
    await blind.stop();
    expect(filesUnder(edge.dataDir).length).toBeGreaterThan(0);
    expect(filesHolding(edge.dataDir, secret)).toEqual([]);
    expect(filesHolding(edge.dataDir, 'cfg/password').length).toBeGreaterThan(0);
    await server.stop();
  }, 60_000);
});
