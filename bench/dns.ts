/**
 * DNS service answers under load, measured with dnsperf (a C client, so the figures are the
 * server's): starts a dev server, registers `--services` × `--per-service` instances (10 per
 * node, one in ten critical, bench/catalog-load.ts) through /v1/catalog/register, then runs
 * dnsperf (bench/load-tools.ts: `--clients` sockets, 100 queries in flight, EDNS0 so UDP answers
 * of up to 4096 bytes) for A and
 * then for SRV questions (`--types`) about `svc-<i>.service.consul`, cycling through every
 * service, each after an unreported `--warmup` run of the same queries. Prints q/s, p50/p99
 * latency, lost queries and the response codes per type. `npm run bench:dns` installs dnsperf
 * and builds first; `npx tsx bench/dns.ts` does neither.
 *
 *   npm run bench:dns -- [--services 100] [--per-service 100] [--duration 10] [--warmup 15]
 *     [--clients 16] [--types A,SRV] [--profile DIR]
 *
 * The cost of a query depends on the instances per service, not on the number of services, so
 * 100 services of 100 stand for 1,000 of 100 without the registration's minute. A server just
 * loaded with 100,000 instances is still busy with that for some seconds (snapshot slices, MQTT
 * publishing), which the default warm-up of 15 s mostly leaves behind. --profile writes a V8 CPU
 * profile of the server into DIR when it stops.
 */
import { parseArgs } from 'node:util';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';
import { instanceRegistration } from './catalog-load.js';
import { dnsperfPhase } from './load-tools.js';

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
  for (const type of values.types.split(',')) {
    const questions = Array.from({ length: SERVICES }, (_, i) => `svc-${i}.service.consul ${type}`);
    // dnsperf's defaults: one socket per client, at most 100 queries outstanding.
    const load = { clients: Number(values.clients), inFlight: 100 };
    // Unreported: fills the server's kept answers and lets it finish the registration's work.
    if (Number(values.warmup) > 0)
      await dnsperfPhase(server.dnsAddr, questions, { ...load, seconds: Number(values.warmup) });
    const d = await dnsperfPhase(server.dnsAddr, questions, { ...load, seconds: Number(values.duration) });
    console.log(
      `DNS ${type} (dnsperf, ${values.clients} clients, 100 in flight, EDNS0): ${d.perSec.toFixed(0)} q/s, ` +
        `p50 ${d.p50.toFixed(2)} ms, p99 ${d.p99.toFixed(2)} ms, lost ${d.errors}, ` +
        `response codes ${JSON.stringify(d.rcodes)}`,
    );
  }
} finally {
  await server.stop();
  await cleanupAll();
}
