import { describe, expect, it } from 'vitest';
import { checkLinearizability } from '../linearizability.js';
import { boundBySessionEnd, LOCK_DELAY_MS, type LockInput, lockDelayViolations, lockModel } from './locks.js';
import { latencySvg, reportHtml, type NemesisReport } from './report.js';
import { checkRun, reviveSavedRun, type SavedRun } from './check.js';
import { checkEdge, type EdgeHistory } from './edge.js';
import { checkWatch, type WatchHistory } from './watch.js';
import { checkSet } from './workloads.js';
import type { Operation } from '../linearizability.js';

const op = (
  input: LockInput,
  output: boolean | undefined,
  call: number,
  ret: number,
): Operation<LockInput, boolean> => ({
  key: 'lock',
  input,
  output,
  call,
  ret,
});

describe('the nemesis checkers', () => {
  it('the set checker finds a lost acknowledged add and a key nobody added, and accepts unknown outcomes', () => {
    const adds = new Map<string, 'ok' | 'unknown'>([
      ['s/1', 'ok'],
      ['s/2', 'unknown'],
      ['s/3', 'unknown'],
    ]);
    expect(checkSet(adds, ['s/1', 's/2']).ok).toBe(true);
    expect(checkSet(adds, ['s/1']).ok).toBe(true);
    const bad = checkSet(adds, ['s/2', 's/9']);
    expect(bad).toMatchObject({ ok: false, lost: ['s/1'], unexpected: ['s/9'], acknowledged: 1, unknown: 2 });
  });

  it('the lock model accepts one holder at a time and refuses two', () => {
    const fine = [
      op({ op: 'acquire', session: 'a' }, true, 0, 10),
      op({ op: 'acquire', session: 'b' }, false, 12, 20),
      op({ op: 'release', session: 'a' }, true, 21, 30),
      op({ op: 'acquire', session: 'b' }, true, 31, 40),
      op({ op: 'destroy', session: 'b' }, true, 41, 50),
      op({ op: 'acquire', session: 'a' }, true, 51, 60),
    ];
    expect(checkLinearizability(lockModel, fine)).toEqual({ ok: true });
    const twoHolders = [
      op({ op: 'acquire', session: 'a' }, true, 0, 10),
      op({ op: 'acquire', session: 'b' }, true, 12, 20),
    ];
    expect(checkLinearizability(lockModel, twoHolders).ok).toBe(false);
    // An acquire of unknown outcome may explain a later refusal.
    const unknown = [
      op({ op: 'acquire', session: 'a' }, undefined, 0, Infinity),
      op({ op: 'acquire', session: 'b' }, false, 12, 20),
    ];
    expect(checkLinearizability(lockModel, unknown)).toEqual({ ok: true });
  });

  it("ends an unknown lock operation at its session's destroy, which keeps long histories checkable", () => {
    const bounded = boundBySessionEnd([
      op({ op: 'acquire', session: 'a' }, undefined, 0, Infinity),
      op({ op: 'destroy', session: 'a' }, true, 5, 9),
      op({ op: 'release', session: 'c' }, undefined, 10, Infinity),
    ]);
    expect(bounded.map((o) => o.ret)).toEqual([9, 9, Infinity]);
    // Taken as not applied, or as holding until the destroy: both still explain what others saw.
    const explained = boundBySessionEnd([
      op({ op: 'acquire', session: 'a' }, undefined, 0, Infinity),
      op({ op: 'acquire', session: 'b' }, true, 1, 2),
      op({ op: 'destroy', session: 'a' }, true, 5, 9),
    ]);
    expect(checkLinearizability(lockModel, explained)).toEqual({ ok: true });
    // Still caught: two holders while the unknown acquire's session was alive and neither released.
    const twoHolders = boundBySessionEnd([
      op({ op: 'acquire', session: 'a' }, undefined, 0, Infinity),
      op({ op: 'destroy', session: 'a' }, true, 5, 9),
      op({ op: 'acquire', session: 'b' }, true, 10, 11),
      op({ op: 'acquire', session: 'c' }, true, 12, 13),
    ]);
    expect(checkLinearizability(lockModel, twoHolders).ok).toBe(false);
  });

  it('flags an acquire answered inside the lock delay of a destroyed holder, and only that', () => {
    const held = [
      op({ op: 'acquire', session: 'a' }, true, 0, 10),
      op({ op: 'destroy', session: 'a' }, true, 100, 110),
    ];
    expect(lockDelayViolations([...held, op({ op: 'acquire', session: 'b' }, true, 200, 210)])).toHaveLength(1);
    expect(
      lockDelayViolations([...held, op({ op: 'acquire', session: 'b' }, true, 200, 100 + LOCK_DELAY_MS + 1)]),
    ).toEqual([]);
    // Not the holder (it had released): no delay applies.
    const released = [
      op({ op: 'acquire', session: 'a' }, true, 0, 10),
      op({ op: 'release', session: 'a' }, true, 20, 30),
      op({ op: 'destroy', session: 'a' }, true, 100, 110),
      op({ op: 'acquire', session: 'b' }, true, 200, 210),
    ];
    expect(lockDelayViolations(released)).toEqual([]);
    // A release of unknown outcome before the destroy may have freed it: no delay can be claimed.
    const maybeReleased = [
      op({ op: 'acquire', session: 'a' }, true, 0, 10),
      op({ op: 'release', session: 'a' }, undefined, 20, Infinity),
      op({ op: 'destroy', session: 'a' }, true, 100, 110),
      op({ op: 'acquire', session: 'b' }, true, 200, 210),
    ];
    expect(lockDelayViolations(maybeReleased)).toEqual([]);
  });

  it('the watch checker finds ids going backwards, phantom events, missed writes and an index going back', () => {
    const history = (): WatchHistory => ({
      writes: new Map([
        ['w/0', { value: 'w0', outcome: 'ok' as const }],
        ['w/1', { value: 'w1', outcome: 'ok' as const }],
        ['w/2', { value: 'w2', outcome: 'unknown' as const }],
      ]),
      watchers: [
        {
          events: [
            { id: '5', key: 'w/0', value: 'w0', server: 'n1' },
            { id: '6:0', key: 'w/1', value: 'w1', server: 'n2' },
          ],
          snapshotKeys: new Set<string>(),
          resyncs: 0,
          reconnects: 1,
        },
      ],
      blocking: [
        { index: 5, server: 'n1', at: 1 },
        { index: 6, server: 'n2', at: 2 },
      ],
    });
    expect(checkWatch(history()).ok).toBe(true);
    const back = history();
    back.watchers[0]?.events.push({ id: '6:0', key: 'w/1', value: 'w1', server: 'n3' });
    expect(checkWatch(back).anomalies.map((a) => a.what)).toEqual(['watcher 0: event ids went backwards or repeated']);
    const phantom = history();
    phantom.watchers[0]?.events.push({ id: '9', key: 'w/7', value: 'never', server: 'n1' });
    expect(checkWatch(phantom).anomalies.map((a) => a.what)).toEqual(['watcher 0: events of writes never sent']);
    const missed = history();
    missed.watchers[0]?.events.splice(1, 1);
    expect(checkWatch(missed).anomalies[0]).toMatchObject({ evidence: ['w/1'] });
    // Seen in a full read after a resync counts as seen.
    missed.watchers[0]?.snapshotKeys.add('w/1');
    expect(checkWatch(missed).ok).toBe(true);
    const index = history();
    index.blocking.push({ index: 4, server: 'n3', at: 3 });
    expect(checkWatch(index).anomalies.map((a) => a.what)).toEqual([
      'a blocking query answered an index lower than the previous answer',
    ]);
  });

  it('the edge checker finds writes lost, applied twice, changed or never written, and a full outbox', () => {
    const h: EdgeHistory = {
      writes: new Map([
        ['e/0', { value: 'a', outcome: 'forwarded' as const }],
        ['e/1', { value: 'b', outcome: 'queued' as const }],
        ['e/2', { value: 'c', outcome: 'unknown' as const }],
      ]),
    };
    const entry = (Key: string, v: string, CreateIndex: number, ModifyIndex = CreateIndex) => ({
      Key,
      Value: Buffer.from(v).toString('base64'),
      CreateIndex,
      ModifyIndex,
    });
    expect(checkEdge(h, [entry('e/0', 'a', 5), entry('e/1', 'b', 9)], 0).ok).toBe(true);
    const bad = checkEdge(h, [entry('e/1', 'x', 9, 12), entry('e/7', 'z', 13)], 2);
    expect(bad.anomalies.map((a) => a.what)).toEqual([
      "the agent's outbox still held 2 writes after healing",
      'writes the agent accepted never reached the servers',
      'stored values differ from what was written',
      'writes applied more than once',
      'keys present that were never written',
    ]);
  });

  it('re-checks a saved run from its JSON, with unknown outcomes restored, and finds what it holds', () => {
    const run: SavedRun = {
      register: [
        { key: 'r', input: { op: 'put', value: 'a' }, output: true, call: 0, ret: 5 },
        { key: 'r', input: { op: 'put', value: 'b' }, output: undefined, call: 6, ret: Infinity },
        { key: 'r', input: { op: 'get' }, output: 'b', call: 10, ret: 12 },
      ],
      set: [
        ['s/1', 'ok'],
        ['s/2', 'ok'],
      ],
      lock: [],
      watch: { writes: [], watchers: [], blocking: [] },
      edge: [],
      crashes: [{ server: 'n2', at: 50, code: 1, lastOutput: 'boom' }],
      faults: [{ kind: 'disk', detail: 'n2 full', mechanism: 'tmpfs', start: 40, end: 60 }],
      diskServer: 'n2',
      final: {
        leader: 'n1',
        setPresent: ['s/1'],
        views: [
          { server: 'n1', keys: 'a\nb' },
          { server: 'n2', keys: 'a\nb' },
        ],
        edgePending: 0,
        edgeStored: [],
      },
    };
    // Through JSON and back, as --recheck reads it: the unknown write is unknown again.
    const revived = reviveSavedRun(JSON.parse(JSON.stringify(run)) as SavedRun);
    expect(revived.register[1]?.ret).toBe(Infinity);
    const { checks, anomalies } = checkRun(revived, 1_000_000);
    expect(checks.linearizable?.ok).toBe(true);
    expect(checks.crashes?.ok).toBe(true);
    expect(anomalies.map((a) => `${a.checker}: ${a.what}`)).toEqual(['set: acknowledged adds lost']);

    // Failed requests the servers logged: refusals under faults pass, a CorruptError is a bug.
    const line = '{"@message":"request failed","status":500,"error":"CorruptError: x"}';
    const withErrors: SavedRun = {
      ...revived,
      serverErrors: { counts: { '507 DiskFullError': 40, '500 NoLeaderError': 3 }, bugs: [] },
    };
    expect(checkRun(withErrors, 1_000_000).checks.serverErrors?.ok).toBe(true);
    const buggy: SavedRun = {
      ...revived,
      serverErrors: { counts: { '500 NoLeaderError': 3, '500 CorruptError': 2 }, bugs: [{ server: 'n1', line }] },
    };
    const found = checkRun(buggy, 1_000_000);
    expect(found.checks.serverErrors).toMatchObject({ ok: false });
    expect(found.anomalies.at(-1)).toEqual({
      checker: 'serverErrors',
      what: '2 requests failed on a server bug',
      evidence: [{ server: 'n1', line }],
    });
  });

  it('writes a report page with the chart, the fault intervals and the anomalies, escaped', () => {
    const faults = [{ kind: 'partition' as const, detail: 'isolate <n1>', mechanism: 'netns', start: 1000, end: 4000 }];
    const samples = [
      { at: 500, ms: 3, workload: 'register' as const, outcome: 'ok' as const },
      { at: 2000, ms: 900, workload: 'set' as const, outcome: 'unknown' as const },
    ];
    const svg = latencySvg(samples, faults, 10);
    expect(svg).toMatch(/^<svg /);
    expect(svg.match(/<circle /g)).toHaveLength(2);
    expect(svg).toContain('partition: isolate &lt;n1&gt;');
    const report: NemesisReport = {
      seed: 7,
      replay: 'npm run nemesis -- --seed 7',
      nodes: 3,
      seconds: 10,
      network: 'netns',
      faults,
      faultsByKind: { partition: 1 },
      ops: { total: 2, ok: 1, failed: 0, unknown: 1, perSecond: 0 },
      availability: { duringFaults: 0, quiet: 1 },
      checks: { set: { ok: false, detail: '1 lost' } },
      anomalies: [{ checker: 'set', what: 'acknowledged adds lost', evidence: ['<s/1>'] }],
      verdict: 'anomalies',
    };
    const html = reportHtml(report, svg);
    expect(html).toContain('Anomalies (1)');
    expect(html).toContain('&lt;s/1&gt;');
    expect(html).not.toContain('<s/1>');
    expect(html).toContain('npm run nemesis -- --seed 7');
  });
});
