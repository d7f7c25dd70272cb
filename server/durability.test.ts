import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, spawnServer, tempDir } from '../testing/spawn-server.js';

afterAll(cleanupAll);

const WRITERS = 16;
const ROUNDS = 3;

describe('durability', () => {
  it('keeps every acknowledged write across kill -9 and restart', async () => {
    const dataDir = tempDir();
    const acked = new Map<string, string>();
    let maxAckedIndexProbe = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const server = await spawnServer({ dataDir });
      // Every write acknowledged before the kill must be readable after the restart.
      for (const [key, value] of acked) {
        const res = await fetch(`${server.url}/v1/kv/${key}?raw`);
        expect(res.status, `${key} lost after kill -9`).toBe(200);
        expect(await res.text()).toBe(value);
      }
      const probe = await fetch(`${server.url}/v1/kv/probe/${round}`, { method: 'PUT', body: 'p' });
      expect(await probe.text()).toBe('true');
      const [entry] = (await (await fetch(`${server.url}/v1/kv/probe/${round}`)).json()) as Array<{
        ModifyIndex: number;
      }>;
      expect(entry!.ModifyIndex).toBeGreaterThan(maxAckedIndexProbe);
      maxAckedIndexProbe = entry!.ModifyIndex;

      let killed = false;
      const target = 200 + round * 150;
      const writers = Array.from({ length: WRITERS }, async (_, w) => {
        for (let i = 0; !killed; i++) {
          const key = `d/${round}/${w}/${i}`;
          const value = `${round}-${w}-${i}-${'x'.repeat(i % 64)}`;
          try {
            const res = await fetch(`${server.url}/v1/kv/${key}`, { method: 'PUT', body: value });
            if ((await res.text()) === 'true') acked.set(key, value);
          } catch {
            return; // the server is gone
          }
          if (!killed && acked.size >= target * (round + 1)) {
            killed = true;
            server.proc.kill('SIGKILL');
          }
        }
      });
      await Promise.all(writers);
      expect(await server.stop()).toBe('SIGKILL');
    }
    expect(acked.size).toBeGreaterThanOrEqual(200);
    const final = await spawnServer({ dataDir });
    const keys = (await (await fetch(`${final.url}/v1/kv/d/?keys`)).json()) as string[];
    for (const k of acked.keys()) expect(keys).toContain(k);
    await final.stop();
  });

  it('recovers from an LMDB file rolled back to an older state (a machine crash) by replaying the WAL', async () => {
    const dataDir = tempDir();
    const put = async (url: string, key: string) => {
      const res = await fetch(`${url}/v1/kv/${key}`, { method: 'PUT', body: `value of ${key}` });
      expect(await res.text()).toBe('true');
    };
    let server = await spawnServer({ dataDir });
    for (let i = 0; i < 5; i++) await put(server.url, `rb/${i}`);
    await server.stop();
    // LMDB commits without a flush (the WAL is what is synced): a machine crash may leave the
    // file as an older commit left it. An older copy of it stands in for that.
    copyFileSync(join(dataDir, 'state.mdb'), join(dataDir, 'older.mdb'));
    server = await spawnServer({ dataDir });
    for (let i = 5; i < 20; i++) await put(server.url, `rb/${i}`);
    server.proc.kill('SIGKILL');
    await server.stop();
    copyFileSync(join(dataDir, 'older.mdb'), join(dataDir, 'state.mdb'));
    server = await spawnServer({ dataDir });
    const keys = (await (await fetch(`${server.url}/v1/kv/rb/?keys`)).json()) as string[];
    expect(keys.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `rb/${i}`).sort());
    const res = await fetch(`${server.url}/v1/kv/rb/19?raw`);
    expect(await res.text()).toBe('value of rb/19');
    await server.stop();
  });
});
