/**
 * Runs the deterministic Raft simulator from the command line.
 *
 *   npm run sim -- --seeds 1000            seeds 1..1000
 *   npm run sim -- --seeds 200 --first 5000
 *   npm run sim -- --seed 42 [--bug commitPreviousTermByCounting] [--steps 3000]
 *
 * Prints a summary (seeds, steps, elections, faults injected, duration) and, for every failing
 * seed, the broken property and the exact command that replays it. Exits 1 if any seed failed.
 */
import { parseArgs } from 'node:util';
import { describeFailure, sumStats } from './sim/format.js';
import { PLANTED_BUG_NAMES, type SimBugs } from './sim/options.js';
import { runSimulation, type SimResult } from './sim/simulator.js';

const BUGS: readonly string[] = PLANTED_BUG_NAMES;

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    first: { type: 'string', default: '1' },
    seed: { type: 'string' },
    steps: { type: 'string' },
    bug: { type: 'string', multiple: true },
  },
  strict: true,
});

function int(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`sim: --${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

const bugs: SimBugs = {};
for (const b of values.bug ?? []) {
  if (!BUGS.includes(b)) {
    console.error(`sim: unknown --bug ${b} (known: ${BUGS.join(', ')})`);
    process.exit(2);
  }
  (bugs as Record<string, boolean>)[b] = true;
}
const single = int('seed', values.seed);
const first = single ?? (int('first', values.first) as number);
const count = single !== undefined ? 1 : (int('seeds', values.seeds) ?? 100);
const steps = int('steps', values.steps);

const started = performance.now();
const results: SimResult[] = [];
for (let seed = first; seed < first + count; seed++) {
  const r = await runSimulation({
    seed,
    ...(steps !== undefined ? { steps } : {}),
    ...(values.bug ? { plantedBugs: bugs } : {}),
  });
  results.push(r);
  if (!r.ok) console.log(describeFailure(r, values.bug ? bugs : undefined));
}
const seconds = (performance.now() - started) / 1000;
const s = sumStats(results);
const failed = results.filter((r) => !r.ok).length;
console.log(
  [
    `seeds ${first}..${first + count - 1}: ${count - failed} passed, ` +
      `${failed} failed${values.bug ? ` (planted: ${values.bug.join(', ')})` : ''}`,
    `steps ${s.steps} (${Math.round(s.steps / seconds)} steps/s, ` +
      `${(count / seconds).toFixed(1)} seeds/s), duration ${seconds.toFixed(1)} s`,
    `elections ${s.elections}, max commit index ${s.maxCommit}, ` +
      `${results.filter((r) => r.pipeline > 1).length} seeds with pipelined writes`,
    `faults: ${s.crashes} crashes, ${s.partitions} partitions, ${s.drops} drops, ` +
      `${s.duplicates} duplicates, ${s.delays} delays, ` +
      `${s.confChanges} membership changes, ${s.transfers} leader transfers, ` +
      `${s.snapshotsInstalled} snapshots installed`,
    `client ops: ${s.opsOk} completed, ${s.opsUnknown} unknown outcome, ${s.opsFailed} refused`,
  ].join('\n'),
);
process.exit(failed > 0 ? 1 : 0);
