import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, spawnServer, type SpawnedServer } from '../spawn-server.js';

const PROBE = fileURLToPath(new URL('./patroni_dcs_probe.py', import.meta.url));
/** Debian's Python, which has the patroni and python3-consul packages (testing/system-packages.mjs). */
const PYTHON = '/usr/bin/python3';

let server: SpawnedServer;

beforeAll(async () => {
  // A minimum above what Patroni asks for (ttl 10 → a 5 s session TTL) makes it adjust.
  server = await spawnServer({ args: ['--session-ttl-min', '30'] });
});
afterAll(async () => {
  await server?.stop();
  await cleanupAll();
});

/** Runs the probe with Patroni's own Consul module and returns what it printed. */
function probe(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [PROBE, url], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>);
      } catch {
        reject(new Error(`the probe printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

describe("Patroni's Consul DCS module (patroni.dcs.consul) against a real server", () => {
  it('adjusts its session TTL, drops an invalid session and replaces one that is gone', async () => {
    const seen = await probe(server.url);
    expect(seen).toEqual({
      // "Invalid Session TTL …" (500) made it read Config.SessionTTLMin (30 s) and retry with it.
      session: expect.stringMatching(/^[0-9a-f-]{36}$/),
      http_ttl: 30,
      // 500 "invalid session …" is recognised as InvalidSession.
      bogus_acquire: expect.stringMatching(/^InvalidSession: 500 invalid session "[0-9a-f-]{36}"/),
      // python-consul reads the 200 [] of an unknown session as no session.
      info_after_destroy: null,
      touch_member_with_dead_session: false,
      session_dropped: true,
      touch_member_again: true,
      new_session: true,
      member_session_is_new: true,
      // Renewing a destroyed session is a 404 (NotFound): Patroni creates a new one.
      refreshed_after_404: true,
      third_session: true,
    });
  });
});
