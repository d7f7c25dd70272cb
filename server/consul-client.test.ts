import Consul from 'consul';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, spawnServer, type SpawnedServer } from '../testing/spawn-server.js';

let server: SpawnedServer;
let consul: InstanceType<typeof Consul>;

beforeAll(async () => {
  server = await spawnServer();
  consul = new Consul({ host: server.host, port: server.port });
});
afterAll(async () => {
  await server?.stop();
  await cleanupAll();
});

describe('the consul npm client against a real server process', () => {
  it('sets, gets and deletes keys', async () => {
    expect(await consul.kv.set('client/a', 'alpha')).toBe(true);
    const got = (await consul.kv.get('client/a')) as { Key: string; Value: string; CreateIndex: number };
    expect(got).toMatchObject({ Key: 'client/a', Value: 'alpha', Flags: 0, LockIndex: 0 });
    expect(await consul.kv.del('client/a')).toBe(true);
    expect(await consul.kv.get('client/a')).toBeUndefined();
  });

  it('lists keys with a separator and values recursively', async () => {
    await consul.kv.set('tree/one', '1');
    await consul.kv.set('tree/sub/two', '2');
    await consul.kv.set('tree/sub/three', '3');
    expect(await consul.kv.keys('tree/')).toEqual(['tree/one', 'tree/sub/three', 'tree/sub/two']);
    expect(await consul.kv.keys({ key: 'tree/', separator: '/' })).toEqual(['tree/one', 'tree/sub/']);
    const all = (await consul.kv.get({ key: 'tree/', recurse: true })) as Array<{ Key: string; Value: string }>;
    expect(all.map((e) => [e.Key, e.Value])).toEqual([
      ['tree/one', '1'],
      ['tree/sub/three', '3'],
      ['tree/sub/two', '2'],
    ]);
    expect(await consul.kv.del({ key: 'tree/', recurse: true })).toBe(true);
    // Like Consul, a prefix with no keys is a 404, which this client reports as an error.
    await expect(consul.kv.keys('tree/')).rejects.toThrow(/not found/);
  });

  it('does check-and-set and keeps flags', async () => {
    expect(await consul.kv.set({ key: 'cas/k', value: 'v1', cas: 0, flags: 42 })).toBe(true);
    // The client turns Consul's `false` body into a falsy result (undefined).
    expect(await consul.kv.set({ key: 'cas/k', value: 'v2', cas: 0 })).toBeFalsy();
    const e = (await consul.kv.get('cas/k')) as { ModifyIndex: number; Flags: number };
    expect(e.Flags).toBe(42);
    expect(await consul.kv.set({ key: 'cas/k', value: 'v2', cas: e.ModifyIndex + 100 })).toBeFalsy();
    expect(await consul.kv.get('cas/k')).toMatchObject({ Value: 'v1' });
    expect(await consul.kv.set({ key: 'cas/k', value: 'v2', cas: e.ModifyIndex })).toBe(true);
    const e2 = (await consul.kv.get('cas/k')) as { ModifyIndex: number };
    expect(await consul.kv.del({ key: 'cas/k', cas: e.ModifyIndex })).toBeFalsy();
    expect(await consul.kv.get('cas/k')).toMatchObject({ Value: 'v2' });
    expect(await consul.kv.del({ key: 'cas/k', cas: e2.ModifyIndex })).toBe(true);
  });

  it('reads raw values as bytes', async () => {
    await consul.kv.set('raw/k', Buffer.from([0, 255, 1, 254]));
    const raw = (await consul.kv.get({ key: 'raw/k', raw: true })) as unknown as Buffer;
    expect([...raw]).toEqual([0, 255, 1, 254]);
  });

  it('watches a key by index and sees each change', async () => {
    await consul.kv.set('watch/k', 'v0');
    const watch = consul.watch({ method: consul.kv.get, options: { key: 'watch/k', wait: '10s' } as never });
    const seen: string[] = [];
    const gotAll = new Promise<void>((resolve, reject) => {
      watch.on('change', (data: { Value?: string } | undefined) => {
        seen.push(data?.Value ?? '<deleted>');
        if (seen.length === 1) void consul.kv.set('watch/k', 'v1');
        if (seen.length === 2) void consul.kv.set('watch/k', 'v2');
        if (seen.length === 3) resolve();
      });
      watch.on('error', reject);
    });
    await gotAll;
    watch.end();
    expect(seen).toEqual(['v0', 'v1', 'v2']);
  });

  it('reads leader, peers and agent self', async () => {
    expect(await consul.status.leader()).toBe(server.raftAddr);
    expect(await consul.status.peers()).toEqual([server.raftAddr]);
    const self = (await consul.agent.self()) as { Config: { Datacenter: string } };
    expect(self.Config.Datacenter).toBe('dc1');
  });
});
