/**
 * Run by server/lmdb-disk-full.test.ts inside a private mount namespace whose `dir` is a 4 MiB
 * tmpfs: fills the file system while writing through a WriteBehindStore over LMDB (as servers
 * do), frees the space, and prints one JSON line saying what happened. Not for use elsewhere.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiskFullError } from '../core/errors.js';
import { WriteBehindStore } from '../core/store/write-behind.js';
import { systemClock } from '../runtimes/node/clock.js';
import { LmdbStateStore } from '../server/lmdb-store.js';

const dir = process.argv[2] as string;
const file = join(dir, 'state.mdb');
const value = (i: number) => new Uint8Array(1000).fill(i % 251);
const open = () =>
  new WriteBehindStore(new LmdbStateStore(file, ['kv']), { retryWhenFull: { clock: systemClock(), ms: 50 } });

let store = open();
// Leave about 1 MiB of the 4 MiB free, then write 1 kB values until one is refused.
writeFileSync(join(dir, 'filler'), new Uint8Array(2_600_000));
let acknowledged = 0;
let refusal: string | undefined;
for (let i = 0; i < 3000 && refusal === undefined; i++) {
  try {
    // Committed, not durable: a durable write taken before the disk filled would wait for room.
    await store.write((tx) => tx.put('kv', `k${i}`, value(i)), 'committed');
    acknowledged = i + 1;
    // Lets LMDB's commit (on its own thread) finish, as time between requests does on a server.
    await new Promise((resolve) => setImmediate(resolve));
  } catch (err) {
    refusal = err instanceof DiskFullError ? `DiskFullError: ${err.message}` : `other: ${String(err)}`;
  }
}
const readWhileFull = store.read((tx) => tx.get<Uint8Array>('kv', `k${acknowledged - 1}`)?.[0]);
rmSync(join(dir, 'filler'));
// Once the retry commits the held batch, writes are taken again.
let after: string | undefined;
for (let attempt = 0; attempt < 100 && after === undefined; attempt++) {
  try {
    await store.write((tx) => tx.put('kv', 'after', value(7)), 'durable');
    after = 'ok';
  } catch (err) {
    if (!(err instanceof DiskFullError)) after = `other: ${String(err)}`;
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
await store.close();
store = open();
let missing = 0;
store.read((tx) => {
  for (let i = 0; i < acknowledged; i++) if (tx.get<Uint8Array>('kv', `k${i}`)?.[0] !== i % 251) missing++;
});
const afterKept = store.read((tx) => tx.get<Uint8Array>('kv', 'after')?.[0]) === 7;
await store.close();
console.log(
  JSON.stringify({
    acknowledged,
    refusal,
    readWhileFull,
    expectedRead: (acknowledged - 1) % 251,
    after,
    missing,
    afterKept,
  }),
);
