import { Agent, request } from 'node:http';
import { existsSync } from 'node:fs';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';
import { instanceRegistration } from './catalog-load.js';
const TOTAL = 100000;
const keep = '/tmp/konsul-100k';
let dataDir = keep;
if (!existsSync(keep)) {
  const server = await spawnServer({ dataDir: keep });
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const put = (body: Buffer) => new Promise<number>((resolve, reject) => {
    const req = request({ host: server.host, port: server.port, method: 'PUT', path: '/v1/catalog/register', agent, headers: { 'content-length': body.length } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject); req.end(body);
  });
  let next = 0; const t0 = performance.now();
  await Promise.all(Array.from({ length: 64 }, async () => { for (let i = next++; i < TOTAL; i = next++) { const s = await put(Buffer.from(instanceRegistration(i, 1000, 10))); if (s !== 200) throw new Error(String(s)); } }));
  console.log(`registered in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  agent.destroy();
  await new Promise((r) => setTimeout(r, 5000));
  await server.stop();
}
for (let i = 0; i < 2; i++) {
  const t1 = performance.now();
  const s = await spawnServer({ dataDir, timeoutMs: 120_000, nodeArgs: process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof-restart'] : [] });
  console.log(`serving after ${(performance.now() - t1).toFixed(0)} ms`);
  for (const line of s.output().split('\n')) console.log('  ', line.slice(0, 260));
  await s.stop();
}
await cleanupAll();
