import type { HotPaths } from '../../core/ports/hot-paths.js';
import { CONTRACT_TABLES, stateStoreContract } from '../../core/ports/state-store.contract.js';
import { MemoryStateStore } from '../../core/store/memory-store.js';
import { nodeRuntime } from '../node/index.js';

let hp: HotPaths | undefined;

// The in-memory store ordered by the WebAssembly key index must honour the same contract.
stateStoreContract('memory on the WebAssembly key index', async () => {
  hp ??= await nodeRuntime.loadHotPaths('wasm');
  const paths = hp;
  return new MemoryStateStore(CONTRACT_TABLES, () => paths.createKeyIndex());
});
