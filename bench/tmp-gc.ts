import { Agent } from 'node:http';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';
import { instanceRegistration } from './catalog-load.js';
import { call } from './http-load.js';
import { wrkPhase } from './load-tools.js';
const SERVICES = Number(process.argv[2] ?? 100), TOTAL = SERVICES * 100;
const server = await spawnServer({ nodeArgs: ['--trace-gc', ...(process.env.SEMI ? [`--max-semi-space-size=${process.env.SEMI}`] : [])] });
try {
  const target = `${server.host}:${server.port}`;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => { for (let i = next++; i < TOTAL; i = next++) await call(agent, target, 'PUT', '/v1/catalog/register', Buffer.from(instanceRegistration(i, SERVICES, 10))); }));
  agent.destroy();
  for (let n = 0; n < SERVICES; n++) await (await fetch(`${server.url}/v1/health/service/svc-${n}?passing`)).arrayBuffer();
  await new Promise((r) => setTimeout(r, 3000));
  const mark = server.output().length;
  const paths = Array.from({ length: SERVICES }, (_, n) => `/v1/health/service/svc-${(n * 37) % SERVICES}?passing`);
  const h = await wrkPhase(server.url, paths, { connections: 16, seconds: 8 });
  console.log(`health ${h.perSec.toFixed(0)} q/s p50 ${h.p50.toFixed(2)} p99 ${h.p99.toFixed(2)} err ${h.errors}`);
  const gc = server.output().slice(mark).split('\n').filter((l) => /Scavenge|Mark/.test(l));
  const ms = gc.map((l) => Number(/, ([\d.]+) \/ [\d.]+ ms/.exec(l)?.[1] ?? 0));
  console.log(`gc events ${gc.length}; scavenges ${gc.filter((l) => l.includes('Scavenge')).length}; total ${ms.reduce((a, b) => a + b, 0).toFixed(0)} ms; max ${Math.max(...ms)} ms`);
  console.log(gc.filter((l) => l.includes('Mark')).slice(0, 5).join('\n'));
  console.log(gc.slice(0, 3).join('\n'));
} finally { await server.stop(); await cleanupAll(); }
