import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkRun, reviveSavedRun, type SavedRun } from './nemesis/check.js';
import { FAULT_KINDS, type FaultKind } from './nemesis/faults.js';
import { teardownAllNetworks } from './nemesis/net.js';
import { runNemesis, unmountAllDisks } from './nemesis/run.js';
import { cleanupAll } from './process.js';

// `npm run nemesis -- --nodes 5 --time 300 --faults kill,pause,partition,membership,clock,disk --seed S`:
// real servers on loopback (in network namespaces when root) under faults, with workloads and checkers.
// Exit 0: no anomaly; 1: anomalies (the report says which, with the operations); 2: a check could
// not decide (e.g. the linearizability search ran out of budget); 3: bad arguments or the run failed.
// With --plant BUG --expect-anomaly (a bug planted to show the checkers have teeth): 0 when caught.

const USAGE = `usage: npm run nemesis -- [--nodes 5] [--time 300] [--faults all|${FAULT_KINDS.join(',')}]
       [--seed N] [--clients 8] [--out DIR] [--no-netns] [--check-budget 20000000]
       [--plant stale-consistent-reads [--expect-anomaly]]
       npm run nemesis -- --recheck DIR   (the checkers again, over DIR/history.json)`;

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(3);
}

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5' },
    time: { type: 'string', default: '300' },
    faults: { type: 'string', default: 'all' },
    seed: { type: 'string' },
    clients: { type: 'string', default: '8' },
    out: { type: 'string' },
    'no-netns': { type: 'boolean', default: false },
    'check-budget': { type: 'string', default: '20000000' },
    plant: { type: 'string' },
    recheck: { type: 'string' },
    'expect-anomaly': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (values.recheck !== undefined) {
  // The checkers again over a saved run (e.g. after a checker changed), without any server.
  const file = join(resolve(values.recheck), 'history.json');
  let saved: SavedRun;
  try {
    saved = reviveSavedRun(JSON.parse(readFileSync(file, 'utf8')) as SavedRun);
  } catch (err) {
    fail(`cannot read ${file}: ${(err as Error).message}`);
  }
  const { checks, anomalies } = checkRun(saved, Number(values['check-budget']));
  // The verdicts and the anomalies' evidence, next to the run (report.json keeps the original's).
  writeFileSync(join(resolve(values.recheck), 'recheck.json'), JSON.stringify({ checks, anomalies }, null, 1));
  for (const [name, check] of Object.entries(checks)) console.log(`  ${name}: ${check.ok} — ${check.detail}`);
  for (const a of anomalies) console.log(`  ANOMALY ${a.checker}: ${a.what}`);
  const undecided = Object.values(checks).some((c) => c.ok !== true);
  process.exit(anomalies.length > 0 ? 1 : undecided ? 2 : 0);
}
const int = (name: string, text: string, min: number, max: number): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    fail(`--${name} must be an integer from ${min} to ${max}, not ${text}`);
  return n;
};
const nodes = int('nodes', values.nodes, 1, 9);
const seconds = int('time', values.time, 10, 86_400);
const clients = int('clients', values.clients, 1, 256);
const checkBudget = int('check-budget', values['check-budget'], 1000, 2_000_000_000);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : int('seed', values.seed, 0, 2 ** 32 - 1);
const faults: FaultKind[] =
  values.faults === 'all'
    ? [...FAULT_KINDS]
    : values.faults === 'none'
      ? []
      : values.faults.split(',').map((k) => {
          if (!(FAULT_KINDS as readonly string[]).includes(k)) fail(`unknown fault kind ${JSON.stringify(k)}`);
          return k as FaultKind;
        });
if (values.plant !== undefined && values.plant !== 'stale-consistent-reads')
  fail(`--plant knows one bug: stale-consistent-reads (not ${JSON.stringify(values.plant)})`);
const plant = values.plant as 'stale-consistent-reads' | undefined;
if (values['expect-anomaly'] && !plant) fail('--expect-anomaly goes with --plant');
const out = resolve(values.out ?? `.cache/nemesis/${new Date().toISOString().replace(/[:.]/g, '-')}-seed${seed}`);

console.log(`nemesis: seed ${seed}, ${nodes} servers, ${seconds} s, faults ${faults.join(',') || 'none'}; out ${out}`);
const stop = () => {
  console.error('interrupted: cleaning up');
  void cleanupAll().finally(() => {
    teardownAllNetworks();
    unmountAllDisks();
    process.exit(3);
  });
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
try {
  const report = await runNemesis({
    nodes,
    seconds,
    faults,
    seed,
    clients,
    out,
    netns: !values['no-netns'],
    checkBudget,
    ...(plant ? { plant } : {}),
    log: (line) => console.log(line),
  });
  console.log(
    `\n${report.verdict.toUpperCase()}: ${report.ops.total} calls (${report.ops.ok} ok, ${report.ops.failed} failed, ` +
      `${report.ops.unknown} unknown), ${report.faults.length} faults ${JSON.stringify(report.faultsByKind)}, ` +
      `availability ${(report.availability.duringFaults * 100).toFixed(1)}% during faults, ` +
      `${(report.availability.quiet * 100).toFixed(1)}% otherwise`,
  );
  for (const [name, check] of Object.entries(report.checks)) console.log(`  ${name}: ${check.ok} — ${check.detail}`);
  for (const a of report.anomalies) console.log(`  ANOMALY ${a.checker}: ${a.what}`);
  console.log(`report: ${out}/report.html (replay: ${report.replay})`);
  if (values['expect-anomaly']) {
    // A run with a planted bug: success is the checkers catching it.
    console.log(report.verdict === 'anomalies' ? 'the planted bug was caught' : 'the planted bug was NOT caught');
    process.exit(report.verdict === 'anomalies' ? 0 : 1);
  }
  process.exit(report.verdict === 'ok' ? 0 : report.verdict === 'anomalies' ? 1 : 2);
} catch (err) {
  console.error(`nemesis run failed: ${(err as Error).stack ?? err}`);
  await cleanupAll();
  teardownAllNetworks();
  unmountAllDisks();
  process.exit(3);
}
