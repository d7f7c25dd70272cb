import { afterAll, describe, expect, it } from 'vitest';
import { type Member, TestClusterProcesses } from '../testing/cluster-harness.js';
import { existsSync } from 'node:fs';
import { LIBFAKETIME } from '../testing/process.js';
import { cleanupAll } from '../testing/spawn-server.js';

afterAll(cleanupAll);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const call = async (m: Member, path: string, init?: RequestInit) => fetch(`http://${m.http}${path}`, init);
/**
 * Waits until the leader has put `name`'s node in the catalog (it does so after it is elected),
 * for up to 30 s: a loaded CI machine once took more than 10 s after the skewed server's restart.
 */
async function nodeRegistered(m: Member, name: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const res = await call(m, `/v1/catalog/node/${name}`);
    if (res.status === 200 && (await res.json()) !== null) return;
    await sleep(50);
  }
  throw new Error(`node ${name} never appeared in the catalog`);
}
const put = async (m: Member, path: string, body?: unknown) =>
  (await call(m, path, { method: 'PUT', ...(body === undefined ? {} : { body: JSON.stringify(body) }) })).json();

describe('lock delays across clock skew', () => {
  it('a server whose clock is two minutes ahead refuses a lock within a delay another server stamped', async () => {
    if (!existsSync(LIBFAKETIME)) throw new Error(`${LIBFAKETIME} is missing: install the Debian package faketime`);
    const cluster = await TestClusterProcesses.start(3);
    try {
      // n3's wall clock runs 120 s ahead from its start (its monotonic clock is left alone, as NTP leaves it).
      const skewed = cluster.member('n3');
      await skewed.server?.stop('SIGTERM');
      skewed.env = { LD_PRELOAD: LIBFAKETIME, FAKETIME: '+120', DONT_FAKE_MONOTONIC: '1' };
      await cluster.startMember(skewed);
      await cluster.waitForLeader();
      const n1 = cluster.member('n1');
      await nodeRegistered(n1, 'n1');
      await nodeRegistered(n1, 'n3');

      // A holder on n1 with a 3 s lock delay; its session is destroyed through n1.
      const { ID: first } = (await put(n1, '/v1/session/create', { LockDelay: '3s', Node: 'n1' })) as { ID: string };
      expect(await put(n1, `/v1/kv/skew/lock?acquire=${first}`, 'a')).toBe(true);
      expect(await put(n1, `/v1/session/destroy/${first}`)).toBe(true);
      const released = Date.now();
      // n3 has applied the release (its replica shows the key free) ...
      for (;;) {
        const rows = (await (await call(skewed, '/v1/kv/skew/lock?stale')).json()) as Array<{ Session?: string }>;
        if (rows[0] && rows[0].Session === undefined) break;
        await sleep(20);
      }
      // ... and refuses a lock within the delay, although by its clock the stamped delay ended long ago.
      const { ID: second } = (await put(skewed, '/v1/session/create', { LockDelay: '0s', Node: 'n3' })) as {
        ID: string;
      };
      expect(await put(skewed, `/v1/kv/skew/lock?acquire=${second}`, 'b')).toBe(false);
      const txn = await call(skewed, '/v1/txn', {
        method: 'PUT',
        body: JSON.stringify([{ KV: { Verb: 'lock', Key: 'skew/lock', Value: 'Yg==', Session: second } }]),
      });
      expect(txn.status).toBe(409);
      expect(await txn.json()).toEqual({
        Results: null,
        Errors: [{ OpIndex: 0, What: 'failed to lock key "skew/lock" due to lock delay' }],
      });
      // Both checks were made within the delay (the test is only meaningful then).
      expect(Date.now() - released).toBeLessThan(3000);

      // Once the delay is over by n3's own count, the lock is taken.
      await sleep(3000 - (Date.now() - released) + 200);
      expect(await put(skewed, `/v1/kv/skew/lock?acquire=${second}`, 'b')).toBe(true);
    } finally {
      await cluster.stopAll();
    }
  });

  it('a follower that applies an invalidation late does not refuse a lock once the delay is over', async () => {
    const cluster = await TestClusterProcesses.start(3);
    try {
      const leader = await cluster.waitForLeader();
      const lagging = cluster.members.find((m) => m !== leader) as Member;
      await nodeRegistered(leader, leader.name);
      await nodeRegistered(leader, lagging.name);
      const { ID: holder } = (await put(leader, '/v1/session/create', { LockDelay: '1s', Node: leader.name })) as {
        ID: string;
      };
      expect(await put(leader, `/v1/kv/late/lock?acquire=${holder}`, 'a')).toBe(true);
      // The follower is cut off while the holder's session is destroyed, and for longer than its delay.
      await cluster.partition([lagging.name]);
      expect(await put(leader, `/v1/session/destroy/${holder}`)).toBe(true);
      await sleep(1500);
      await cluster.heal();
      for (;;) {
        const rows = (await (await call(lagging, '/v1/kv/late/lock?stale')).json()) as Array<{ Session?: string }>;
        if (rows[0] && rows[0].Session === undefined) break;
        await sleep(20);
      }
      // It applied the release just now, but the delay ended before: an acquire through it succeeds.
      const { ID: next } = (await put(lagging, '/v1/session/create', { LockDelay: '0s', Node: lagging.name })) as {
        ID: string;
      };
      expect(await put(lagging, `/v1/kv/late/lock?acquire=${next}`, 'b')).toBe(true);
    } finally {
      await cluster.stopAll();
    }
  });
});
