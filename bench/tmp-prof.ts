import { cleanupAll, spawnServer } from '../testing/spawn-server.js';
import { instanceRegistration } from './catalog-load.js';
import { wrkPhase } from './load-tools.js';
const SERVICES = Number(process.argv[2] ?? 100), TOTAL = SERVICES * 100;
const server = await spawnServer({ nodeArgs: ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] });
try {
  const target = `${server.host}:${server.port}`;
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    for (let i = next++; i < TOTAL; i = next++) {
      const res = await fetch(`http://${target}/v1/catalog/register`, { method: 'PUT', body: instanceRegistration(i, SERVICES, 10) });
      if (res.status !== 200) throw new Error(String(res.status));
    }
  }));
  for (let n = 0; n < SERVICES; n++) await (await fetch(`${server.url}/v1/health/service/svc-${n}?passing`)).arrayBuffer();
  await new Promise((r) => setTimeout(r, 5000));
  const paths = Array.from({ length: SERVICES }, (_, n) => `/v1/health/service/svc-${(n * 37) % SERVICES}?passing`);
  const h = await wrkPhase(server.url, paths, { connections: 16, seconds: 10 });
  console.log(`health ${h.perSec.toFixed(0)} q/s p50 ${h.p50.toFixed(2)} p99 ${h.p99.toFixed(2)} err ${h.errors}`);
} finally { await server.stop(); await cleanupAll(); }
