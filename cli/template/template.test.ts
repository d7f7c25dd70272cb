import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../../testing/process.js';
import { ManualClock } from '../../testing/manual-clock.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, cleanupAll, runCli, spawnDevServerAt, spawnServer, tempDir } from '../../testing/spawn-server.js';
import { spawnEdge } from '../../testing/spawn-edge.js';
import { KonsulClient } from '../client/api.js';
import { TemplateRunner } from '../../core/template/runner.js';
import { blockingWatcher } from './watcher.js';

afterAll(cleanupAll);

describe('templates against a real server', () => {
  it('render from blocking queries, once all is known, and again when a key or a service changes', async () => {
    const server = await spawnServer();
    const client = new KonsulClient({ base: server.url, token: undefined, tls: {}, datacenter: undefined });
    const put = (path: string, body: string) => fetch(`${server.url}${path}`, { method: 'PUT', body });
    const out: string[] = [];
    const runner = new TemplateRunner(
      [
        {
          name: 'nginx.tpl',
          source:
            'mode={{ keyOrDefault "app/mode" "none" }}\n' +
            '{{ range service "web" }}server {{ .Address }}:{{ .Port }};\n{{ end }}',
        },
      ],
      {
        watcher: blockingWatcher(client, { wait: '5s' }),
        clock: new ManualClock(),
        env: { env: () => undefined, now: () => 0 },
        events: { rendered: (_, c) => out.push(c), failed: (_, e) => out.push(`ERR ${e.message}`) },
      },
    );
    runner.start();
    await until('out.length === 1', async () => out.length === 1, Boolean);
    expect(out[0]).toBe('mode=none\n');
    await put('/v1/kv/app/mode', 'prod');
    await until('out.length === 2', async () => out.length === 2, Boolean);
    expect(out[1]).toBe('mode=prod\n');
    await put(
      '/v1/agent/service/register',
      JSON.stringify({ ID: 'web-1', Name: 'web', Address: '10.1.1.1', Port: 8080 }),
    );
    await until('out.length === 3', async () => out.length === 3, Boolean);
    expect(out[2]).toBe('mode=prod\nserver 10.1.1.1:8080;\n');
    // A write to a key nobody reads renders nothing.
    await put('/v1/kv/other', 'x');
    await new Promise((r) => setTimeout(r, 300));
    expect(out).toHaveLength(3);
    runner.stop();
  }, 30_000);

  it('konsul template -once writes each file and runs its command; errors name template, line, column', async () => {
    const server = await spawnServer();
    await fetch(`${server.url}/v1/kv/app/port`, { method: 'PUT', body: '8080' });
    const dir = tempDir();
    const tpl = join(dir, 'in.tpl');
    writeFileSync(tpl, 'listen {{ key "app/port" }};\n');
    const out = join(dir, 'out.conf');
    const flag = join(dir, 'ran');
    const env = { CONSUL_HTTP_ADDR: server.url };
    const ok = await runCli(['template', '-template', `${tpl}:${out}:touch ${flag}`, '-once'], env);
    expect(ok.code, ok.out).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('listen 8080;\n');
    expect(readFileSync(flag, 'utf8')).toBe('');
    const dry = await runCli(['template', '-template', `${tpl}:${out}`, '-once', '-dry'], env);
    expect(dry.out).toBe(`> ${out}\nlisten 8080;\n`);
    writeFileSync(tpl, 'a\n{{ if }}\n');
    const bad = await runCli(['template', '-template', `${tpl}:${out}`, '-once'], env);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`template: ${tpl}:2:4: missing value for if`);
    const spec = await runCli(['template', '-template', 'nocolon', '-once'], env);
    expect(spec.code).toBe(2);
    expect(spec.err).toContain('want "source:destination[:command]"');
  }, 60_000);
});

describe('konsul env', () => {
  it('runs the command with the keys as variables, restarts it on a change, and exits with its code', async () => {
    const server = await spawnServer();
    const put = (k: string, v: string) => fetch(`${server.url}/v1/kv/${k}`, { method: 'PUT', body: v });
    await put('app/config/db-host', 'db1');
    await put('app/config/port', '5432');
    const dir = tempDir();
    const log = join(dir, 'log');
    // The command notes its environment, then exits 7 once it sees a stop file.
    const script = `echo "$DB_HOST $PORT" >> ${log}; while [ ! -e ${dir}/stop ]; do sleep 0.05; done; exit 7`;
    const run = runCli(
      ['env', '-prefix', 'app/config/', '-sanitize', '-upcase', '--', 'sh', '-c', script],
      { CONSUL_HTTP_ADDR: server.url },
      30_000,
    );
    const lines = () => {
      try {
        return readFileSync(log, 'utf8').trim().split('\n');
      } catch {
        return [];
      }
    };
    await until('lines().length === 1', async () => lines().length === 1, Boolean);
    expect(lines()).toEqual(['db1 5432']);
    await put('app/config/db-host', 'db2');
    await until('lines().length === 2', async () => lines().length === 2, Boolean);
    expect(lines()[1]).toBe('db2 5432');
    writeFileSync(join(dir, 'stop'), '');
    const r = await run;
    expect(r.code).toBe(7);
  }, 60_000);
});

describe('konsul template -exec', () => {
  it('starts the command after the first render, signals it on a change, and exits with its code', async () => {
    const server = await spawnServer();
    await fetch(`${server.url}/v1/kv/app/v`, { method: 'PUT', body: 'one' });
    const dir = tempDir();
    const tpl = join(dir, 'in.tpl');
    const out = join(dir, 'out');
    const log = join(dir, 'log');
    writeFileSync(tpl, '{{ key "app/v" }}');
    const script =
      `echo "start $(cat ${out})" >> ${log}; trap 'echo "hup $(cat ${out})" >> ${log}' HUP; ` +
      `trap 'exit 5' TERM; while true; do sleep 0.05; done`;
    const proc = spawn(
      process.execPath,
      [CLI, 'template', '-template', `${tpl}:${out}`, '-exec', script, '-exec-reload-signal', 'SIGHUP'],
      { env: { ...process.env, CONSUL_HTTP_ADDR: server.url }, stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    const lines = () => {
      try {
        return readFileSync(log, 'utf8').trim().split('\n');
      } catch {
        return [];
      }
    };
    try {
      await until('lines().length === 1', async () => lines().length === 1, Boolean);
      expect(lines()).toEqual(['start one']);
      await fetch(`${server.url}/v1/kv/app/v`, { method: 'PUT', body: 'two' });
      await until('lines().length === 2', async () => lines().length === 2, Boolean);
      expect(lines()[1]).toBe('hup two');
      proc.kill('SIGTERM');
      expect(await exited).toBe(5);
    } finally {
      proc.kill('SIGKILL');
    }
  }, 60_000);
});

describe('konsul template -config', () => {
  it('renders the templates of an HCL or a JSON config file, and names an unknown key', async () => {
    const server = await spawnServer();
    await fetch(`${server.url}/v1/kv/app/a`, { method: 'PUT', body: 'A' });
    const dir = tempDir();
    writeFileSync(join(dir, 'one.tpl'), 'one={{ key "app/a" }}\n');
    writeFileSync(join(dir, 'two.tpl'), 'two=[[ key "app/a" ]]\n');
    const hcl = join(dir, 'c.hcl');
    writeFileSync(
      hcl,
      [
        'wait {\n  min = "1ms"\n  max = "10ms"\n}',
        `template {\n  source = "${dir}/one.tpl"\n  destination = "${dir}/one.out"\n}`,
        `template {\n  source = "${dir}/two.tpl"\n  destination = "${dir}/two.out"\n` +
          '  left_delimiter = "[["\n  right_delimiter = "]]"\n  backup = true\n}',
      ].join('\n'),
    );
    const env = { CONSUL_HTTP_ADDR: server.url };
    const r = await runCli(['template', '-config', hcl, '-once'], env);
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(join(dir, 'one.out'), 'utf8')).toBe('one=A\n');
    expect(readFileSync(join(dir, 'two.out'), 'utf8')).toBe('two=A\n');
    const json = join(dir, 'c.json');
    writeFileSync(json, JSON.stringify({ template: [{ source: `${dir}/one.tpl`, destination: `${dir}/j.out` }] }));
    expect((await runCli(['template', '-config', json, '-once'], env)).code).toBe(0);
    expect(readFileSync(join(dir, 'j.out'), 'utf8')).toBe('one=A\n');
    writeFileSync(json, JSON.stringify({ template: [{ source: 'x', destination: 'y', sauce: 1 }] }));
    const bad = await runCli(['template', '-config', json, '-once'], env);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`${json}: unknown key "sauce" in template 1`);
  }, 60_000);
});

describe('templates on an edge agent', () => {
  it('render from the replica while the servers are down, and catch up when they return', async () => {
    const dir = tempDir();
    let server = await spawnServer({ dataDir: join(dir, 'server') });
    const put = (k: string, v: string) => fetch(`${server.url}/v1/kv/${k}`, { method: 'PUT', body: v });
    await put('cfg/port', '80');
    const edge = await spawnEdge({ upstream: server.url, args: ['--prefix', 'cfg/'] });
    await edge.waitFor(/replica snapshot applied/);
    const tpl = join(dir, 'in.tpl');
    writeFileSync(tpl, 'port={{ key "cfg/port" }}\n');
    const out = join(dir, 'out');
    const env = { CONSUL_HTTP_ADDR: edge.url };
    const addr = server.url.replace(/^http:\/\//, '');
    await server.stop('SIGTERM');
    // Offline: the agent answers from its replica.
    const offline = await runCli(['template', '-template', `${tpl}:${out}`, '-once'], env);
    expect(offline.code, offline.out).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('port=80\n');
    // Following it: the server comes back at its address, a change reaches the file.
    const proc = spawn(process.execPath, [CLI, 'template', '-template', `${tpl}:${out}`], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    try {
      server = await spawnDevServerAt(join(dir, 'server'), addr);
      await put('cfg/port', '8080');
      await until(
        'readFileSync(out, utf8) === port=8080\n',
        async () => readFileSync(out, 'utf8') === 'port=8080\n',
        Boolean,
        30_000,
      );
    } finally {
      proc.kill('SIGKILL');
    }
  }, 90_000);
});

describe('templates reading files', () => {
  it("render a file's text, and again when it changes", async () => {
    const server = await spawnServer();
    const client = new KonsulClient({ base: server.url, token: undefined, tls: {}, datacenter: undefined });
    const dir = tempDir();
    const input = join(dir, 'motd');
    writeFileSync(input, 'hello');
    const out: string[] = [];
    const runner = new TemplateRunner([{ name: 'f.tpl', source: `[{{ file "${input}" }}]` }], {
      watcher: blockingWatcher(client, { filePollMs: 20 }),
      clock: new ManualClock(),
      env: { env: () => undefined, now: () => 0 },
      events: { rendered: (_, c) => out.push(c), failed: (_, e) => out.push(`ERR ${e.message}`) },
    });
    runner.start();
    expect(out).toEqual(['[hello]']);
    writeFileSync(input, 'bye');
    await until('out.length === 2', async () => out.length === 2, Boolean);
    expect(out[1]).toBe('[bye]');
    runner.stop();
  });
});

describe('konsul template plugins', () => {
  it("are refused unless -plugins, then run with the template's arguments", async () => {
    const server = await spawnServer();
    const dir = tempDir();
    const tpl = join(dir, 'p.tpl');
    writeFileSync(tpl, '{{ "b c" | plugin "echo" "a" }}');
    const env = { CONSUL_HTTP_ADDR: server.url };
    const off = await runCli(['template', '-template', `${tpl}:${dir}/out`, '-once', '-dry'], env);
    expect(off.code).toBe(1);
    expect(off.err).toContain('error calling plugin: plugins are off (enable them with -plugins)');
    const on = await runCli(['template', '-template', `${tpl}:${dir}/out`, '-once', '-dry', '-plugins'], env);
    expect(on.code, on.out).toBe(0);
    expect(on.out).toBe(`> ${dir}/out\na b c`);
  }, 60_000);
});

describe('konsul template following health and KV', () => {
  it('re-renders on a critical check or a changed key, runs the command once each, not on others', async () => {
    const server = await spawnServer();
    const put = (path: string, body?: string) => fetch(`${server.url}${path}`, { method: 'PUT', body });
    await put(
      '/v1/agent/service/register',
      JSON.stringify({ ID: 'web-1', Name: 'web', Address: '10.0.0.1', Port: 80, Check: { TTL: '60s' } }),
    );
    await put(
      '/v1/agent/service/register',
      JSON.stringify({ ID: 'web-2', Name: 'web', Address: '10.0.0.2', Port: 80, Check: { TTL: '60s' } }),
    );
    await put('/v1/agent/check/pass/service:web-1');
    await put('/v1/agent/check/pass/service:web-2');
    const dir = tempDir();
    const tpl = join(dir, 'in.tpl');
    writeFileSync(tpl, '{{ keyOrDefault "app/mode" "none" }}: {{ range service "web" }}{{ .Address }} {{ end }}');
    const out = join(dir, 'out');
    const ran = join(dir, 'ran');
    const proc = spawn(
      process.execPath,
      [CLI, 'template', '-template', `${tpl}:${out}:echo x >> ${ran}`, '-wait', '100ms:1s'],
      { env: { ...process.env, CONSUL_HTTP_ADDR: server.url }, stdio: 'ignore' },
    );
    const read = (f: string) => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return '';
      }
    };
    try {
      await until(
        'the first render and one command run',
        async () => read(out) === 'none: 10.0.0.1 10.0.0.2 ' && read(ran) === 'x\n',
        Boolean,
      );
      await put('/v1/agent/check/fail/service:web-2');
      await until('web-2 gone', async () => read(out) === 'none: 10.0.0.1 ', Boolean);
      await until('a second command run', async () => read(ran) === 'x\nx\n', Boolean);
      await put('/v1/kv/app/mode', 'prod');
      await until('the key in the file', async () => read(out) === 'prod: 10.0.0.1 ', Boolean);
      await until('a third command run', async () => read(ran) === 'x\nx\nx\n', Boolean);
      await put('/v1/kv/unrelated', 'y');
      await put('/v1/agent/check/pass/service:web-1');
      await new Promise((r) => setTimeout(r, 500));
      expect(read(ran)).toBe('x\nx\nx\n');
      expect(read(out)).toBe('prod: 10.0.0.1 ');
    } finally {
      proc.kill('SIGKILL');
    }
  }, 60_000);
});
