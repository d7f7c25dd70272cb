/**
 * The hot-path benchmark, independent of the runtime: measures each operation on the WebAssembly
 * and TypeScript implementations and returns ops/s and the WASM/TS ratio.
 */
import { decodeEntriesFrame, encodeEntriesFrame } from '../core/codec/entries.js';
import type { HotPaths } from '../core/ports/hot-paths.js';
import type { Entry } from '../core/raft/types.js';

/** One row of the result table. */
export interface BenchRow {
  readonly op: string;
  readonly wasmOpsPerSec: number;
  readonly tsOpsPerSec: number;
  readonly ratio: number;
}

function measure(fn: () => unknown, budgetMs: number, now: () => number): number {
  for (let i = 0; i < 3; i++) fn(); // warm up
  let n = 0;
  const start = now();
  let elapsed = 0;
  while (elapsed < budgetMs) {
    fn();
    n++;
    elapsed = now() - start;
  }
  return (n * 1000) / elapsed;
}

/** Runs every hot-path benchmark; `budgetMs` per operation and implementation. */
export function runHotPathBench(wasm: HotPaths, ts: HotPaths, now: () => number, budgetMs = 600): BenchRow[] {
  const entries: Entry[] = Array.from({ length: 1000 }, (_, i) => ({
    term: 7,
    index: i + 1,
    type: 'normal',
    data: Uint8Array.from({ length: 256 }, (_, j) => (i * 31 + j) & 255),
  }));
  const frame = encodeEntriesFrame(ts, entries);
  const mib = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 2654435761) >>> 24);
  const keys: string[] = [];
  for (let g = 0; g < 1000; g++)
    for (let i = 0; i < 100; i++) keys.push(`service/${String(g).padStart(4, '0')}/instance-${i}`);
  const prefixes: string[] = [];
  for (let g = 0; g < 5000; g++) prefixes.push(`service/${String(g).padStart(4, '0')}/`);
  for (let g = 0; g < 5000; g++) prefixes.push(`config/app-${g}/`);
  const probes = keys.filter((_, i) => i % 97 === 0);

  const rows: BenchRow[] = [];
  const row = (op: string, make: (hp: HotPaths) => () => unknown) => {
    const w = measure(make(wasm), budgetMs, now);
    const t = measure(make(ts), budgetMs, now);
    rows.push({ op, wasmOpsPerSec: w, tsOpsPerSec: t, ratio: w / t });
  };
  row('encode 1000 entries x 256 B', (hp) => () => encodeEntriesFrame(hp, entries));
  row('decode 1000 entries x 256 B', (hp) => () => decodeEntriesFrame(hp, frame));
  row('CRC32C over 1 MiB', (hp) => () => hp.crc32c(mib));
  const indexes = new Map<HotPaths, ReturnType<HotPaths['createKeyIndex']>>();
  for (const hp of [wasm, ts]) {
    const ix = hp.createKeyIndex();
    for (const k of keys) ix.insert(k);
    indexes.set(hp, ix);
  }
  let g = 0;
  row(
    'prefix scan (100 of 100,000 keys)',
    (hp) => () => indexes.get(hp)?.prefix(`service/${String(g++ % 1000).padStart(4, '0')}/`),
  );
  row('separator listing (1,000 groups of 100,000 keys)', (hp) => () => indexes.get(hp)?.separated('service/', '/'));
  row('insert + delete in 100,000 keys', (hp) => () => {
    const ix = indexes.get(hp);
    ix?.insert('service/0500/zz');
    ix?.delete('service/0500/zz');
  });
  const matchers = new Map<HotPaths, ReturnType<HotPaths['createPrefixMatcher']>>();
  for (const hp of [wasm, ts]) {
    const m = hp.createPrefixMatcher();
    for (const p of prefixes) m.add(p);
    matchers.set(hp, m);
  }
  let p = 0;
  row(
    'watch match, 1 key against 10,000 prefixes',
    (hp) => () => matchers.get(hp)?.match(probes[p++ % probes.length] as string),
  );
  const batch = probes.slice(0, 100);
  row('watch match, batch of 100 keys, 10,000 prefixes', (hp) => () => matchers.get(hp)?.matchMany(batch));
  return rows;
}

/** The rows as an aligned text table. */
export function formatRows(runtime: string, rows: readonly BenchRow[]): string {
  const lines = [
    `${runtime}`,
    `  ${'operation'.padEnd(50)} ${'wasm ops/s'.padStart(12)} ${'ts ops/s'.padStart(12)} ${'wasm/ts'.padStart(8)}`,
  ];
  for (const r of rows) {
    lines.push(
      `  ${r.op.padEnd(50)} ${r.wasmOpsPerSec.toFixed(0).padStart(12)} ` +
        `${r.tsOpsPerSec.toFixed(0).padStart(12)} ${r.ratio.toFixed(2).padStart(8)}`,
    );
  }
  return lines.join('\n');
}
