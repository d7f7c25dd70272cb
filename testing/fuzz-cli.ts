/**
 * Throws generated malformed requests at a fresh `konsul server --dev` (ACLs on or off) and checks
 * that it never crashes, never answers a fault (5xx other than deliberate ones), and never writes a
 * token it was sent to its log. Prints the seed (replay with --seed) and the counts by status.
 *
 *   npm run fuzz -- [--requests 100000] [--seed N] [--acl on|off|both] [--concurrency 16]
 */
import { parseArgs } from 'node:util';
import { cleanupAll, spawnServer } from './spawn-server.js';
import { FuzzGenerator, runFuzz } from './fuzz.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    acl: { type: 'string', default: 'both' },
    concurrency: { type: 'string', default: '16' },
  },
});
const requests = Number(values.requests);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const modes = values.acl === 'both' ? [false, true] : [values.acl === 'on'];
let ok = true;
try {
  for (const acl of modes) {
    const server = await spawnServer({ args: acl ? ['--acl-enabled', '--acl-default-policy', 'deny'] : [] });
    const gen = new FuzzGenerator(seed);
    if (acl)
      gen.tokens.add(
        ((await (await fetch(`${server.url}/v1/acl/bootstrap`, { method: 'PUT' })).json()) as { SecretID: string })
          .SecretID,
      );
    const started = Date.now();
    const report = await runFuzz(server.url, gen, requests, Number(values.concurrency));
    const seconds = (Date.now() - started) / 1000;
    const alive = (await fetch(`${server.url}/v1/status/leader`).catch(() => undefined))?.status === 200;
    const out = server.output();
    const leaked = [...gen.tokens].filter((t) => out.includes(t)).length;
    const faultLines = out.split('\n').filter((l) => l.includes('"request failed"')).length;
    const code = await server.stop();
    process.stdout.write(
      `fuzz seed=${seed} acl=${acl ? 'on' : 'off'}: ${report.sent} requests in ${seconds.toFixed(1)} s; ` +
        `by status ${JSON.stringify(report.byStatus)}; ` +
        `faults ${report.faultCount}, unanswered ${report.unanswered.length}, tokens sent ${gen.tokens.size}, ` +
        `leaked into the log ${leaked}, ` +
        `fault log lines ${faultLines}, alive after ${alive}, exit ${code}\n`,
    );
    for (const f of report.faults) process.stdout.write(`  fault: ${f.status} ${f.request} -> ${f.body}\n`);
    for (const u of report.unanswered.slice(0, 20)) process.stdout.write(`  unanswered: ${u.request} -> ${u.error}\n`);
    if (report.faultCount > 0 || report.unanswered.length > 0 || leaked > 0 || faultLines > 0 || !alive || code !== 0)
      ok = false;
  }
} finally {
  await cleanupAll();
}
process.stdout.write(
  ok ? 'fuzz: no crash, no fault, no leaked token\n' : `fuzz: problems found (replay with --seed ${seed})\n`,
);
process.exit(ok ? 0 : 1);
