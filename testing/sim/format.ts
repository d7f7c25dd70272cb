import type { SimBugs } from './options.js';
import type { SimResult, SimStats } from './simulator.js';

/** The exact command that replays one seed (with its planted bugs, if any). */
export function replayCommand(seed: number, bugs?: SimBugs): string {
  const flags = Object.entries(bugs ?? {})
    .filter(([, on]) => on)
    .map(([name]) => ` --bug ${name}`)
    .join('');
  return `npm run sim -- --seed ${seed}${flags}`;
}

/** One line describing a failed run, with its replay command. */
export function describeFailure(r: SimResult, bugs?: SimBugs): string {
  const f = r.failure;
  if (!f) return `seed ${r.seed}: ok`;
  const writes = r.pipeline > 1 ? `${r.pipeline} writes in flight` : 'sequential writes';
  return (
    `seed ${r.seed} (${r.voters} voters, ${r.profile}, ${writes}) broke ${f.invariant} at step ${f.step}: ` +
    `${f.message}\n  replay: ${replayCommand(r.seed, bugs)}`
  );
}

/** Sums the counters of many runs. */
export function sumStats(results: readonly SimResult[]): SimStats {
  const total = {} as Record<keyof SimStats, number>;
  for (const r of results)
    for (const [k, v] of Object.entries(r.stats) as Array<[keyof SimStats, number]>) total[k] = (total[k] ?? 0) + v;
  return total;
}
