import { describe, expect, it } from 'vitest';
import { describeFailure, sumStats } from './format.js';
import type { SimBugs } from './options.js';
import { runSimulation, type SimResult } from './simulator.js';

const SEEDS = Number(process.env['SIM_SEEDS'] ?? 500);
const FIRST_SEED = Number(process.env['SIM_FIRST_SEED'] ?? 1);

describe('Raft simulation', () => {
  it(`holds every safety and liveness property for ${SEEDS} seeds`, async () => {
    const results: SimResult[] = [];
    const failures: string[] = [];
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const r = await runSimulation({ seed });
      results.push(r);
      if (!r.ok) failures.push(describeFailure(r));
    }
    const s = sumStats(results);
    console.log(
      `[sim] seeds ${FIRST_SEED}..${FIRST_SEED + SEEDS - 1}: ${s.steps} steps, ` +
        `${s.elections} elections, ${s.crashes} crashes, ` +
        `${s.partitions} partitions, ${s.drops} drops, ${s.confChanges} membership changes, ` +
        `${s.transfers} transfers, ` +
        `${s.snapshotsInstalled} snapshots installed, ${s.opsOk} client ops checked for linearizability`,
    );
    expect(failures).toEqual([]);
    // The runs must actually exercise what they claim to.
    expect(s.elections).toBeGreaterThan(SEEDS);
    expect(s.crashes).toBeGreaterThan(SEEDS);
    expect(s.snapshotsInstalled).toBeGreaterThan(0);
    expect(s.confChanges).toBeGreaterThan(0);
    expect(s.transfers).toBeGreaterThan(0);
    expect(s.opsOk).toBeGreaterThan(SEEDS * 10);
  });

  it('replays a seed exactly', async () => {
    const a = await runSimulation({ seed: 4242 });
    const b = await runSimulation({ seed: 4242 });
    expect(b).toEqual(a);
  });
});

/** Planted bugs, the rule each breaks, the seeds it must be caught within, and the properties that may catch it. */
const PLANTED: Array<[keyof SimBugs, string, number, string[]]> = [
  // In the Raft state machine.
  ['commitPreviousTermByCounting', '§5.4.2 / Figure 8', 200, ['leader-completeness', 'state-machine-safety']],
  ['readsWithoutReadIndex', '§6.4 of the dissertation (stale reads from a deposed leader)', 200, ['linearizability']],
  // Two leaders of one term: seen as such, or as their different entries at one index and term.
  ['forgetVoteOnCrash', 'Figure 2 (votedFor is persistent state)', 200, ['election-safety', 'log-matching']],
  // In the driver that servers run.
  [
    'applyBeforeDurable',
    'reads and snapshots only from applied state (§6.4, §7)',
    300,
    ['state-machine-safety', 'linearizability', 'liveness', 'driver-error'],
  ],
  // Every message leaves early under this bug, so a vote it loses in a crash counts too.
  [
    'ackBeforePersist',
    '§5.3 and Figure 2 (acknowledge entries and grant votes only once persisted)',
    300,
    ['leader-completeness', 'state-machine-safety', 'linearizability', 'election-safety'],
  ],
  [
    'countUnpersistedOwnEntries',
    'thesis §10.2.1 (a leader counts its own entries only once durable)',
    300,
    ['leader-completeness', 'state-machine-safety', 'linearizability'],
  ],
];

describe('the simulator has teeth', () => {
  for (const [bug, rule, seeds, caughtBy] of PLANTED) {
    it(`catches ${bug} (${rule}) within ${seeds} seeds`, async () => {
      let caught: SimResult | undefined;
      for (let seed = 1; seed <= seeds && !caught; seed++) {
        const r = await runSimulation({ seed, plantedBugs: { [bug]: true } });
        if (!r.ok) caught = r;
      }
      expect(caught, `${bug} survived ${seeds} seeds`).toBeDefined();
      console.log(`[teeth] ${bug}: ${describeFailure(caught as SimResult, { [bug]: true })}`);
      expect(caughtBy).toContain(caught?.failure?.invariant);
    });
  }
});
