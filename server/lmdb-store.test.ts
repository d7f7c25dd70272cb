import { join } from 'node:path';
import { afterAll } from 'vitest';
import { CONTRACT_TABLES, stateStoreContract } from '../core/ports/state-store.contract.js';
import { cleanupAll, tempDir } from '../testing/spawn-server.js';
import { LmdbStateStore } from './lmdb-store.js';

afterAll(cleanupAll);
const files = new WeakMap<object, string>();

stateStoreContract(
  'lmdb',
  async () => {
    const file = join(tempDir(), 'state.mdb');
    const s = new LmdbStateStore(file, CONTRACT_TABLES);
    files.set(s, file);
    return s;
  },
  async (s) => {
    await s.close();
    return new LmdbStateStore(files.get(s)!, CONTRACT_TABLES);
  },
);
