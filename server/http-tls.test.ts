import { copyFileSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makePki } from '../testing/pki.js';
import { until } from '../testing/process.js';
import { freePorts } from '../testing/cluster-harness.js';
import { cleanupAll, devServerArgs, runCli, spawnServer, tempDir } from '../testing/spawn-server.js';

afterAll(cleanupAll);

/** GET over HTTPS on a fresh connection, trusting `ca` and optionally presenting a client certificate. */
function httpsGet(
  port: number,
  path: string,
  ca: string,
  client?: { cert: string; key: string },
  method = 'GET',
  body?: string,
): Promise<{ status: number; body: string; index: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        ca: readFileSync(ca),
        agent: false,
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, index: Number(res.headers['x-consul-index'] ?? 0) }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTPS for the HTTP API', () => {
  const title =
    'serves over TLS, and reloads the certificate on SIGHUP without dropping the listener or a request in flight';
  it(title, async () => {
    const dir = tempDir();
    const one = makePki(dir, 'one');
    const two = makePki(dir, 'two');
    const cert = join(dir, 'live.pem');
    const key = join(dir, 'live.key');
    copyFileSync(one.cert, cert);
    copyFileSync(one.key, key);
    const server = await spawnServer({ args: ['--tls-cert', cert, '--tls-key', key] });
    expect(server.output()).toMatch(/"https":true/);
    expect((await httpsGet(server.port, '/v1/status/leader', one.ca)).status).toBe(200);
    await expect(httpsGet(server.port, '/v1/status/leader', two.ca)).rejects.toThrow();
    // Plain HTTP gets no API answer.
    const plain = await fetch(`http://127.0.0.1:${server.port}/v1/status/leader`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);

    // A blocking query is in flight while the certificate changes.
    const { index } = await httpsGet(server.port, '/v1/kv/blocked', one.ca);
    expect(index).toBeGreaterThan(0);
    const started = Date.now();
    const inFlight = httpsGet(server.port, `/v1/kv/blocked?index=${index}&wait=3s`, one.ca);
    copyFileSync(two.cert, cert);
    copyFileSync(two.key, key);
    server.proc.kill('SIGHUP');
    await server.waitFor(/TLS certificate reloaded/);
    expect((await httpsGet(server.port, '/v1/status/leader', two.ca)).status).toBe(200);
    await expect(httpsGet(server.port, '/v1/status/leader', one.ca)).rejects.toThrow();
    // It was answered at the end of its wait, on the connection opened before the reload.
    expect((await inFlight).status).toBe(404);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    expect(server.proc.exitCode).toBeNull();
    // A broken file on reload keeps the certificate in use.
    copyFileSync(join(dir, 'one-server.csr'), key);
    server.proc.kill('SIGHUP');
    await server.waitFor(/TLS reload failed; keeping the previous certificate/);
    expect((await httpsGet(server.port, '/v1/status/leader', two.ca)).status).toBe(200);
    expect(await server.stop()).toBe(0);
  });

  it('with --tls-verify-incoming, refuses clients without a certificate from the CA', async () => {
    const dir = tempDir();
    const pki = makePki(dir, 'ca');
    const other = makePki(dir, 'other');
    const server = await spawnServer({
      args: ['--tls-cert', pki.cert, '--tls-key', pki.key, '--tls-ca', pki.ca, '--tls-verify-incoming'],
    });
    await expect(httpsGet(server.port, '/v1/status/leader', pki.ca)).rejects.toThrow();
    await expect(
      httpsGet(server.port, '/v1/status/leader', pki.ca, { cert: other.cert, key: other.key }),
    ).rejects.toThrow();
    expect((await httpsGet(server.port, '/v1/status/leader', pki.ca, { cert: pki.cert, key: pki.key })).status).toBe(
      200,
    );
    expect(await server.stop()).toBe(0);
  });

  it('refuses incomplete TLS flags, naming them', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--tls-cert', 'x.pem'], /--tls-cert and --tls-key must be given together/],
      [['--tls-verify-incoming'], /need --tls-cert and --tls-key/],
      [['--tls-cert', 'x.pem', '--tls-key', 'y.pem', '--tls-verify-incoming'], /--tls-verify-incoming needs --tls-ca/],
      [['--tls-cert', '/nonexistent.pem', '--tls-key', '/nonexistent.key'], /cannot read --tls-cert \/nonexistent.pem/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(devServerArgs(tempDir(), args));
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.out, args.join(' ')).toMatch(message);
    }
  });

  it(
    'a 3-server cluster with mutual TLS forwards writes from followers to the leader over HTTPS',
    { timeout: 90_000 },
    async () => {
      const dir = tempDir();
      const pki = makePki(dir, 'cluster');
      const ports = await freePorts(6);
      const members = [0, 1, 2].map((i) => ({
        name: `n${i + 1}`,
        http: ports[2 * i] as number,
        raft: `127.0.0.1:${ports[2 * i + 1]}`,
      }));
      const servers = await Promise.all(
        members.map((m) =>
          spawnServer({
            cluster: true,
            dataDir: tempDir(),
            args: [
              '--node-name',
              m.name,
              '--http-addr',
              `127.0.0.1:${m.http}`,
              '--raft-addr',
              m.raft,
              '--bootstrap-expect',
              '3',
              ...members.filter((o) => o !== m).flatMap((o) => ['--join', o.raft]),
              '--tls-cert',
              pki.cert,
              '--tls-key',
              pki.key,
              '--tls-ca',
              pki.ca,
              '--tls-verify-incoming',
            ],
          }),
        ),
      );
      const client = { cert: pki.cert, key: pki.key };
      const leaderOf = async (port: number) => (await httpsGet(port, '/v1/status/leader', pki.ca, client)).body;
      await until(
        'an agreed leader',
        async () => Promise.all(members.map((m) => leaderOf(m.http))),
        (ls) => ls[0] !== '""' && ls.every((l) => l === ls[0]),
      );
      const leaderRaft = JSON.parse(await leaderOf(members[0]!.http)) as string;
      const follower = members.find((m) => m.raft !== leaderRaft)!;
      const leader = members.find((m) => m.raft === leaderRaft)!;
      // A write sent to a follower is forwarded to the leader over HTTPS (with the server's client certificate).
      const put = await httpsGet(follower.http, '/v1/kv/over/tls', pki.ca, client, 'PUT', 'yes');
      expect([put.status, put.body.trim()]).toEqual([200, 'true']);
      expect((await httpsGet(leader.http, '/v1/kv/over/tls?raw', pki.ca, client)).body).toBe('yes');
      // A consistent read from a follower is forwarded too.
      expect((await httpsGet(follower.http, '/v1/kv/over/tls?raw&consistent', pki.ca, client)).body).toBe('yes');
      await Promise.all(servers.map((s) => s.stop()));
    },
  );
});
