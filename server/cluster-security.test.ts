import { makePki } from '../testing/pki.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePorts, TestClusterProcesses } from '../testing/cluster-harness.js';
import { cleanupAll, spawnServer, tempDir } from '../testing/spawn-server.js';

let cluster: TestClusterProcesses | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});
afterAll(cleanupAll);

async function outsider(args: string[]) {
  const [http, raft] = (await freePorts(2)).map((p) => `127.0.0.1:${p}`);
  const s = await spawnServer({
    cluster: true,
    dataDir: tempDir(),
    args: ['--node-name', 'n9', '--http-addr', http as string, '--raft-addr', raft as string, ...args],
  });
  return { s, http: http as string };
}

describe('who may join', () => {
  it('refuses, and logs, a server without the join token', async () => {
    cluster = await TestClusterProcesses.start(3, ['--join-token', 'correct-horse']);
    const leader = await cluster.waitForLeader();
    expect(await (await fetch(`http://${leader.http}/v1/kv/t`, { method: 'PUT', body: 'v' })).text()).toBe('true');
    const bad = await outsider(['--join-token', 'wrong-token', '--join', leader.raft]);
    await leader.server?.waitFor(/raft connection refused: join token missing or wrong[^\n]*"peer":"n9"/);
    expect(leader.server?.output()).not.toMatch(/wrong-token|correct-horse/);
    const conf = (await (await fetch(`http://${leader.http}/v1/operator/raft/configuration`)).json()) as {
      Servers: Array<{ Node: string }>;
    };
    expect(conf.Servers.map((s) => s.Node)).not.toContain('n9');
    await bad.s.stop('SIGKILL');
  });

  it('with mutual TLS, forms a cluster and refuses peers without a certificate from the CA', async () => {
    const dir = tempDir();
    const good = makePki(dir, 'good');
    const other = makePki(dir, 'other');
    const tls = ['--raft-tls-cert', good.cert, '--raft-tls-key', good.key, '--raft-tls-ca', good.ca];
    cluster = await TestClusterProcesses.start(3, tls);
    const leader = await cluster.waitForLeader();
    expect(await (await fetch(`http://${leader.http}/v1/kv/tls`, { method: 'PUT', body: 'v' })).text()).toBe('true');
    for (const m of cluster.members)
      expect(await (await fetch(`http://${m.http}/v1/kv/tls?raw&consistent`)).text()).toBe('v');

    const plain = await outsider(['--join', leader.raft]);
    await leader.server?.waitFor(/raft connection refused: TLS handshake failed/);
    await plain.s.stop('SIGKILL');
    const foreign = await outsider([
      '--raft-tls-cert',
      other.cert,
      '--raft-tls-key',
      other.key,
      '--raft-tls-ca',
      other.ca,
      '--join',
      leader.raft,
    ]);
    await new Promise((r) => setTimeout(r, 2000));
    const conf = (await (await fetch(`http://${leader.http}/v1/operator/raft/configuration`)).json()) as {
      Servers: Array<{ Node: string }>;
    };
    expect(conf.Servers.map((s) => s.Node)).toEqual(['n1', 'n2', 'n3']);
    await foreign.s.stop('SIGKILL');
  });

  it('refuses incomplete TLS flags', async () => {
    const { runCli } = await import('../testing/spawn-server.js');
    const r = await runCli(['server', '--raft-tls-cert', '/x.pem']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/--raft-tls-cert, --raft-tls-key and --raft-tls-ca must be given together/);
  });
});
