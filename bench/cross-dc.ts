/**
 * Cross-datacenter read latency: two single-server datacenters on loopback, federated
 * (--join-wan), and the time of a KV read answered by dc1 itself against the same read for dc2's
 * data made at dc1 (`?dc=dc2`: relayed to dc2's server and back). Sequential requests, keep-alive.
 * Prints p50, p99 and max of each and the added cost. Loopback has no WAN delay: the figure is
 * Konsul's own relaying cost, to be added to the network's round trip.
 *
 *   npm run bench:cross-dc [-- --requests 2000]
 */
import { parseArgs } from 'node:util';
import { until } from '../testing/process.js';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' } } });
const requests = Number(values.requests);

const dc1 = await spawnServer({ args: ['--join-token', 'bench'] });
const dc2 = await spawnServer({
  args: ['--datacenter', 'dc2', '--join-token', 'bench', '--join-wan', `${dc1.host}:${dc1.port}`],
});
try {
  await until(
    'federation',
    () => fetch(`${dc1.url}/v1/catalog/datacenters`).then((r) => r.text()),
    (t) => t === '["dc1","dc2"]',
  );
  await fetch(`${dc1.url}/v1/kv/bench/key`, { method: 'PUT', body: 'local value' });
  await fetch(`${dc2.url}/v1/kv/bench/key`, { method: 'PUT', body: 'remote value' });
  const pct = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;
  const time = async (url: string, want: string): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < requests + 100; i++) {
      const t0 = performance.now();
      const body = await (await fetch(url)).text();
      const ms = performance.now() - t0;
      if (body !== want) throw new Error(`${url} answered ${JSON.stringify(body)}`);
      if (i >= 100) out.push(ms);
    }
    return out;
  };
  const local = await time(`${dc1.url}/v1/kv/bench/key?raw`, 'local value');
  const remote = await time(`${dc1.url}/v1/kv/bench/key?raw&dc=dc2`, 'remote value');
  const row = (name: string, xs: number[]) =>
    `${name.padEnd(24)} p50 ${pct(xs, 0.5).toFixed(2)} ms  p99 ${pct(xs, 0.99).toFixed(2)} ms  ` +
    `max ${Math.max(...xs).toFixed(2)} ms`;
  process.stdout.write(`${requests} sequential KV reads at dc1 (after 100 warm-up reads)\n`);
  process.stdout.write(`${row('local (dc1)', local)}\n${row('cross-DC (?dc=dc2)', remote)}\n`);
  process.stdout.write(
    `added by relaying: p50 +${(pct(remote, 0.5) - pct(local, 0.5)).toFixed(2)} ms, ` +
      `p99 +${(pct(remote, 0.99) - pct(local, 0.99)).toFixed(2)} ms\n`,
  );
} finally {
  await cleanupAll();
}
