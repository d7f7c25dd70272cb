/**
 * DNS service answers under load, measured with dnsperf (a C client, so the figures are the
 * server's): starts a dev server, registers `--services` × `--per-service` instances (10 per
 * node, one in ten critical, bench/catalog-load.ts) through /v1/catalog/register, then runs
 * `dnsperf -c <clients> -l <duration> -e` (EDNS0, so UDP answers of up to 4096 bytes) for A and
 * then for SRV questions (`--types`) about `svc-<i>.service.consul`, cycling through every
 * service, each after an unreported `--warmup` run of the same queries. Prints q/s, the average
 * latency, lost queries and the response codes per type. dnsperf must be installed (apt: dnsperf);
 * the server runs dist/, so build first.
 *
 *   npx tsx bench/dns.ts [--services 100] [--per-service 100] [--duration 10] [--warmup 15]
 *     [--clients 16] [--types A,SRV] [--profile DIR]
 *
 * The cost of a query depends on the instances per service, not on the number of services, so
 * 100 services of 100 stand for 1,000 of 100 without the registration's minute. A server just
 * loaded with 100,000 instances is still busy with that for some seconds (snapshot slices, MQTT
 * publishing), which the default warm-up of 15 s mostly leaves behind. --profile writes a V8 CPU
 * profile of the server into DIR when it stops.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { cleanupAll, spawnServer, tempDir } from '../testing/spawn-server.js';
import { instanceRegistration } from './catalog-load.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '100' },
    'per-service': { type: 'string', default: '100' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '15' },
    clients: { type: 'string', default: '16' },
    types: { type: 'string', default: 'A,SRV' },
    profile: { type: 'string' },
  },
});
const SERVICES = Number(values.services);
const TOTAL = SERVICES * Number(values['per-service']);

try {
  await run('dnsperf', ['-h']);
} catch (err) {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    console.error('dnsperf is not installed (apt-get install dnsperf)');
    process.exit(1);
  }
}

const server = await spawnServer({
  timeoutMs: 60_000,
  ...(values.profile ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] } : {}),
});
try {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let i = next++; i < TOTAL; i = next++) {
        const res = await fetch(`${server.url}/v1/catalog/register`, {
          method: 'PUT',
          body: instanceRegistration(i, SERVICES, 10),
        });
        if (res.status !== 200) throw new Error(`register ${i}: ${res.status} ${await res.text()}`);
      }
    }),
  );
  console.log(
    `registered ${TOTAL} instances of ${SERVICES} services in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const [host, port] = server.dnsAddr.split(':') as [string, string];
  const dir = tempDir();
  for (const type of values.types.split(',')) {
    const file = join(dir, `${type}.txt`);
    writeFileSync(file, Array.from({ length: SERVICES }, (_, i) => `svc-${i}.service.consul ${type}\n`).join(''));
    const args = ['-s', host, '-p', port, '-d', file, '-c', values.clients, '-l', values.duration, '-e'];
    // Unreported: fills the server's kept answers and lets it finish the registration's work.
    if (Number(values.warmup) > 0) await run('dnsperf', [...args.slice(0, -3), '-l', values.warmup, '-e']);
    const { stdout } = await run('dnsperf', args);
    const field = (name: string) => new RegExp(`${name}:\\s+(.+)`).exec(stdout)?.[1]?.trim() ?? '?';
    console.log(
      `DNS ${type} (dnsperf ${args.join(' ')}): ${field('Queries per second')} q/s, ` +
        `average latency ${field('Average Latency \\(s\\)')} s, lost ${field('Queries lost')}, ` +
        `responses ${field('Response codes')}, average size ${field('Average packet size')}`,
    );
  }
} finally {
  await server.stop();
  await cleanupAll();
}
