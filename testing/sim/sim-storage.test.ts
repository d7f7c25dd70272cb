import { META_TABLE } from '../../core/fsm/meta.js';
import { createTsHotPaths } from '../../core/hotpaths/ts-hot-paths.js';
import { logStorageContract, type LogStorageUnderTest } from '../../core/replication/log-storage.contract.js';
import { RAFT_LOG_TABLE, RAFT_META_TABLE, RaftStorage } from '../../core/replication/storage.js';
import { SimStateStore } from './sim-store.js';

const hp = createTsHotPaths();

/** RaftStorage on the simulated disk, its writes completed in issue order as soon as they are issued. */
function onSimDisk(): LogStorageUnderTest {
  const disk: SimStateStore = new SimStateStore([META_TABLE, RAFT_LOG_TABLE, RAFT_META_TABLE], () =>
    queueMicrotask(() => disk.completeNext()),
  );
  const over = (store: SimStateStore): LogStorageUnderTest => {
    const storage = new RaftStorage(store, hp);
    storage.load();
    return { storage, store, reopen: async () => over(store), close: async () => undefined };
  };
  return over(disk);
}

// The simulator's storage model: the contract the WAL-based storage is to pass as well.
logStorageContract('RaftStorage on the simulated disk', async () => onSimDisk());
