/**
 * KV benchmark of a single-node server over HTTP: concurrent PUTs and GETs of fixed-size values
 * against a real `konsul server --dev` process on loopback. Prints ops/s, p50 and p99 latency.
 *
 *   npm run bench:kv -- [--duration 5] [--concurrency 1,16,64] [--value-size 256] [--keys 10000]
 */
import { parseArgs } from 'node:util';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';
import { HEADER, row, runPhase } from './http-load.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,16,64' },
    'value-size': { type: 'string', default: '256' },
    keys: { type: 'string', default: '10000' },
  },
});
const durationMs = Number(values.duration) * 1000;
const levels = String(values.concurrency).split(',').map(Number);
const valueSize = Number(values['value-size']);
const keySpace = Number(values.keys);

const server = await spawnServer();
try {
  const target = `${server.host}:${server.port}`;
  const key = (w: number, i: number) => `/v1/kv/bench/${(w * 7919 + i) % keySpace}`;
  // Fill the key space so GETs hit existing keys.
  await runPhase({
    targets: [target],
    method: 'PUT',
    pathFor: (w, i) => `/v1/kv/bench/${(w * 157 + i) % keySpace}`,
    concurrency: 64,
    durationMs: 2000,
    valueBytes: valueSize,
  });
  console.log(
    `konsul single node, ${valueSize} B values, ${keySpace} keys, ` +
      `${durationMs / 1000} s per phase, node ${process.version}`,
  );
  console.log(HEADER);
  for (const method of ['PUT', 'GET'] as const) {
    for (const c of levels)
      console.log(
        row(
          method,
          c,
          await runPhase({
            targets: [target],
            method,
            pathFor: key,
            concurrency: c,
            durationMs,
            valueBytes: valueSize,
          }),
        ),
      );
  }
} finally {
  await server.stop();
  await cleanupAll();
}
