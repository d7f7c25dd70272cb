/**
 * What one LMDB write transaction costs the way servers commit the state machine: lmdb-js's
 * asynchronous transaction (a worker thread commits; the callback runs on the main thread), with
 * the default overlapping sync, next to the same transaction in an environment opened with
 * `noSync` (no flush at all: not something a server may use, since LMDB then gives up its
 * integrity after a machine crash; it shows what the flush costs). Each transaction puts `--puts`
 * random keys into each of `--tables` named databases preloaded with `--rows` rows of about 300
 * bytes (the defaults look like 32 catalog registrations over 100,000 instances), one after the
 * other, and the bench prints the p50 and p99 per transaction.
 *
 *   npm run bench:lmdb -- [--rows 100000] [--tables 4] [--puts 32] [--txns 500]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { open } from 'lmdb';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    tables: { type: 'string', default: '4' },
    puts: { type: 'string', default: '32' },
    txns: { type: 'string', default: '500' },
  },
});
const ROWS = Number(values.rows);
const TABLES = Number(values.tables);
const PUTS = Number(values.puts);
const TXNS = Number(values.txns);
const value = { a: 'x'.repeat(300), b: 123, c: ['q', 'r'] };
const key = (n: number) => Buffer.from(`key/${n % ROWS}`);

async function measure(noSync: boolean): Promise<{ p50: number; p99: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'konsul-lmdb-bench-'));
  try {
    const env = open({ path: join(dir, 'state.mdb'), maxDbs: TABLES + 1, ...(noSync ? { noSync: true } : {}) });
    const dbs = Array.from({ length: TABLES }, (_, i) =>
      env.openDB({ name: `t${i}`, keyEncoding: 'binary', encoding: 'msgpack' }),
    );
    await env.transaction(() => {
      for (const db of dbs) for (let i = 0; i < ROWS; i++) db.putSync(key(i * 7919), value);
    });
    await env.flushed;
    const times: number[] = [];
    for (let t = 0; t < TXNS; t++) {
      const start = performance.now();
      await env.transaction(() => {
        for (let i = 0; i < PUTS; i++) for (const db of dbs) db.putSync(key((t * PUTS + i) * 104729), value);
      });
      times.push(performance.now() - start);
    }
    await env.close();
    times.sort((a, b) => a - b);
    return { p50: times[Math.floor(TXNS / 2)] as number, p99: times[Math.floor(TXNS * 0.99)] as number };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`${TXNS} transactions of ${PUTS} puts into each of ${TABLES} tables of ${ROWS} rows, one after the other`);
for (const noSync of [false, true, false]) {
  const { p50, p99 } = await measure(noSync);
  const label = noSync ? 'noSync (no flush)' : 'overlapping sync (default)';
  console.log(`${label.padEnd(28)} p50 ${p50.toFixed(2)} ms  p99 ${p99.toFixed(2)} ms`);
}
