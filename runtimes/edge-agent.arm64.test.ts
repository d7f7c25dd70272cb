import { afterAll, describe, it } from 'vitest';
import { cleanupAll } from '../testing/process.js';
import { edgeAgentContract } from './edge-agent.contract.js';

afterAll(cleanupAll);

// Runs with `npm run test:arm64` (it fetches the aarch64 builds of Bun and Deno from npm and needs
// qemu-user-static and the arm64 C library from apt); `npm test` leaves it out.
describe('the edge agent on arm64 (aarch64 Bun and Deno under qemu user-mode emulation)', () => {
  it('passes the same contract as on x86', { timeout: 300_000 }, async () => {
    await edgeAgentContract(
      [
        { runtime: 'bun-arm64', sync: 'http', storage: 'fs' },
        { runtime: 'deno-arm64', sync: 'mqtt', storage: 'fs' },
      ],
      60_000,
    );
  });
});
