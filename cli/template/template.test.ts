import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../testing/manual-clock.js';
import { cleanupAll, spawnServer } from '../../testing/spawn-server.js';
import { KonsulClient } from '../client/api.js';
import { TemplateRunner } from '../../core/template/runner.js';
import { blockingWatcher } from './watcher.js';

afterAll(cleanupAll);

const until = async (check: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

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
        env: { env: () => undefined, readFile: () => undefined, now: () => 0 },
        events: { rendered: (_, c) => out.push(c), failed: (_, e) => out.push(`ERR ${e.message}`) },
      },
    );
    runner.start();
    await until(() => out.length === 1);
    expect(out[0]).toBe('mode=none\n');
    await put('/v1/kv/app/mode', 'prod');
    await until(() => out.length === 2);
    expect(out[1]).toBe('mode=prod\n');
    await put(
      '/v1/agent/service/register',
      JSON.stringify({ ID: 'web-1', Name: 'web', Address: '10.1.1.1', Port: 8080 }),
    );
    await until(() => out.length === 3);
    expect(out[2]).toBe('mode=prod\nserver 10.1.1.1:8080;\n');
    // A write to a key nobody reads renders nothing.
    await put('/v1/kv/other', 'x');
    await new Promise((r) => setTimeout(r, 300));
    expect(out).toHaveLength(3);
    runner.stop();
  }, 30_000);
});
