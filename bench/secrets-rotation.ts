/**
 * Rotation throughput of encrypted values (docs/SECRETS.md): a single-node server started with a
 * key file writes `--values` values of `--bytes` bytes (all encrypted), installs a second key, makes
 * it the primary, and measures how long the leader's re-encryption takes to move every value,
 * first on an idle server, then again (back to the first key) while `--clients` closed-loop
 * clients keep writing. Prints values/s as measured from outside (first poll to Remaining 0, polled
 * every 50 ms) and as the server reports its last pass, and the write latency during the loaded run.
 * Figures depend on the machine and what else runs on it; run it more than once.
 *
 *   npm run bench:secrets -- [--values 20000] [--bytes 256] [--clients 4]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { keyIdOf } from '../core/secrets/keyring.js';
import { cleanupAll, spawnServer, tempDir } from '../testing/spawn-server.js';

const { values } = parseArgs({
  options: {
    values: { type: 'string', default: '20000' },
    bytes: { type: 'string', default: '256' },
    clients: { type: 'string', default: '4' },
  },
});
const VALUES = Number(values.values);
const BYTES = Number(values.bytes);
const CLIENTS = Number(values.clients);

const key = () => Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32)));
const keyA = key();
const keyB = key();
const file = join(tempDir('konsul-bench-keys-'), 'keys.json');
writeFileSync(file, JSON.stringify({ keys: [keyA.toString('base64')], primary: keyA.toString('base64') }));

interface Status {
  Remaining: number;
  Running: boolean;
  LastPassValuesPerSecond: number;
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;

async function main(): Promise<void> {
  const server = await spawnServer({ args: ['--encrypt-key-file', file], timeoutMs: 60_000 });
  const url = server.url;
  const payload = 'x'.repeat(BYTES);
  let next = 0;
  const loadStart = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = next++; i < VALUES; i = next++) {
        const res = await fetch(`${url}/v1/kv/bench/${String(i).padStart(8, '0')}`, { method: 'PUT', body: payload });
        await res.text();
      }
    }),
  );
  const loadS = (performance.now() - loadStart) / 1000;
  console.log(
    `wrote ${VALUES} encrypted values of ${BYTES} B in ${loadS.toFixed(1)} s (${Math.round(VALUES / loadS)}/s)`,
  );
  const install = await fetch(`${url}/v1/operator/secrets/keyring`, {
    method: 'POST',
    body: JSON.stringify({ Key: keyB.toString('base64') }),
  });
  if (!install.ok) throw new Error(`install: ${install.status} ${await install.text()}`);

  const rotate = async (to: Buffer, label: string, clients: number) => {
    let writing = clients > 0;
    const latencies: number[] = [];
    const writers = Array.from({ length: clients }, async (_, c) => {
      let n = 0;
      while (writing) {
        const t = performance.now();
        const res = await fetch(`${url}/v1/kv/bench/load-${c}-${n++ % 100}`, { method: 'PUT', body: payload });
        await res.text();
        latencies.push(performance.now() - t);
      }
    });
    const started = performance.now();
    const use = await fetch(`${url}/v1/operator/secrets/keyring`, {
      method: 'PUT',
      body: JSON.stringify({ KeyID: keyIdOf(to) }),
    });
    if (!use.ok) throw new Error(`use: ${use.status} ${await use.text()}`);
    let status: Status;
    for (;;) {
      status = (await (await fetch(`${url}/v1/operator/secrets/rotation`)).json()) as Status;
      if (status.Remaining === 0 && !status.Running && performance.now() - started > 100) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    writing = false;
    await Promise.all(writers);
    latencies.sort((a, b) => a - b);
    const load =
      clients > 0
        ? `; ${latencies.length} writes meanwhile, p50 ${pct(latencies, 50).toFixed(1)} ms, ` +
          `p99 ${pct(latencies, 99).toFixed(1)} ms`
        : '';
    console.log(
      `${label}: ${VALUES} values re-encrypted in ${seconds.toFixed(2)} s = ${Math.round(VALUES / seconds)} values/s ` +
        `(server's last pass: ${status.LastPassValuesPerSecond} values/s)${load}`,
    );
  };
  await rotate(keyB, 'idle   ', 0);
  await rotate(keyA, `loaded (${CLIENTS} writers)`, CLIENTS);
  await server.stop();
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
