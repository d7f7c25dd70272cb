import { afterAll, describe, it } from 'vitest';
import { cleanupAll } from '../testing/process.js';
import { edgeAgentContract } from './edge-agent.contract.js';

afterAll(cleanupAll);

describe('the same edge agent bin under Deno and Bun', () => {
  it('syncs over HTTP and MQTT, serves blocking reads, forwards writes, and queues them offline', async () => {
    await edgeAgentContract([
      { runtime: 'deno', sync: 'http', storage: 'fs' },
      { runtime: 'deno', sync: 'mqtt', storage: 'memory' },
      { runtime: 'bun', sync: 'http', storage: 'memory' },
      { runtime: 'bun', sync: 'mqtt', storage: 'fs' },
    ]);
  });
});
