import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, CLI, runClient, type SpawnedServer, spawnServer, tempDir } from '../testing/spawn-server.js';
import { bunBinary, denoBinary, spawnEdge } from '../testing/spawn-edge.js';
import { until } from '../testing/process.js';
import { TestClusterProcesses } from '../testing/cluster-harness.js';
import { normalizeFlags } from './commands/program.js';

let server: SpawnedServer;
let env: Record<string, string>;
beforeAll(async () => {
  server = await spawnServer();
  env = {
    KONSUL_HTTP_ADDR: new URL(server.url).host,
    CONSUL_HTTP_ADDR: '',
    KONSUL_HTTP_TOKEN: '',
    CONSUL_HTTP_TOKEN: '',
  };
});
afterAll(async () => {
  await server?.stop();
  await cleanupAll();
});

const konsul = (args: readonly string[], o: { stdin?: string; env?: Record<string, string>; cwd?: string } = {}) =>
  runClient(args, {
    env: { ...env, ...(o.env ?? {}) },
    ...(o.stdin !== undefined ? { stdin: o.stdin } : {}),
    ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
  });

describe('konsul client commands', () => {
  it("take Consul's single-dash long flags as double-dash ones, and leave the rest alone", () => {
    expect(
      normalizeFlags(['kv', 'get', '-recurse', '-format=json', '-n', '3', '-', '--keys', 'a', '--', '-x']),
    ).toEqual(['kv', 'get', '--recurse', '--format=json', '-n', '3', '-', '--keys', 'a', '--', '-x']);
  });

  it("kv put and get: values, flags, @file, stdin, base64, cas, locks, with Consul's messages", async () => {
    expect(await konsul(['kv', 'put', 'app/a', 'one'])).toEqual({
      code: 0,
      stdout: 'Success! Data written to: app/a\n',
      stderr: '',
    });
    expect((await konsul(['kv', 'get', 'app/a'])).stdout).toBe('one\n');
    const file = join(tempDir(), 'value.txt');
    writeFileSync(file, 'from a file');
    expect((await konsul(['kv', 'put', '-flags=42', 'app/b', `@${file}`])).code).toBe(0);
    expect((await konsul(['kv', 'put', 'app/c', '-'], { stdin: 'from stdin' })).code).toBe(0);
    expect((await konsul(['kv', 'put', '-base64', 'app/d', Buffer.from('decoded').toString('base64')])).code).toBe(0);
    expect((await konsul(['kv', 'get', '-recurse', 'app/'])).stdout).toBe(
      'app/a:one\napp/b:from a file\napp/c:from stdin\napp/d:decoded\n',
    );
    expect((await konsul(['kv', 'get', '-base64', 'app/d'])).stdout).toBe(
      `${Buffer.from('decoded').toString('base64')}\n`,
    );
    const detailed = (await konsul(['kv', 'get', '-detailed', 'app/b'])).stdout;
    expect(detailed).toMatch(
      new RegExp(
        '^CreateIndex {6}\\d+\nFlags {12}42\nKey {14}app/b\nLockIndex {8}0\n' +
          'ModifyIndex {6}\\d+\nSession {10}-\nValue {12}from a file\n$',
      ),
    );
    // -keys lists up to the separator; "" lists every key.
    await konsul(['kv', 'put', 'app/sub/x', '1']);
    expect((await konsul(['kv', 'get', '-keys', 'app/'])).stdout).toBe('app/a\napp/b\napp/c\napp/d\napp/sub/\n');
    expect((await konsul(['kv', 'get', '-keys', '-separator=', 'app/sub/'])).stdout).toBe('app/sub/x\n');

    // cas: the wrong index fails with exit 1, the right one writes.
    const index = Number(/ModifyIndex\s+(\d+)/.exec((await konsul(['kv', 'get', '-detailed', 'app/a'])).stdout)?.[1]);
    expect(await konsul(['kv', 'put', '-cas', `-modify-index=${index + 1000}`, 'app/a', 'x'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error! Did not write to app/a: CAS failed\n',
    });
    expect((await konsul(['kv', 'put', '--cas', '--modify-index', String(index), 'app/a', 'two'])).code).toBe(0);
    expect((await konsul(['kv', 'get', 'app/a'])).stdout).toBe('two\n');

    // Locks with a session.
    const session = (await (await fetch(`${server.url}/v1/session/create`, { method: 'PUT', body: '{}' })).json()) as {
      ID: string;
    };
    expect((await konsul(['kv', 'put', '-acquire', `-session=${session.ID}`, 'app/lock', 'me'])).stdout).toBe(
      'Success! Lock acquired on: app/lock\n',
    );
    expect((await konsul(['kv', 'get', '-detailed', 'app/lock'])).stdout).toMatch(
      new RegExp(`Session {10}${session.ID}`),
    );
    expect((await konsul(['kv', 'put', '-release', `-session=${session.ID}`, 'app/lock'])).stdout).toBe(
      'Success! Lock released on: app/lock\n',
    );

    // Mistakes: a missing key is exit 1; bad usage exit 2, each message naming the cause.
    expect(await konsul(['kv', 'get', 'app/none'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error! No key exists at: app/none\n',
    });
    const noIndex = await konsul(['kv', 'put', '-cas', 'app/a', 'x']);
    expect([noIndex.code, noIndex.stderr]).toEqual([2, 'Must specify -modify-index with -cas!\n']);
    const unknown = await konsul(['kv', 'get', '-bogus', 'app/a']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '-bogus'/);
    expect((await konsul(['kv', 'frobnicate'])).code).toBe(2);
    const badBase64 = await konsul(['kv', 'put', '-base64', 'app/e', 'not base64!']);
    expect([badBase64.code, badBase64.stderr]).toEqual([2, 'the data is not valid base64 (-base64 was given)\n']);
    // Nothing listening: exit 1, saying where it looked.
    const down = await konsul(['kv', 'get', 'app/a'], { env: { KONSUL_HTTP_ADDR: '127.0.0.1:1' } });
    expect([down.code, down.stderr]).toEqual([1, 'cannot reach Konsul at http://127.0.0.1:1: ECONNREFUSED\n']);
  });

  it('kv delete, with -recurse and -cas', async () => {
    await konsul(['kv', 'put', 'del/a', '1']);
    await konsul(['kv', 'put', 'del/b', '2']);
    await konsul(['kv', 'put', 'del/c', '3']);
    expect((await konsul(['kv', 'delete', 'del/a'])).stdout).toBe('Success! Deleted key: del/a\n');
    const casFail = await konsul(['kv', 'delete', '-cas', '-modify-index=1', 'del/b']);
    expect([casFail.code, casFail.stderr]).toEqual([1, 'Error! Did not delete key del/b: CAS failed\n']);
    expect((await konsul(['kv', 'delete', '-recurse', 'del/'])).stdout).toBe(
      'Success! Deleted keys with prefix: del/\n',
    );
    expect((await konsul(['kv', 'get', '-recurse', 'del/'])).stdout).toBe('');
  });

  it("a hand-written export in Consul's format imports in transactions and exports back the same", async () => {
    // Consul's documented export format: tab-indented JSON, {key, flags, value (base64)} per key.
    const entries = [
      { key: 'imp/db/host', flags: 0, value: Buffer.from('10.0.0.5').toString('base64') },
      { key: 'imp/db/port', flags: 7, value: Buffer.from('5432').toString('base64') },
      { key: 'imp/empty', flags: 0, value: '' },
      { key: 'imp/feature/a', flags: 0, value: Buffer.from('on').toString('base64') },
      { key: 'imp/feature/b', flags: 0, value: Buffer.from([0, 1, 2, 255]).toString('base64') },
    ];
    const text = `${JSON.stringify(entries, null, '\t')}\n`;
    const file = join(tempDir(), 'export.json');
    writeFileSync(file, text);
    const imported = await konsul(['kv', 'import', '-txn-max-ops=2', `@${file}`]);
    expect(imported).toEqual({ code: 0, stdout: entries.map((e) => `Imported: ${e.key}\n`).join(''), stderr: '' });
    // Five keys, at most two per transaction: three transactions, three indexes.
    const got = (await (await fetch(`${server.url}/v1/kv/imp/?recurse`)).json()) as Array<{ ModifyIndex: number }>;
    expect(new Set(got.map((e) => e.ModifyIndex)).size).toBe(3);
    expect((await konsul(['kv', 'export', 'imp/'])).stdout).toBe(text);
    // From stdin, under another prefix.
    expect((await konsul(['kv', 'import', '-prefix=copy/', '-'], { stdin: text })).code).toBe(0);
    expect((await konsul(['kv', 'get', 'copy/imp/db/port'])).stdout).toBe('5432\n');
    // A bad file is refused before anything is written, naming the entry.
    const bad = await konsul(['kv', 'import', '-'], {
      stdin: '[{"key":"ok","value":"b2s="},{"key":"x","value":"%%%"}]',
    });
    expect([bad.code, bad.stderr]).toEqual([2, 'import entry 1 (x): "value" must be base64\n']);
    expect((await konsul(['kv', 'get', 'ok'])).code).toBe(1);
  });

  it('members, info and catalog answer as tables and as JSON', async () => {
    const members = await konsul(['members']);
    expect(members.code).toBe(0);
    expect(members.stdout).toMatch(
      new RegExp(
        '^Node +Address +Status +Type +Build +Protocol +DC +Partition +Segment\n' +
          '\\S+ +127\\.0\\.0\\.1:\\d+ +alive +server +\\S+ +2 +dc1 +default +<all>\n$',
      ),
    );
    const asJson = JSON.parse((await konsul(['members', '-format=json'])).stdout) as Array<{ Status: number }>;
    expect(asJson.map((m) => m.Status)).toEqual([1]);
    expect((await konsul(['info'])).stdout).toMatch(/^agent:\n\tdatacenter = dc1\n\tnode = \S+\n/);
    expect((await konsul(['catalog', 'datacenters'])).stdout).toBe('dc1\n');
    await fetch(`${server.url}/v1/catalog/register`, {
      method: 'PUT',
      body: JSON.stringify({
        Node: 'web-node',
        Address: '10.1.1.1',
        NodeMeta: { rack: 'r1' },
        Service: { Service: 'web', Tags: ['v2', 'blue'], Port: 80 },
      }),
    });
    const nodes = (await konsul(['catalog', 'nodes', '-service=web'])).stdout;
    expect(nodes).toMatch(/^Node +ID +Address +DC\nweb-node +\S* +10\.1\.1\.1 +dc1\n$/);
    expect((await konsul(['catalog', 'nodes', '-node-meta', 'rack=r1', '-format=json'])).stdout).toMatch(/"web-node"/);
    expect((await konsul(['catalog', 'services', '-tags'])).stdout).toBe('consul\nweb     blue,v2\n');
    expect((await konsul(['catalog', 'services', '-node=web-node'])).stdout).toBe('web\n');
  });

  it("read KONSUL_* and Consul's CONSUL_* variables, flags first; a 403 says which permission is missing", async () => {
    // CONSUL_HTTP_ADDR alone is enough; -http-addr wins over it.
    const host = new URL(server.url).host;
    expect((await konsul(['kv', 'get', 'app/a'], { env: { KONSUL_HTTP_ADDR: '', CONSUL_HTTP_ADDR: host } })).code).toBe(
      0,
    );
    expect(
      (await konsul(['kv', 'get', `-http-addr=${host}`, 'app/a'], { env: { KONSUL_HTTP_ADDR: '127.0.0.1:1' } })).code,
    ).toBe(0);
    const acl = await spawnServer({ args: ['--acl-enabled', '--acl-default-policy', 'deny'] });
    try {
      const boot = (await (await fetch(`${acl.url}/v1/acl/bootstrap`, { method: 'PUT' })).json()) as {
        SecretID: string;
      };
      const aclHost = new URL(acl.url).host;
      const denied = await konsul(['kv', 'put', 'app/x', 'v'], { env: { KONSUL_HTTP_ADDR: aclHost } });
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/^permission denied: token .*lacks permission 'key:write' on "app\/x"\n$/);
      const allowed = await konsul(['kv', 'put', 'app/x', 'v'], {
        env: { KONSUL_HTTP_ADDR: aclHost, CONSUL_HTTP_TOKEN: boot.SecretID },
      });
      expect(allowed.code).toBe(0);
      // The token never shows in what the CLI prints.
      expect(allowed.stdout + allowed.stderr + denied.stderr).not.toContain(boot.SecretID);
    } finally {
      await acl.stop();
    }
  });

  it('edge status and edge outbox ask a real agent', async () => {
    const agent = await spawnEdge({ upstream: server.url, args: ['--prefix', 'app/'] });
    try {
      const agentEnv = { KONSUL_HTTP_ADDR: new URL(agent.url).host };
      const status = await konsul(['edge', 'status'], { env: agentEnv });
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/^Agent +\S+\n/m);
      expect(status.stdout).toMatch(/^Connected +(true|false)$/m);
      const asJson = JSON.parse((await konsul(['edge', 'status', '-format=json'], { env: agentEnv })).stdout) as {
        Runtime: string;
      };
      expect(asJson.Runtime).toBe('node');
      expect((await konsul(['edge', 'outbox'], { env: agentEnv })).stdout).toBe(
        'ID  Status  Write  Attempts  Answer  Queued\n',
      );
      expect((await konsul(['edge', 'outbox', 'nope'], { env: agentEnv })).code).toBe(1);
    } finally {
      await agent.stop();
    }
  });

  it('draw a progress bar for an import on a terminal, and none when piped', async () => {
    const entries = Array.from({ length: 300 }, (_, i) => ({ key: `tty/${i}`, flags: 0, value: 'eA==' }));
    const file = join(tempDir(), 'big.json');
    writeFileSync(file, JSON.stringify(entries));
    const command = `${process.execPath} ${CLI} kv import -txn-max-ops=10 @${file}`;
    // util-linux script gives the command a terminal.
    const tty = spawnSync('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/Importing \[[=-]+\] 100% \| 300\/300/);
    expect(tty.stdout).toMatch(/Imported 300 keys/);
    const piped = await konsul(['kv', 'import', '-txn-max-ops=10', `@${file}`]);
    expect(piped.code).toBe(0);
    expect(piped.stdout + piped.stderr).not.toMatch(/Importing|\[=/);
    expect(piped.stdout.split('\n').filter(Boolean)).toHaveLength(300);
  });
});

describe('konsul agent and operator commands', () => {
  it('maint puts the node and a service in maintenance, lists them, and takes them out', async () => {
    await fetch(`${server.url}/v1/agent/service/register`, {
      method: 'PUT',
      body: JSON.stringify({ Name: 'api', ID: 'api-1', Port: 9000 }),
    });
    expect((await konsul(['maint', '-enable', '-reason=kernel upgrade'])).stdout).toBe(
      'Node maintenance is now enabled\n',
    );
    expect((await konsul(['maint', '-enable', '-service=api-1', '-reason', 'deploy'])).stdout).toBe(
      'Service maintenance is now enabled for "api-1"\n',
    );
    const checks = (await (await fetch(`${server.url}/v1/agent/checks`)).json()) as Record<
      string,
      { Status: string; Notes: string }
    >;
    expect(checks['_node_maintenance']).toMatchObject({ Status: 'critical', Notes: 'kernel upgrade' });
    const listed = (await konsul(['maint'])).stdout;
    expect(listed).toMatch(/^Node:\n {2}Name: {3}\S+\n {2}Reason: kernel upgrade\n/m);
    expect(listed).toMatch(/Service:\n {2}ID: {5}api-1\n {2}Reason: deploy\n/);
    // The node check makes every instance on the node unhealthy.
    const passing = (await (await fetch(`${server.url}/v1/health/service/api?passing`)).json()) as unknown[];
    expect(passing).toEqual([]);
    expect((await konsul(['maint', '-disable'])).stdout).toBe('Node maintenance is now disabled\n');
    expect((await konsul(['maint', '-disable', '-service=api-1'])).code).toBe(0);
    expect((await konsul(['maint'])).stdout).toBe('');
    const unknown = await konsul(['maint', '-enable', '-service=nope']);
    expect([unknown.code, unknown.stderr]).toEqual([1, 'No service registered with ID "nope"\n']);
    expect((await konsul(['maint', '-enable', '-disable'])).code).toBe(2);
  });

  it('monitor streams log lines at the level asked until interrupted', async () => {
    const proc = spawn(process.execPath, [CLI, 'monitor', '-log-level=debug'], { env: { ...process.env, ...env } });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      // Something that logs at debug: a log level change logs at info, a failing sync request at debug.
      await until(
        'a log line',
        async () => {
          await fetch(`${server.url}/v1/agent/log-level`, { method: 'PUT', body: '{"LogLevel":"info"}' });
          return out;
        },
        (t) => /log level/i.test(t),
        10_000,
      );
    } finally {
      proc.kill('SIGINT');
    }
    const code = await new Promise<number | null>((r) => proc.on('exit', r));
    expect(code).toBe(0);
  });

  it('operator raft list-peers and autopilot get-config, set-config and state', async () => {
    const peers = await konsul(['operator', 'raft', 'list-peers']);
    expect(peers.stdout).toMatch(
      /^Node +ID +Address +State +Voter +RaftProtocol\n\S+ +\S+ +127\.0\.0\.1:\d+ +leader +true +\d+\n$/,
    );
    expect((await konsul(['operator', 'autopilot', 'get-config'])).stdout).toMatch(
      /^CleanupDeadServers = true\nLastContactThreshold = 200ms\nMaxTrailingLogs = 250\n/,
    );
    expect(
      (await konsul(['operator', 'autopilot', 'set-config', '-max-trailing-logs=500', '-cleanup-dead-servers=false']))
        .stdout,
    ).toBe('Configuration updated!\n');
    const after = JSON.parse((await konsul(['operator', 'autopilot', 'get-config', '-format=json'])).stdout) as {
      MaxTrailingLogs: number;
      CleanupDeadServers: boolean;
      LastContactThreshold: string;
    };
    expect(after).toMatchObject({ MaxTrailingLogs: 500, CleanupDeadServers: false, LastContactThreshold: '200ms' });
    const bad = await konsul(['operator', 'autopilot', 'set-config', '-last-contact-threshold=soon']);
    expect([bad.code, bad.stderr]).toEqual([
      2,
      '-last-contact-threshold must be a duration such as 200ms or 10s, not "soon"\n',
    ]);
    const state = await konsul(['operator', 'autopilot', 'state']);
    expect(state.stdout).toMatch(
      /^Healthy: +true\nFailure Tolerance: +0\nLeader: +\S+\nVoters:\n {3}\S+\n\nServers:\n/,
    );
    expect(state.stdout).toMatch(/Status: +leader\n/);
    const removeNone = await konsul(['operator', 'raft', 'remove-peer']);
    expect(removeNone.code).toBe(2);
  });

  it('join names the address it could not join; leave says why the last server may not leave', async () => {
    const s = await spawnServer();
    const host = { KONSUL_HTTP_ADDR: new URL(s.url).host };
    const failed = await konsul(['join', '127.0.0.1:1'], { env: host });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^Error joining address\(es\): 127\.0\.0\.1:1: /);
    // The only voter may not leave (its data would have no server left).
    const leave = await konsul(['leave'], { env: host });
    expect([leave.code, leave.stderr]).toEqual([1, 'the server answered 400: cannot remove the last voter\n']);
    await s.stop();
  });
});

describe('konsul snapshot', () => {
  it('saves, inspects and restores a snapshot; a corrupt file is refused before it is sent', async () => {
    await konsul(['kv', 'put', 'snap/a', 'before']);
    const dir = tempDir();
    const file = join(dir, 'backup.snap');
    const saved = await konsul(['snapshot', 'save', file]);
    expect(saved.code).toBe(0);
    expect(saved.stdout).toMatch(/^Saved and verified snapshot to index \d+\n$/);
    const index = Number(/index (\d+)/.exec(saved.stdout)?.[1]);
    const inspected = JSON.parse((await konsul(['snapshot', 'inspect', '-format=json', file])).stdout) as {
      Index: number;
      Term: number;
      Size: number;
      Tables: Array<{ Name: string; Rows: number }>;
    };
    expect(inspected.Index).toBe(index);
    expect(inspected.Term).toBeGreaterThan(0);
    expect(inspected.Size).toBe(readFileSync(file).byteLength);
    expect(inspected.Tables.find((t) => t.Name === 'kv')?.Rows).toBeGreaterThan(0);
    expect((await konsul(['snapshot', 'inspect', file])).stdout).toMatch(
      /^ Index +\d+\n Term +\d+\n Size +\d+\n Version +1\n\n Table +Rows +Bytes\n/,
    );

    await konsul(['kv', 'put', 'snap/a', 'after']);
    expect((await konsul(['snapshot', 'restore', file])).stdout).toBe('Restored snapshot\n');
    expect((await konsul(['kv', 'get', 'snap/a'])).stdout).toBe('before\n');

    const corrupt = join(dir, 'corrupt.snap');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
    writeFileSync(corrupt, bytes);
    const refused = await konsul(['snapshot', 'restore', corrupt]);
    expect([refused.code, refused.stderr]).toEqual([
      1,
      'not a valid Konsul snapshot: snapshot archive checksum mismatch\n',
    ]);
    expect((await konsul(['kv', 'get', 'snap/a'])).stdout).toBe('before\n');
  });
});

describe('konsul services', () => {
  it('register services from Consul definition files in JSON and HCL, and from flags; deregister them', async () => {
    const dir = tempDir();
    const hcl = join(dir, 'web.hcl');
    writeFileSync(
      hcl,
      [
        'service {',
        '  name = "web"',
        '  id   = "web-1"',
        '  port = 8080',
        '  tags = ["v1", "blue"]',
        '  meta { version = "1.2" }',
        '  check {',
        '    id       = "web-ttl"',
        '    name     = "web alive"',
        '    ttl      = "30s"',
        '  }',
        '}',
      ].join('\n'),
    );
    const jsonFile = join(dir, 'db.json');
    writeFileSync(
      jsonFile,
      JSON.stringify({
        services: [
          { name: 'db', id: 'db-1', port: 5432, enable_tag_override: true, checks: [{ id: 'db-ttl', ttl: '60s' }] },
          { Name: 'cache', ID: 'cache-1', Port: 6379 },
        ],
      }),
    );
    expect((await konsul(['services', 'register', hcl, jsonFile])).stdout).toBe(
      'Registered service: web\nRegistered service: db\nRegistered service: cache\n',
    );
    expect(
      (await konsul(['services', 'register', '-name=api', '-port=9000', '-tag=a', '-tag=b', '-meta=team=x'])).code,
    ).toBe(0);
    const agentServices = (await (await fetch(`${server.url}/v1/agent/services`)).json()) as Record<
      string,
      { Service: string; Port: number; Tags: string[]; Meta: Record<string, string>; EnableTagOverride: boolean }
    >;
    expect(agentServices['web-1']).toMatchObject({
      Service: 'web',
      Port: 8080,
      Tags: ['v1', 'blue'],
      Meta: { version: '1.2' },
    });
    expect(agentServices['db-1']).toMatchObject({ Service: 'db', Port: 5432, EnableTagOverride: true });
    expect(agentServices['cache-1']).toMatchObject({ Service: 'cache', Port: 6379 });
    expect(agentServices['api']).toMatchObject({ Service: 'api', Port: 9000, Tags: ['a', 'b'], Meta: { team: 'x' } });
    const checks = (await (await fetch(`${server.url}/v1/agent/checks`)).json()) as Record<
      string,
      { Name: string; ServiceID: string }
    >;
    expect(checks['web-ttl']).toMatchObject({ Name: 'web alive', ServiceID: 'web-1' });
    expect(checks['db-ttl']).toMatchObject({ ServiceID: 'db-1' });

    expect((await konsul(['services', 'deregister', hcl])).stdout).toBe('Deregistered service: web-1\n');
    expect((await konsul(['services', 'deregister', '-id=api'])).stdout).toBe('Deregistered service: api\n');
    const left = Object.keys((await (await fetch(`${server.url}/v1/agent/services`)).json()) as object).sort();
    expect(left).toEqual(expect.arrayContaining(['cache-1', 'db-1']));
    expect(left).not.toContain('web-1');
    expect(left).not.toContain('api');

    const broken = join(dir, 'broken.hcl');
    writeFileSync(broken, 'service { name = ');
    const bad = await konsul(['services', 'register', broken]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/broken\.hcl is not valid HCL/);
    expect((await konsul(['services', 'register'])).stderr).toBe('Must specify a definition file or -name\n');
  });
});

describe('konsul acl, login and logout', () => {
  it('bootstrap, policies, roles, tokens, an auth method with a binding rule, and a login', async () => {
    const acl = await spawnServer({ args: ['--acl-enabled', '--acl-default-policy', 'deny'] });
    try {
      const host = { KONSUL_HTTP_ADDR: new URL(acl.url).host };
      const boot = await konsul(['acl', 'bootstrap', '-format=json'], { env: host });
      expect(boot.code).toBe(0);
      const mgmt = (JSON.parse(boot.stdout) as { SecretID: string }).SecretID;
      const as = { ...host, KONSUL_HTTP_TOKEN: mgmt };
      const dir = tempDir();
      writeFileSync(join(dir, 'rules.hcl'), 'key_prefix "app/" { policy = "write" }\n');
      const policy = await konsul(
        ['acl', 'policy', 'create', '-name=app-write', '-description=writes app/', `-rules=@${join(dir, 'rules.hcl')}`],
        { env: as },
      );
      expect(policy.code).toBe(0);
      expect(policy.stdout).toMatch(
        /^ID: +\S+\nName: +app-write\nDescription: +writes app\/\nRules:\nkey_prefix "app\/"/,
      );
      expect(
        (await konsul(['acl', 'role', 'create', '-name=dev', '-policy-name=app-write'], { env: as })).stdout,
      ).toMatch(/^ID: +\S+\nName: +dev\nPolicies:\n {3}\S+ - app-write\n$/);
      const token = JSON.parse(
        (await konsul(['acl', 'token', 'create', '-description=ci', '-role-name=dev', '-format=json'], { env: as }))
          .stdout,
      ) as { AccessorID: string; SecretID: string };
      // The new token writes under app/ and nothing else.
      const withToken = { ...host, KONSUL_HTTP_TOKEN: token.SecretID };
      expect((await konsul(['kv', 'put', 'app/x', 'v'], { env: withToken })).code).toBe(0);
      expect((await konsul(['kv', 'put', 'other/x', 'v'], { env: withToken })).stderr).toMatch(/^permission denied: /);
      expect((await konsul(['acl', 'token', 'read', '-self'], { env: withToken })).stdout).toMatch(
        new RegExp(`^AccessorID: +${token.AccessorID}\\nSecretID: +${token.SecretID}\\nDescription: +ci\\n`),
      );
      // Reading and changing by name; listing; deleting.
      expect(
        (await konsul(['acl', 'policy', 'update', '-name=app-write', '-description=changed'], { env: as })).stdout,
      ).toMatch(/Description: +changed/);
      expect((await konsul(['acl', 'policy', 'read', '-name=app-write'], { env: as })).stdout).toMatch(
        /Description: +changed/,
      );
      expect((await konsul(['acl', 'policy', 'list'], { env: as })).stdout).toMatch(/^app-write:\n {3}ID: /m);
      expect((await konsul(['acl', 'token', 'delete', `-id=${token.AccessorID}`], { env: as })).stdout).toBe(
        `Token "${token.AccessorID}" deleted successfully\n`,
      );
      // Without acl:write: 403, named.
      const denied = await konsul(['acl', 'policy', 'create', '-name=x'], { env: withToken });
      expect(denied.code).toBe(1);

      // An auth method (JWT, a public key), a binding rule to the role, and a login with a JWT.
      const idp = await generateKeyPair('RS256');
      const config = {
        JWTValidationPubKeys: [await exportSPKI(idp.publicKey)],
        BoundAudiences: ['konsul'],
        ClaimMappings: { team: 'team' },
      };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      expect(
        (
          await konsul(
            [
              'acl',
              'auth-method',
              'create',
              '-type=jwt',
              '-name=corp',
              '-max-token-ttl=1h',
              `-config=@${join(dir, 'config.json')}`,
            ],
            { env: as },
          )
        ).stdout,
      ).toMatch(/^Name: +corp\nType: +jwt\n/);
      expect(
        (
          await konsul(
            [
              'acl',
              'binding-rule',
              'create',
              '-method=corp',
              '-bind-type=role',
              '-bind-name=dev',
              '-selector=value.team == "dev"',
            ],
            { env: as },
          )
        ).code,
      ).toBe(0);
      const jwt = await new SignJWT({ team: 'dev' })
        .setProtectedHeader({ alg: 'RS256' })
        .setAudience('konsul')
        .setSubject('alice')
        .setExpirationTime('5m')
        .sign(idp.privateKey);
      writeFileSync(join(dir, 'jwt'), jwt);
      const sink = join(dir, 'token');
      const login = await konsul(
        ['login', '-method=corp', `-bearer-token-file=${join(dir, 'jwt')}`, `-token-sink-file=${sink}`],
        {
          env: host,
        },
      );
      expect([login.code, login.stdout, login.stderr]).toEqual([0, '', '']);
      const secret = readFileSync(sink, 'utf8');
      expect((await konsul(['kv', 'put', 'app/y', 'v'], { env: { ...host, KONSUL_HTTP_TOKEN: secret } })).code).toBe(0);
      expect((await konsul(['logout'], { env: { ...host, KONSUL_HTTP_TOKEN: secret } })).code).toBe(0);
      expect((await konsul(['kv', 'put', 'app/y', 'v'], { env: { ...host, KONSUL_HTTP_TOKEN: secret } })).code).toBe(1);
    } finally {
      await acl.stop();
    }
  });
});

describe('konsul watch', () => {
  it('runs the handler once per change, and with -state-file exactly once across a killed watch', async () => {
    const dir = tempDir();
    const out = join(dir, 'runs.jsonl');
    const state = join(dir, 'watch.state');
    writeFileSync(out, '');
    const host = new URL(server.url).host;
    const start = () =>
      spawn(
        process.execPath,
        [CLI, 'watch', '-type=keyprefix', '-prefix=wp/', `-state-file=${state}`, `cat >> ${out}`],
        { env: { ...process.env, ...env, KONSUL_HTTP_ADDR: host }, stdio: 'ignore' },
      );
    const runs = () =>
      readFileSync(out, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => ((JSON.parse(l) as Array<{ Key: string }>) ?? []).map((e) => e.Key.slice(3)).join(','));
    const waitRuns = (n: number) =>
      until(
        `${n} handler runs`,
        async () => runs(),
        (r) => r.length >= n,
        15_000,
      );
    await konsul(['kv', 'put', 'wp/a', '1']);
    let watch = start();
    try {
      await waitRuns(1);
      await konsul(['kv', 'put', 'wp/b', '1']);
      await waitRuns(2);
      await konsul(['kv', 'put', 'wp/c', '1']);
      // Two changes at one index (a transaction): one run.
      const txn = [
        { KV: { Verb: 'set', Key: 'wp/d', Value: 'MQ==' } },
        { KV: { Verb: 'set', Key: 'wp/e', Value: 'MQ==' } },
      ];
      expect((await fetch(`${server.url}/v1/txn`, { method: 'PUT', body: JSON.stringify(txn) })).status).toBe(200);
      await waitRuns(4);
      watch.kill('SIGKILL');
      await new Promise((r) => watch.on('exit', r));
      // Changes while the watch is down are handled once it is back, each once, none twice.
      await konsul(['kv', 'put', 'wp/f', '1']);
      await konsul(['kv', 'delete', 'wp/a']);
      watch = start();
      await waitRuns(6);
      await konsul(['kv', 'put', 'wp/g', '1']);
      await waitRuns(7);
      await new Promise((r) => setTimeout(r, 500));
      expect(runs()).toEqual(['a', 'a,b', 'a,b,c', 'a,b,c,d,e', 'a,b,c,d,e,f', 'b,c,d,e,f', 'b,c,d,e,f,g']);
    } finally {
      watch.kill('SIGKILL');
    }
  });

  it('runs the handler once with the current state, saying so, when the server lost the position', async () => {
    const s = await spawnServer();
    const dir = tempDir();
    const out = join(dir, 'runs.jsonl');
    const state = join(dir, 'watch.state');
    writeFileSync(out, '');
    const lines = () => readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const run = (url: string) => {
      const proc = spawn(
        process.execPath,
        [CLI, 'watch', '-type=key', '-key=solo', `-state-file=${state}`, `cat >> ${out}`],
        { env: { ...process.env, ...env, KONSUL_HTTP_ADDR: new URL(url).host } },
      );
      let err = '';
      proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
      return { proc, err: () => err };
    };
    let w = run(s.url);
    let restarted: SpawnedServer | undefined;
    try {
      await until(
        'the first run',
        async () => lines(),
        (l) => l.length === 1,
        15_000,
      );
      expect(lines()[0]).toBe('null');
      w.proc.kill('SIGKILL');
      // The server restarts: its change feed starts over, so the old position is gone.
      await s.stop();
      restarted = await spawnServer({ dataDir: s.dataDir });
      await fetch(`${restarted.url}/v1/kv/solo`, { method: 'PUT', body: 'now' });
      w = run(restarted.url);
      await until(
        'the run with the current state',
        async () => lines(),
        (l) => l.length === 2,
        15_000,
      );
      expect((JSON.parse(lines()[1] as string) as { Key: string }).Key).toBe('solo');
      await until(
        'the log line',
        async () => w.err(),
        (e) => /no longer holds the changes after index \d+/.test(e),
        5000,
      );
    } finally {
      w.proc.kill('SIGKILL');
      await restarted?.stop();
    }
  });
});

describe('konsul lock', () => {
  it('keeps a command line as written after the prefix', () => {
    expect(normalizeFlags(['lock', '-n', '2', '-timeout', '5', 'app/lk', 'ls', '-la', '--', 'x'])).toEqual([
      'lock',
      '-n',
      '2',
      '--timeout',
      '5',
      'app/lk',
      '--',
      'ls',
      '-la',
      '--',
      'x',
    ]);
    expect(normalizeFlags(['watch', '-type=key', '-key', 'k', 'cat', '-n'])).toEqual([
      'watch',
      '--type=key',
      '--key',
      'k',
      '--',
      'cat',
      '-n',
    ]);
  });

  it('excludes a second holder, releases when the child dies, and -n N lets N hold at once', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    writeFileSync(log, '');
    const hold = (name: string, prefix: string, extra: string[] = []) =>
      spawn(
        process.execPath,
        [CLI, 'lock', ...extra, prefix, `echo start ${name} >> ${log}; sleep 30; echo end ${name} >> ${log}`],
        { env: { ...process.env, ...env }, stdio: 'ignore' },
      );
    const lines = () => readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const first = hold('A', 'locks/one');
    await until(
      'A to hold the lock',
      async () => lines(),
      (l) => l.includes('start A'),
      15_000,
    );
    const second = hold('B', 'locks/one');
    // B waits (blocking on the key) while A holds it.
    await new Promise((r) => setTimeout(r, 1500));
    expect(lines()).toEqual(['start A']);
    const entry = (await (await fetch(`${server.url}/v1/kv/locks/one/.lock`)).json()) as Array<{ Session: string }>;
    expect(entry[0]?.Session).toBeTruthy();
    // A's child dies: A releases, and B gets the lock.
    const exitOf = (p: ReturnType<typeof spawn>) =>
      p.exitCode !== null ? Promise.resolve(p.exitCode) : new Promise((r) => p.on('exit', r));
    const firstExit = exitOf(first);
    const child = spawnSync('pgrep', ['-P', String(first.pid)], { encoding: 'utf8' }).stdout.trim();
    expect(child).toMatch(/^\d+$/);
    process.kill(Number(child), 'SIGKILL');
    await until(
      'B to hold the lock',
      async () => lines(),
      (l) => l.includes('start B'),
      15_000,
    );
    expect(await firstExit).toBe(0);
    expect(lines()).toEqual(['start A', 'start B']);
    const secondExit = exitOf(second);
    second.kill('SIGTERM');
    await secondExit;

    // A semaphore of two: two hold at once, a third waits.
    writeFileSync(log, '');
    const holders = ['X', 'Y', 'Z'].map((n) => hold(n, 'locks/sem', ['-n', '2']));
    try {
      await until(
        'two holders',
        async () => lines(),
        (l) => l.length === 2,
        15_000,
      );
      await new Promise((r) => setTimeout(r, 1500));
      expect(lines()).toHaveLength(2);
      const sem = (await (await fetch(`${server.url}/v1/kv/locks/sem/.lock?raw`)).json()) as {
        Limit: number;
        Holders: Record<string, boolean>;
      };
      expect(sem.Limit).toBe(2);
      expect(Object.keys(sem.Holders)).toHaveLength(2);
    } finally {
      for (const h of holders) h.kill('SIGTERM');
    }
  });
});

describe('konsul tls', () => {
  it('makes a CA and certificates a mutual-TLS cluster and an HTTPS API with client certificates accept', async () => {
    const dir = tempDir();
    expect((await konsul(['tls', 'ca', 'create'], { cwd: dir })).stdout).toBe(
      '==> Saved konsul-agent-ca.pem\n==> Saved konsul-agent-ca-key.pem\n',
    );
    expect((await konsul(['tls', 'cert', 'create', '-server', '-dc', 'dc1'], { cwd: dir })).stdout).toMatch(
      /==> Saved dc1-server-konsul-0\.pem\n==> Saved dc1-server-konsul-0-key\.pem\n$/,
    );
    expect((await konsul(['tls', 'cert', 'create', '-cli'], { cwd: dir })).stdout).toMatch(/dc1-cli-konsul-0\.pem/);
    // Never overwritten; exactly one kind.
    expect((await konsul(['tls', 'ca', 'create'], { cwd: dir })).code).toBe(1);
    expect((await konsul(['tls', 'cert', 'create', '-server', '-client'], { cwd: dir })).code).toBe(2);
    const f = (name: string) => join(dir, name);
    const ca = f('konsul-agent-ca.pem');
    const [cert, key] = [f('dc1-server-konsul-0.pem'), f('dc1-server-konsul-0-key.pem')];
    expect(spawnSync('openssl', ['verify', '-CAfile', ca, cert], { encoding: 'utf8' }).stdout).toMatch(/: OK/);

    // Three servers that only talk to peers presenting a certificate of this CA.
    const mtls = await TestClusterProcesses.start(3, [
      '--raft-tls-cert',
      cert,
      '--raft-tls-key',
      key,
      '--raft-tls-ca',
      ca,
    ]);
    try {
      const leader = await mtls.waitForLeader();
      const at = (m: { http: string }) => ({ env: { KONSUL_HTTP_ADDR: m.http } });
      const members = await konsul(['members', '-format=json'], at(leader));
      expect((JSON.parse(members.stdout) as Array<{ Status: number }>).map((m) => m.Status)).toEqual([1, 1, 1]);

      // The operator commands on this cluster: list the peers, hand over the leadership, remove a
      // dead server, let another leave.
      const peers = JSON.parse(
        (await konsul(['operator', 'raft', 'list-peers', '-format=json'], at(leader))).stdout,
      ) as {
        Servers: Array<{ ID: string; Node: string; Address: string; Leader: boolean }>;
      };
      expect(peers.Servers.filter((p) => p.Leader).map((p) => p.Node)).toEqual([leader.name]);
      const [next, doomed] = mtls.members.filter((m) => m !== leader);
      const nextId = peers.Servers.find((p) => p.Node === next?.name)?.ID as string;
      expect((await konsul(['operator', 'raft', 'transfer-leader', `-id=${nextId}`], at(leader))).stdout).toBe(
        'Success\n',
      );
      const newLeader = await mtls.waitForLeader();
      expect(newLeader.name).toBe(next?.name);
      await doomed?.server?.stop('SIGKILL');
      const removed = await konsul(['operator', 'raft', 'remove-peer', `-address=${doomed?.raft}`], at(newLeader));
      expect([removed.code, removed.stdout]).toEqual([0, `Removed peer with address "${doomed?.raft}"\n`]);
      expect(
        (await konsul(['operator', 'raft', 'list-peers'], at(newLeader))).stdout.split('\n').filter(Boolean),
      ).toHaveLength(3);
      expect((await konsul(['leave'], at(leader))).stdout).toBe('Graceful leave complete\n');
      await until(
        'one peer left',
        async () => (await konsul(['operator', 'raft', 'list-peers'], at(newLeader))).stdout,
        (t) => t.split('\n').filter(Boolean).length === 2,
        15_000,
      );
    } finally {
      await mtls.stopAll();
    }

    // An HTTPS API that verifies client certificates: the CLI certificate gets in, no certificate does not.
    const https = await spawnServer({
      args: ['--tls-cert', cert, '--tls-key', key, '--tls-ca', ca, '--tls-verify-incoming'],
    });
    try {
      const addr = { KONSUL_HTTP_ADDR: `https://127.0.0.1:${https.port}`, KONSUL_CACERT: ca };
      const ok = await konsul(['kv', 'put', 'tls/x', 'y'], {
        env: {
          ...addr,
          KONSUL_CLIENT_CERT: f('dc1-cli-konsul-0.pem'),
          KONSUL_CLIENT_KEY: f('dc1-cli-konsul-0-key.pem'),
        },
      });
      expect([ok.code, ok.stdout]).toEqual([0, 'Success! Data written to: tls/x\n']);
      const refused = await konsul(['kv', 'get', 'tls/x'], { env: addr });
      expect(refused.code).toBe(1);
    } finally {
      await https.stop();
    }
  });
});

describe('konsul validate', () => {
  it('names every bad key of a server or edge config file, and says when one is valid', async () => {
    const dir = tempDir();
    const good = join(dir, 'server.json');
    writeFileSync(
      good,
      JSON.stringify({ datacenter: 'dc2', bootstrap_expect: 3, join_token: 'j', acl: { enabled: true } }),
    );
    expect(await konsul(['validate', good])).toEqual({ code: 0, stdout: 'Configuration is valid!\n', stderr: '' });
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ datacenter: 'dc2', bootstrap_expect: 'three', colour: 'blue', log_level: 'loud' }),
    );
    const r = await konsul(['validate', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      `invalid value for bootstrap_expect in ${bad}: "three" is not an integer`,
      `config file ${bad}: unknown key "colour"`,
      expect.stringMatching(/^invalid value for log_level in .*: "loud" is not one of /),
    ]);
    const edge = join(dir, 'edge.json');
    writeFileSync(
      edge,
      JSON.stringify({ upstream: 'http://127.0.0.1:8500', prefix: ['cfg/'], sync: 'carrier-pigeon' }),
    );
    const e = await konsul(['validate', edge]);
    expect([e.code, e.stderr]).toEqual([
      1,
      expect.stringMatching(/sync in .*: "carrier-pigeon" is not one of http, mqtt/),
    ]);
    // Options that go together are checked as the server checks them at start.
    const tls = join(dir, 'tls.json');
    writeFileSync(tls, JSON.stringify({ raft_tls_cert: '/x.pem' }));
    expect((await konsul(['validate', tls])).stderr).toMatch(
      /--raft-tls-cert, --raft-tls-key and --raft-tls-ca must be given together/,
    );
  });
});

describe('konsul completion', () => {
  it('completes commands, subcommands and flags in bash', async () => {
    const script = join(tempDir(), 'konsul.bash');
    writeFileSync(script, (await konsul(['completion', 'bash'])).stdout);
    const complete = (words: string[]) => {
      const set = `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}`;
      return spawnSync('bash', ['-c', `source ${script}; ${set}; _konsul; echo "\${COMPREPLY[*]}"`], {
        encoding: 'utf8',
      }).stdout.trim();
    };
    expect(complete(['konsul', 'sn'])).toBe('snapshot');
    expect(complete(['konsul', 'kv', 'get', '-rec'])).toBe('-recurse');
    expect(complete(['konsul', 'operator', 'raft', ''])).toBe('list-peers remove-peer transfer-leader');
    expect(complete(['konsul', '-http-addr', 'x', 'acl', 'tok'])).toBe('token');
    expect((await konsul(['completion', 'zsh'])).stdout).toMatch(
      /^# konsul completion \(zsh\)[\s\S]*bashcompinit[\s\S]*complete -o default -F _konsul konsul\n$/,
    );
    expect((await konsul(['completion', 'fish'])).code).toBe(2);
  });
});

describe('konsul debug', () => {
  it('writes a .tar.gz with the agent, members, raft, autopilot, metrics samples and the log stream', async () => {
    const dir = tempDir();
    const output = join(dir, 'bundle.tar.gz');
    const debug = konsul(['debug', '-duration=3s', '-interval=1s', `-output=${output}`]);
    // Something to log at debug level while it collects.
    await new Promise((r) => setTimeout(r, 1000));
    await fetch(`${server.url}/v1/agent/log-level`, { method: 'PUT', body: '{"LogLevel":"debug"}' });
    await fetch(`${server.url}/v1/agent/log-level`, { method: 'PUT', body: '{"LogLevel":"info"}' });
    const r = await debug;
    expect([r.code, r.stdout]).toEqual([0, `Saved debug archive: ${output}\n`]);
    const list = spawnSync('tar', ['-tzf', output], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    const names = list.map((f) => f.replace(/^konsul-debug-\d+\//, '')).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        'agent.json',
        'autopilot.json',
        'index.json',
        'members.json',
        'monitor.log',
        'raft.json',
        'metrics/0000.json',
        'metrics/0001.json',
      ]),
    );
    spawnSync('tar', ['-xzf', output, '-C', dir]);
    const root = join(dir, list[0]?.split('/')[0] as string);
    const index = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as {
      MetricsSamples: number;
      LogBytes: number;
    };
    expect(index.MetricsSamples).toBeGreaterThanOrEqual(3);
    expect(readFileSync(join(root, 'monitor.log'), 'utf8')).toMatch(/log level/i);
    expect(
      (JSON.parse(readFileSync(join(root, 'agent.json'), 'utf8')) as { Config: { Datacenter: string } }).Config
        .Datacenter,
    ).toBe('dc1');
    expect((await konsul(['debug', '-duration=1s', '-interval=5s'])).code).toBe(2);
  });
});

describe('the same client commands under Bun and Deno', () => {
  it('kv put, kv get and members answer alike on Node, Bun and Deno', () => {
    const runtimes: Array<[string, string, string[]]> = [
      ['node', process.execPath, [CLI]],
      ['bun', bunBinary(), [CLI]],
      ['deno', denoBinary(), ['run', '-A', CLI]],
    ];
    for (const [name, bin, pre] of runtimes) {
      const run = (args: string[]) =>
        spawnSync(bin, [...pre, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
      expect(run(['kv', 'put', `rt/${name}`, `on ${name}`]).stdout, name).toBe(
        `Success! Data written to: rt/${name}\n`,
      );
      expect(run(['kv', 'get', `rt/${name}`]).stdout, name).toBe(`on ${name}\n`);
      expect(run(['members']).stdout, name).toMatch(/^Node +Address +Status/);
      expect(run(['kv', 'get', 'rt/none']).status, name).toBe(1);
    }
  });
});

describe('konsul lock when the lock is lost', () => {
  it('kills the child and exits 1 when its session is destroyed', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    writeFileSync(log, '');
    const proc = spawn(
      process.execPath,
      [CLI, 'lock', 'locks/lost', `echo start >> ${log}; sleep 20; echo end >> ${log}`],
      {
        env: { ...process.env, ...env },
      },
    );
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => proc.on('exit', r));
    await until(
      'the lock to be held',
      async () => readFileSync(log, 'utf8'),
      (t) => t.includes('start'),
      15_000,
    );
    const [entry] = (await (await fetch(`${server.url}/v1/kv/locks/lost/.lock`)).json()) as Array<{ Session: string }>;
    expect((await fetch(`${server.url}/v1/session/destroy/${entry?.Session}`, { method: 'PUT' })).status).toBe(200);
    expect(await exited).toBe(1);
    expect(stderr).toContain('Lock lost, killing child');
    await new Promise((r) => setTimeout(r, 300));
    expect(readFileSync(log, 'utf8')).toBe('start\n');
  });
});
