import { CONTRACT_TABLES, stateStoreContract } from '../ports/state-store.contract.js';
import { MemoryStateStore } from './memory-store.js';

stateStoreContract('memory', async () => new MemoryStateStore(CONTRACT_TABLES));
