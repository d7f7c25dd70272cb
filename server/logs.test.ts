import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, until } from '../testing/process.js';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';

afterAll(cleanupAll);

/** The JSON log lines in `output` whose message is `message`. */
function linesOf(output: string, message: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['@message'] === message);
}

describe('a server’s logs', () => {
  it('writes sampled access lines with the route template, never the key or the token', async () => {
    const s = await spawnServer({ args: ['--access-log-sample', '1'] });
    try {
      const res = await fetch(`${s.url}/v1/kv/secret-key-name/x`, {
        method: 'PUT',
        body: 'v',
        headers: { 'X-Request-Id': 'abc-123', 'X-Consul-Token': 'not-a-real-token-but-secret' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe('abc-123');
      const other = await fetch(`${s.url}/v1/kv/secret-key-name/missing`, {
        headers: { 'X-Request-Id': 'bad id with spaces' },
      });
      expect(other.status).toBe(404);
      const minted = other.headers.get('x-request-id') as string;
      expect(minted).toMatch(/^[0-9a-f]{16}$/);
      const lines = await until(
        'both access lines',
        async () => linesOf(s.output(), 'http request'),
        (l) => l.length >= 2,
      );
      expect(lines[0]).toMatchObject({
        component: 'access',
        request_id: 'abc-123',
        method: 'PUT',
        route: '/v1/kv/*',
        status: 200,
        bytes: 4,
      });
      expect(typeof lines[0]?.['ms']).toBe('number');
      expect(lines[1]).toMatchObject({ request_id: minted, method: 'GET', status: 404 });
      const text = JSON.stringify(lines);
      expect(text).not.toContain('secret-key-name');
      expect(text).not.toContain('not-a-real-token');
    } finally {
      await s.stop();
    }
  });

  it('changes the log level at run time, through the API and on SIGHUP, and streams lines to monitors', async () => {
    const dir = tempDir();
    const config = join(dir, 'konsul.json');
    writeFileSync(config, JSON.stringify({ log_level: 'info' }));
    const s = await spawnServer({ args: ['--config', config] });
    try {
      const level = async () =>
        ((await (await fetch(`${s.url}/v1/agent/log-level`)).json()) as { LogLevel: string }).LogLevel;
      expect(await level()).toBe('info');
      const bad = await fetch(`${s.url}/v1/agent/log-level`, {
        method: 'PUT',
        body: JSON.stringify({ LogLevel: 'loud' }),
      });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('Unknown log level: loud');
      expect((await fetch(`${s.url}/v1/agent/monitor?loglevel=LOUD`)).status).toBe(400);

      // A monitor at debug gets JSON lines the info-level log itself does not write.
      const abort = new AbortController();
      const monitor = await fetch(`${s.url}/v1/agent/monitor?loglevel=debug&logjson`, { signal: abort.signal });
      expect(monitor.status).toBe(200);
      const reader = (monitor.body as ReadableStream<Uint8Array>).getReader();
      const put = await fetch(`${s.url}/v1/agent/log-level?level=DEBUG`, { method: 'PUT' });
      expect(await put.json()).toEqual({ LogLevel: 'debug' });
      let streamed = '';
      while (!streamed.includes('"@message":"log level changed"')) {
        const chunk = await reader.read();
        if (chunk.done) break;
        streamed += new TextDecoder().decode(chunk.value);
      }
      const changed = streamed
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l['@message'] === 'log level changed');
      expect(changed).toMatchObject({ '@level': 'info', level: 'debug' });
      abort.abort();
      expect(await level()).toBe('debug');

      // SIGHUP re-reads the config file: back to warn.
      writeFileSync(config, JSON.stringify({ log_level: 'warn' }));
      s.proc.kill('SIGHUP');
      await until('the log level to follow the config file', level, (l) => l === 'warn');
    } finally {
      await s.stop();
    }
  });
});
