/**
 * Render latency of `konsul template`'s runner: from sending a KV write to the rendered file on
 * disk, over blocking queries against a dev server, for templates reading 1 key and for
 * one reading 1 key plus a 50-instance service. Prints p50, p99 and max per case.
 *
 *   npm run bench:template [-- --writes 300]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KonsulClient } from '../cli/client/api.js';
import { writeRendered } from '../cli/template/output.js';
import { blockingWatcher } from '../cli/template/watcher.js';
import { TemplateRunner } from '../core/template/runner.js';
import { systemClock } from '../runtimes/node/clock.js';
import { cleanupAll, spawnServer, tempDir } from '../testing/spawn-server.js';

const { values } = parseArgs({ options: { writes: { type: 'string', default: '300' } } });
const writes = Number(values.writes);

const server = await spawnServer();
const client = new KonsulClient({ base: server.url, token: undefined, tls: {}, datacenter: undefined });
for (let i = 0; i < 50; i++)
  await fetch(`${server.url}/v1/agent/service/register`, {
    method: 'PUT',
    body: JSON.stringify({ ID: `web-${i}`, Name: 'web', Address: `10.0.${i >> 8}.${i & 255}`, Port: 8000 + i }),
  });

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;

async function measure(name: string, source: string): Promise<void> {
  const dir = tempDir();
  const out = join(dir, 'out');
  let rendered: ((content: string) => void) | undefined;
  const runner = new TemplateRunner([{ name, source }], {
    watcher: blockingWatcher(client),
    clock: systemClock(),
    env: { env: () => undefined, now: () => Date.now() },
    events: {
      rendered: (_, content) => {
        writeRendered(out, content);
        rendered?.(content);
      },
      failed: (_, e) => console.error(e.message),
    },
  });
  const next = () => new Promise<string>((resolve) => (rendered = resolve));
  const first = next();
  await fetch(`${server.url}/v1/kv/bench/v`, { method: 'PUT', body: 'start' });
  runner.start();
  await first;
  const ms: number[] = [];
  for (let i = 0; i < writes; i++) {
    const waiting = next();
    const t0 = performance.now();
    await fetch(`${server.url}/v1/kv/bench/v`, { method: 'PUT', body: `v${i}` });
    const content = await waiting;
    ms.push(performance.now() - t0);
    if (!readFileSync(out, 'utf8').startsWith(`v${i}`) || !content.startsWith(`v${i}`))
      throw new Error(`render ${i} does not hold v${i}`);
  }
  runner.stop();
  console.log(
    `${name}: ${writes} changes, write to file on disk p50 ${pct(ms, 0.5).toFixed(1)} ms, ` +
      `p99 ${pct(ms, 0.99).toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms`,
  );
}

try {
  await measure('one key', '{{ key "bench/v" }}\n');
  await measure(
    'one key and 50 instances',
    '{{ key "bench/v" }}\n{{ range service "web" }}server {{ .Address }}:{{ .Port }};\n{{ end }}',
  );
} finally {
  await cleanupAll();
}
