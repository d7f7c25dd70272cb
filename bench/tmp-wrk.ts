import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
const cpu = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';
import { instanceRegistration } from './catalog-load.js';
const TOTAL = Number(process.argv[2] ?? 30000);
const server = await spawnServer(process.env.PROF ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] } : {});
try {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const put = (body: Buffer) => new Promise<number>((resolve, reject) => {
    const req = request({ host: server.host, port: server.port, method: 'PUT', path: '/v1/catalog/register', agent, headers: { 'content-length': body.length } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject); req.end(body);
  });
  const bodies = Array.from({ length: TOTAL }, (_, i) => Buffer.from(instanceRegistration(i, 1000, 10)));
  let next = 0; const t0 = performance.now(); const c0 = cpu(server.proc.pid!);
  await Promise.all(Array.from({ length: 64 }, async () => { for (let i = next++; i < TOTAL; i = next++) { const s = await put(bodies[i]!); if (s !== 200) throw new Error(String(s)); } }));
  const secs = (performance.now() - t0) / 1000;
  console.log(`${TOTAL} in ${secs.toFixed(1)} s = ${(TOTAL / secs).toFixed(0)}/s; server CPU ${((cpu(server.proc.pid!) - c0) / TOTAL * 1e6).toFixed(0)} us per registration`);
  agent.destroy();
} finally { await server.stop(); await cleanupAll(); }
