import { afterAll, describe, expect, it } from 'vitest';
import { FuzzGenerator, runFuzz } from '../testing/fuzz.js';
import { propertySeed } from '../testing/kv-arbitraries.js';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';

afterAll(cleanupAll);

// The long run is `npm run fuzz -- --requests 100000` (see docs/TESTING.md).
describe('fuzzing the HTTP API of a real server', () => {
  for (const acl of [false, true]) {
    it(
      `answers 2,000 malformed requests without a crash, a 5xx or a secret in the log (ACLs ${acl ? 'on' : 'off'})`,
      { timeout: 120_000 },
      async () => {
        const seed = propertySeed(`fuzz (ACLs ${acl ? 'on' : 'off'})`);
        const server = await spawnServer({ args: acl ? ['--acl-enabled', '--acl-default-policy', 'deny'] : [] });
        const gen = new FuzzGenerator(seed);
        if (acl) {
          const boot = (await (await fetch(`${server.url}/v1/acl/bootstrap`, { method: 'PUT' })).json()) as {
            SecretID: string;
          };
          gen.tokens.add(boot.SecretID);
        }
        const report = await runFuzz(server.url, gen, 2000, 8);
        expect(report.sent).toBe(2000);
        expect(report.faults, `seed ${seed}`).toEqual([]);
        expect(report.unanswered, `seed ${seed}`).toEqual([]);
        // Still serving, and no token the fuzzer sent appears in any log line.
        expect((await fetch(`${server.url}/v1/status/leader`)).status).toBe(200);
        const out = server.output();
        const leaked = [...gen.tokens].filter((t) => out.includes(t));
        expect(leaked, `seed ${seed}`).toEqual([]);
        expect(out).not.toMatch(/request failed/);
        expect(await server.stop()).toBe(0);
      },
    );
  }
});
