import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, tempDir, until } from '../testing/process.js';
import { spawnEdge, type SpawnedEdge } from '../testing/spawn-edge.js';
import { spawnServer } from '../testing/spawn-server.js';
import { TcpRelay } from '../testing/tcp-relay.js';

afterAll(cleanupAll);

const call = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text() };
};
const as = (secret: string) => ({ 'X-Consul-Token': secret });

/** Every byte of every file under `dir`, as text (for looking for secrets). */
function allFiles(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    out += statSync(path).isDirectory() ? allFiles(path) : readFileSync(path).toString('latin1');
  }
  return out;
}

interface Status {
  Connected: boolean;
  Acl: { Mode: string; Index: number; Grants: number };
}
interface OutboxView {
  Path: string;
  Status: string;
  Writer?: string;
  Result?: { StatusCode: number; Body: string };
}

describe('edge agent with ACLs on', () => {
  const title =
    'checks tokens itself from replicated hashes, offline too; queues offline writes only under a grant; ' +
    'the servers refuse a replay whose writer lost permission';
  it(title, async () => {
    const server = await spawnServer({ args: ['--acl-enabled', '--acl-default-policy', 'deny'] });
    const up = server.url;
    const mgmt = ((await (await fetch(`${up}/v1/acl/bootstrap`, { method: 'PUT' })).json()) as { SecretID: string })
      .SecretID;
    const make = async (name: string, rules: string) => {
      const p = await fetch(`${up}/v1/acl/policy`, {
        method: 'PUT',
        headers: as(mgmt),
        body: JSON.stringify({ Name: name, Rules: rules }),
      });
      const policy = (await p.json()) as { ID: string };
      const t = await fetch(`${up}/v1/acl/token`, {
        method: 'PUT',
        headers: as(mgmt),
        body: JSON.stringify({ Policies: [{ ID: policy.ID }] }),
      });
      return { ...((await t.json()) as { SecretID: string; AccessorID: string }), policy: policy.ID };
    };
    const agentToken = await make(
      'edge-agent',
      'acl = "read"\nnode "edge-1" { policy = "write" }\nkey_prefix "cfg/" { policy = "read" }',
    );
    const reader = await make('reader', 'key_prefix "cfg/" { policy = "read" }');
    const writer = await make('writer', 'key_prefix "cfg/" { policy = "write" }');
    const late = await make('late-writer', 'key_prefix "cfg/" { policy = "write" }');
    const stranger = await make('stranger', 'key_prefix "cfg/" { policy = "write" }');
    expect((await call(`${up}/v1/kv/cfg/a`, { method: 'PUT', body: 'one', headers: as(mgmt) })).status).toBe(200);

    // The agent reaches the server through a relay the test can cut.
    const relay = await TcpRelay.start(`${server.host}:${server.port}`);
    const dataDir = tempDir('konsul-edge-');
    const edgeArgs = ['--token', agentToken.SecretID, '--node-name', 'edge-1', '--prefix', 'cfg/'];
    const start = () => spawnEdge({ upstream: `http://${relay.address}`, dataDir, args: edgeArgs });
    let edge: SpawnedEdge = await start();
    const status = async () =>
      JSON.parse((await call(`${edge.url}/v1/edge/status`, { headers: as(mgmt) })).body) as Status;
    await until('ACL data on the agent', status, (s) => s.Acl.Mode === 'on' && s.Connected);
    // Its own endpoints need agent:read on it: no token is refused.
    expect((await call(`${edge.url}/v1/edge/status`)).status).toBe(403);

    const read = (secret?: string) => call(`${edge.url}/v1/kv/cfg/a?raw`, secret ? { headers: as(secret) } : {});
    const checkReads = async () => {
      expect(await read(reader.SecretID)).toEqual({ status: 200, body: 'one' });
      expect((await read()).status).toBe(403);
      expect(await read('6b0a7bc5-0000-4000-8000-000000000000')).toEqual({ status: 403, body: 'ACL not found\n' });
    };
    await until(
      'cfg/a replicated',
      () => read(reader.SecretID),
      (r) => r.body === 'one',
    );
    await checkReads();

    // Online, writes go to the servers; each writer gets a grant as it writes.
    const write = (key: string, secret: string) =>
      call(`${edge.url}/v1/kv/${key}`, { method: 'PUT', body: `by ${key}`, headers: as(secret) });
    expect(await write('cfg/w1', writer.SecretID)).toEqual({ status: 200, body: 'true' });
    expect(await write('cfg/l1', late.SecretID)).toEqual({ status: 200, body: 'true' });
    expect((await write('cfg/r1', reader.SecretID)).status).toBe(403);
    await until('two grants', status, (s) => s.Acl.Grants === 2);

    relay.cut();
    await until('the agent offline', status, (s) => !s.Connected);
    // Offline, the agent decides: a read-only token's write is refused here, not queued.
    const refused = await write('cfg/r2', reader.SecretID);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain(`token with AccessorID '${reader.AccessorID}' lacks permission 'key:write'`);
    // A writer that never wrote through this agent online has no grant: nothing is queued for it.
    const ungranted = await write('cfg/s1', stranger.SecretID);
    expect(ungranted.status).toBe(503);
    expect(ungranted.body).toContain(`no valid write grant for the token with AccessorID '${stranger.AccessorID}'`);
    expect((await write('cfg/w2', writer.SecretID)).status).toBe(202);
    expect((await write('cfg/l2', late.SecretID)).status).toBe(202);
    await checkReads();

    // Restarted while still offline, it enforces with what it kept — and kept no secret in clear.
    expect(await edge.stop()).toBe(0);
    const onDisk = allFiles(dataDir);
    for (const secret of [mgmt, agentToken.SecretID, reader.SecretID, writer.SecretID, late.SecretID])
      expect(onDisk).not.toContain(secret);
    expect(onDisk).toContain(reader.AccessorID);
    edge = await start();
    expect((await status()).Acl).toMatchObject({ Mode: 'on', Grants: 2 });
    await checkReads();
    const outbox = async () =>
      JSON.parse((await call(`${edge.url}/v1/edge/outbox`, { headers: as(mgmt) })).body) as OutboxView[];
    expect((await outbox()).map((i) => [i.Path, i.Status, i.Writer])).toEqual([
      ['/v1/kv/cfg/w2', 'pending', writer.AccessorID],
      ['/v1/kv/cfg/l2', 'pending', late.AccessorID],
    ]);

    // A new agent told --acl-enabled that never reached the servers serves nothing it cannot check.
    const fresh = await spawnEdge({ upstream: `http://${relay.address}`, args: [...edgeArgs, '--acl-enabled'] });
    const blind = await call(`${fresh.url}/v1/kv/cfg/a?raw`, { headers: as(reader.SecretID) });
    expect(blind.status).toBe(503);
    expect(blind.body).toContain('has not yet learned from the servers whether ACLs are on');
    await fresh.stop();

    // Meanwhile the late writer loses its write permission on the servers.
    const narrowed = await call(`${up}/v1/acl/policy/${late.policy}`, {
      method: 'PUT',
      headers: as(mgmt),
      body: JSON.stringify({ Name: 'late-writer', Rules: 'key_prefix "cfg/" { policy = "read" }' }),
    });
    expect(narrowed.status).toBe(200);
    relay.heal();
    const done = await until('both replays answered', outbox, (l) => l.every((i) => i.Status !== 'pending'));
    expect(done.map((i) => i.Status)).toEqual(['applied', 'failed']);
    expect(done[1]?.Result?.StatusCode).toBe(403);
    expect(done[1]?.Result?.Body).toContain(`token with AccessorID '${late.AccessorID}' lacks permission 'key:write'`);
    expect(await call(`${up}/v1/kv/cfg/w2?raw`, { headers: as(mgmt) })).toEqual({ status: 200, body: 'by cfg/w2' });
    expect((await call(`${up}/v1/kv/cfg/l2`, { headers: as(mgmt) })).status).toBe(404);
    await edge.stop();
    await relay.close();
    await server.stop();
  });
});
