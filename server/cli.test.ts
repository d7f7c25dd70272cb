import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts } from '../testing/cluster-harness.js';
import { cleanupAll, devServerArgs, runCli, spawnServer, tempDir } from '../testing/spawn-server.js';

afterAll(cleanupAll);

describe('konsul CLI', () => {
  it('refuses an unknown flag with exit code 2 and a message naming it', async () => {
    const r = await runCli(['server', '--dev', '--bogus-flag']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/unknown flag --bogus-flag/);
  });

  it('refuses a bad value, naming the flag or variable', async () => {
    const flag = await runCli(['server', '--dev', '--http-addr', 'nowhere']);
    expect(flag.code).toBe(2);
    expect(flag.out).toMatch(/--http-addr/);
    const env = await runCli(['server', '--dev'], { KONSUL_LOG_LEVEL: 'chatty' });
    expect(env.code).toBe(2);
    expect(env.out).toMatch(/KONSUL_LOG_LEVEL/);
    const limit = await runCli(['server', '--dev', '--dns-a-record-limit', '70000']);
    expect(limit.code).toBe(2);
    expect(limit.out).toMatch(/--dns-a-record-limit.*out of range 0\.\.65535/);
  });

  it('refuses a missing config file and an unknown command', async () => {
    const missing = await runCli(['server', '--config', '/nonexistent/konsul.json']);
    expect(missing.code).toBe(2);
    expect(missing.out).toMatch(/cannot read config file \/nonexistent\/konsul.json/);
    const cmd = await runCli(['serve']);
    expect(cmd.code).toBe(1);
    expect(cmd.out).toMatch(/unknown command "serve"/);
  });

  it('prints help and version', async () => {
    const help = await runCli(['server', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--http-addr/);
    expect(help.out).toMatch(/KONSUL_HTTP_ADDR/);
    const version = await runCli(['version']);
    expect(version.out).toMatch(/^Konsul v\d+\.\d+\.\d+/);
  });

  it('starts with a config file and KONSUL_* overrides, and reports a leader', async () => {
    const dir = tempDir();
    const config = join(dir, 'konsul.json');
    writeFileSync(config, JSON.stringify({ node_name: 'from-file', datacenter: 'east' }));
    const s = await spawnServer({ args: ['--config', config], env: { KONSUL_NODE_NAME: 'from-env' } });
    const self = (await (await fetch(`${s.url}/v1/agent/self`)).json()) as {
      Config: { NodeName: string; Datacenter: string };
    };
    expect(self.Config).toMatchObject({ NodeName: 'from-env', Datacenter: 'east' });
    const leader = await (await fetch(`${s.url}/v1/status/leader`)).json();
    expect(leader).toBe(s.raftAddr);
    expect(await s.stop()).toBe(0);
  });

  it('shuts down cleanly on SIGTERM: in-flight requests finish, data persists', async () => {
    const s = await spawnServer({ args: ['--log-level', 'trace'] });
    expect(await (await fetch(`${s.url}/v1/kv/x`, { method: 'PUT', body: 'before' })).text()).toBe('true');
    const index = (await fetch(`${s.url}/v1/kv/x`)).headers.get('X-Consul-Index');
    const blocking = fetch(`${s.url}/v1/kv/x?index=${index}&wait=5m`);
    await s.waitFor(/"blocking query waiting"/);
    const exit = s.stop('SIGTERM');
    const res = await blocking;
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Consul-Index')).toBe(index);
    expect(await exit).toBe(0);
    expect(s.output()).toMatch(/"shutdown complete"/);

    const again = await spawnServer({ dataDir: s.dataDir });
    expect(await (await fetch(`${again.url}/v1/kv/x?raw`)).text()).toBe('before');
    const put = await fetch(`${again.url}/v1/kv/y`, { method: 'PUT', body: 'after' });
    expect(await put.text()).toBe('true');
    const [x] = (await (await fetch(`${again.url}/v1/kv/x`)).json()) as Array<{ ModifyIndex: number }>;
    const [entry] = (await (await fetch(`${again.url}/v1/kv/y`)).json()) as Array<{ ModifyIndex: number }>;
    expect(entry!.ModifyIndex).toBeGreaterThan(x!.ModifyIndex);
    expect(await again.stop('SIGINT')).toBe(0);
  });

  /** The CLI refused to start: exit code 1 and exactly one line on stderr, which matches `line`. */
  const expectStartRefused = (r: { code: number | null; err: string }, line: RegExp): void => {
    expect(r.code, r.err).toBe(1);
    const lines = r.err.split('\n').filter((l) => l !== '');
    expect(lines, r.err).toHaveLength(1);
    expect(lines[0]).toMatch(line);
    expect(r.err).not.toMatch(/\bat .*\(.*:\d+:\d+\)|fatal/);
  };
  /** `konsul server --dev` with every address on a free port and a new data dir, except where `flags` say. */
  const devFlags = (flags: Record<string, string>): string[] => {
    const all: Record<string, string> = {
      '--http-addr': '127.0.0.1:0',
      '--raft-addr': '127.0.0.1:0',
      '--dns-addr': '127.0.0.1:0',
      '--mqtt-addr': '127.0.0.1:0',
      '--data-dir': tempDir(),
      ...flags,
    };
    return ['server', '--dev', ...Object.entries(all).flat()];
  };

  it('refuses a second server on the same data dir, and a taken port', async () => {
    const s = await spawnServer();
    const second = await runCli(devServerArgs(s.dataDir));
    expectStartRefused(
      second,
      /^konsul: data dir .+ is locked by another server, in use by process \d+ \(--data-dir\)$/,
    );
    expect(second.out).toMatch(/in use by process/);
    expect(second.err).toContain(s.dataDir);
    const taken = await runCli([
      'server',
      '--dev',
      '--http-addr',
      `127.0.0.1:${s.port}`,
      '--raft-addr',
      '127.0.0.1:0',
      '--dns-addr',
      '127.0.0.1:0',
      '--data-dir',
      tempDir(),
    ]);
    expectStartRefused(
      taken,
      new RegExp(`^konsul: cannot listen on --http-addr 127\\.0\\.0\\.1:${s.port}: address in use \\(EADDRINUSE\\)$`),
    );
    const raftTaken = await runCli(devFlags({ '--raft-addr': s.raftAddr }));
    expectStartRefused(
      raftTaken,
      new RegExp(
        `^konsul: cannot listen on --raft-addr ${s.raftAddr.replace(/\./g, '\\.')}: address in use \\(EADDRINUSE\\)$`,
      ),
    );
    await s.stop();
  });

  it('refuses a certificate that cannot be read or does not parse, naming the flag and the file', async () => {
    const dir = tempDir();
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'this is not a certificate\n');
    const broken = await runCli(devFlags({ '--tls-cert': garbage, '--tls-key': garbage }));
    expectStartRefused(broken, /^konsul: --tls-cert \S+garbage\.pem is not a PEM certificate: .+$/);
    expect(broken.err).toContain(garbage);
    const missing = join(dir, 'missing.pem');
    const unreadable = await runCli(devFlags({ '--tls-cert': missing, '--tls-key': garbage }));
    expectStartRefused(
      unreadable,
      /^konsul: cannot read --tls-cert \S+missing\.pem: no such file or directory \(ENOENT\)$/,
    );
    expect(unreadable.err).toContain(missing);
  });

  it('runs a second --dev server beside the first: raft on a free port, DNS and MQTT give way', async () => {
    const [portA, portB] = await freePorts(2);
    const dev = (port: number) =>
      spawnServer({ cluster: true, dataDir: tempDir(), args: ['--dev', '--http-addr', `127.0.0.1:${port}`] });
    const a = await dev(portA as number);
    const b = await dev(portB as number);
    for (const s of [a, b]) {
      // Neither took the fixed raft port 8300, and each leads its own one-server cluster.
      expect(s.raftAddr).not.toMatch(/:8300$/);
      expect(await (await fetch(`${s.url}/v1/status/leader`)).json()).toBe(s.raftAddr);
    }
    expect(b.raftAddr).not.toBe(a.raftAddr);
    expect(b.dnsAddr).not.toBe(a.dnsAddr);
    expect(b.mqttAddr).not.toBe(a.mqttAddr);
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
  });
});
