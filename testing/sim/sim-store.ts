import type { ReadTxn, ReadView, StateStore, WriteTxn } from '../../core/ports/state-store.js';
import { MemoryStateStore } from '../../core/store/memory-store.js';
import { createTsHotPaths } from '../../core/hotpaths/ts-hot-paths.js';

interface PendingWrite {
  readonly fn: (tx: WriteTxn) => unknown;
  readonly durability: 'durable' | 'committed';
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * A simulated node's disk, behind the StateStore port. A write is queued when issued and runs
 * only when the simulator completes it (completeNext, in issue order): its changes then become
 * visible and its promise resolves. A 'durable' write makes itself and every earlier write
 * durable; a 'committed' one stays unsynced until the next durable write. A crash loses the
 * writes still queued and rolls back the unsynced ones, as a power cut would.
 * `onIssue` is told of every new write, so the simulator can schedule its completion.
 */
export class SimStateStore implements StateStore {
  readonly tables: readonly string[];
  private readonly mem: MemoryStateStore;
  private readonly queue: PendingWrite[] = [];
  private unsynced: Array<() => void> = [];
  private immediate = false;
  /** Changes whenever what the disk holds may have changed (a write completed, a crash). */
  version = 0;

  constructor(
    tables: readonly string[],
    private readonly onIssue: () => void,
  ) {
    this.tables = [...tables];
    const hp = createTsHotPaths();
    this.mem = new MemoryStateStore(tables, () => hp.createKeyIndex());
  }

  /** Writes issued and not yet completed. */
  get inFlight(): number {
    return this.queue.length;
  }

  /** Completed writes a crash would roll back. */
  get unsyncedWrites(): number {
    return this.unsynced.length;
  }

  read<T>(fn: (tx: ReadTxn) => T): T {
    return this.mem.read(fn);
  }

  /** A view of what completed writes left on the disk; queued writes, completed later, do not show. */
  snapshotRead(): ReadView {
    return this.mem.snapshotRead();
  }

  write<T>(fn: (tx: WriteTxn) => T, durability: 'durable' | 'committed' = 'durable'): Promise<T> {
    if (this.immediate) {
      try {
        const { result } = this.mem.writeUndoable(fn);
        this.version++;
        this.unsynced = [];
        return Promise.resolve(result);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, durability, resolve: resolve as (v: unknown) => void, reject });
      this.onIssue();
    });
  }

  /** Runs `setup` with writes applied at once and durably (bootstrapping a node's disk). */
  immediately(setup: () => void): void {
    this.immediate = true;
    try {
      setup();
    } finally {
      this.immediate = false;
    }
  }

  /** Completes the oldest queued write; false when none is queued. */
  completeNext(): boolean {
    const w = this.queue.shift();
    if (!w) return false;
    let done: { result: unknown; undo: () => void };
    try {
      done = this.mem.writeUndoable(w.fn);
    } catch (err) {
      w.reject(err);
      return true;
    }
    this.version++;
    if (w.durability === 'durable') this.unsynced = [];
    else this.unsynced.push(done.undo);
    w.resolve(done.result);
    return true;
  }

  /** A power cut: queued writes are lost (their promises never settle), unsynced ones rolled back. */
  crash(): void {
    this.version++;
    this.queue.length = 0;
    for (let i = this.unsynced.length - 1; i >= 0; i--) (this.unsynced[i] as () => void)();
    this.unsynced = [];
  }

  /** A simulated disk outlives every incarnation of its node: closing it keeps its contents. */
  async close(): Promise<void> {}
}
