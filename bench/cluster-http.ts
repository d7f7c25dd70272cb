/**
 * A 3-server cluster on loopback, driven over HTTP: writes and reads (default, ?consistent,
 * ?stale) with 1 and 64 concurrent clients, then the time to a new leader after the leader is
 * killed with SIGKILL.
 *
 *   npm run bench:cluster -- [--duration 5] [--concurrency 1,64]
 */
import { parseArgs } from 'node:util';
import { TestClusterProcesses } from '../testing/cluster-harness.js';
import { cleanupAll } from '../testing/spawn-server.js';
import { HEADER, row, runPhase } from './http-load.js';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '1,64' } },
});
const durationMs = Number(values.duration) * 1000;
const levels = String(values.concurrency).split(',').map(Number);
const KEYS = 10_000;

const cluster = await TestClusterProcesses.start(3);
try {
  const leader = await cluster.waitForLeader();
  const all = cluster.members.map((m) => m.http);
  console.log(
    `konsul 3-server cluster on loopback, 256 B values, ${KEYS} keys, ` +
      `${durationMs / 1000} s per phase, node ${process.version}`,
  );
  console.log(HEADER);
  const key = (w: number, i: number) => `/v1/kv/bench/${(w * 7919 + i) % KEYS}`;
  // Fill the key space so reads find their keys.
  await runPhase({
    targets: [leader.http],
    method: 'PUT',
    pathFor: (w, i) => `/v1/kv/bench/${(w * 157 + i) % KEYS}`,
    concurrency: 64,
    durationMs: 8000,
  });
  for (const c of levels)
    console.log(
      row(
        'PUT (to the leader)',
        c,
        await runPhase({ targets: [leader.http], method: 'PUT', pathFor: key, concurrency: c, durationMs }),
      ),
    );
  for (const c of levels)
    console.log(
      row(
        'PUT (any server, forwarded)',
        c,
        await runPhase({ targets: all, method: 'PUT', pathFor: key, concurrency: c, durationMs }),
      ),
    );
  for (const c of levels)
    console.log(
      row(
        'GET default (leader)',
        c,
        await runPhase({ targets: [leader.http], method: 'GET', pathFor: key, concurrency: c, durationMs }),
      ),
    );
  for (const c of levels) {
    console.log(
      row(
        'GET ?consistent (leader)',
        c,
        await runPhase({
          targets: [leader.http],
          method: 'GET',
          pathFor: (w, i) => `${key(w, i)}?consistent`,
          concurrency: c,
          durationMs,
        }),
      ),
    );
  }
  for (const c of levels)
    console.log(
      row(
        'GET ?stale (any server)',
        c,
        await runPhase({
          targets: all,
          method: 'GET',
          pathFor: (w, i) => `${key(w, i)}?stale`,
          concurrency: c,
          durationMs,
        }),
      ),
    );
  // Failover: kill the leader, time until the other two agree on a new one.
  const old = await cluster.waitForLeader();
  const t0 = performance.now();
  await old.server?.stop('SIGKILL');
  old.server = undefined;
  const next = await cluster.waitForLeader(30_000);
  console.log(
    `time to a new leader after SIGKILL of the leader: ${(performance.now() - t0).toFixed(0)} ms ` +
      `(${old.name} -> ${next.name}, raft tick 30 ms, election timeout 300-600 ms)`,
  );
} finally {
  await cluster.stopAll();
  await cleanupAll();
}
