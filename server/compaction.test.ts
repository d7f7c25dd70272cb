import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../testing/process.js';
import { cleanupAll, spawnServer, type SpawnedServer } from '../testing/spawn-server.js';

afterAll(cleanupAll);

/** Indexes of the compaction snapshots the server has logged so far. */
const snapshotsTaken = (s: SpawnedServer) =>
  [...s.output().matchAll(/"@message":"raft snapshot taken"[^\n]*"index":(\d+)/g)].map((m) => Number(m[1]));

async function putKeys(s: SpawnedServer, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${s.url}/v1/kv/${prefix}/${i}`, { method: 'PUT', body: 'v' });
    expect(await res.text()).toBe('true');
  }
}

describe('log compaction spacing (--snapshot-interval)', () => {
  it('takes one snapshot per interval, unless the log grows to 8 times the threshold', async () => {
    const s = await spawnServer({ args: ['--snapshot-threshold', '16', '--snapshot-interval', '3600'] });
    try {
      await putKeys(s, 'a', 30);
      await s.waitFor(/"@message":"raft snapshot taken"/, 10_000);
      const [first] = snapshotsTaken(s);
      // Fewer than 8 × 16 entries after the first snapshot the hour has not passed, so none
      // starts; past 128 entries the log is compacted anyway. The next snapshot taken is at
      // least 128 entries after the first (one started in between would be the next one).
      await putKeys(s, 'b', 160);
      const taken = await until(
        'a second snapshot',
        async () => snapshotsTaken(s),
        (t) => t.length >= 2,
      );
      expect(taken).toHaveLength(2);
      expect((taken[1] as number) - (first as number)).toBeGreaterThanOrEqual(8 * 16);
    } finally {
      await s.stop();
    }
  });

  it('with an interval of 0, snapshots every threshold', async () => {
    const s = await spawnServer({ args: ['--snapshot-threshold', '16', '--snapshot-interval', '0'] });
    try {
      await putKeys(s, 'a', 90);
      await until(
        'three snapshots',
        async () => snapshotsTaken(s),
        (t) => t.length >= 3,
      );
    } finally {
      await s.stop();
    }
  });
});
