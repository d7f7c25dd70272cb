import { KonsulError, StorageError } from '../errors.js';
import type { KeyIndex } from '../ports/hot-paths.js';
import type { RangeOptions, ReadTxn, StateStore, WriteTxn } from '../ports/state-store.js';
import { SortedTable } from './sorted-table.js';

type UndoRecord = { table: SortedTable<unknown>; key: string; had: boolean; prev: unknown };

/**
 * A StateStore held in memory. Writes are atomic (an undo log rolls back a callback that throws)
 * but not durable: everything is lost when the program ends. Used by tests, the simulator and edge
 * agents configured with in-memory storage.
 */
export class MemoryStateStore implements StateStore {
  readonly tables: readonly string[];
  private readonly data = new Map<string, SortedTable<unknown>>();
  private closed = false;
  private writing = false;

  /**
   * Opens a store with the given table names (each non-empty and unique). `createKeyIndex` orders
   * each table's keys (a HotPaths operation; default: the TypeScript KeyIndex).
   */
  constructor(tables: readonly string[], createKeyIndex?: () => KeyIndex) {
    this.tables = [...tables];
    for (const t of tables) this.data.set(t, new SortedTable(createKeyIndex?.()));
  }

  read<T>(fn: (tx: ReadTxn) => T): T {
    this.assertOpen();
    return fn(this.readTxn());
  }

  write<T>(fn: (tx: WriteTxn) => T): Promise<T> {
    try {
      return Promise.resolve(this.writeSync(fn));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Like write(), but returns synchronously; for the simulator and tests. */
  writeSync<T>(fn: (tx: WriteTxn) => T): T {
    return this.writeUndoable(fn).result;
  }

  /**
   * Like writeSync(), and also returns `undo`, which reverts exactly this write's changes. Undo
   * writes in reverse order of their commits, and only while no later write touched the same
   * keys in between (the simulator rolls back a crashed node's unsynced tail this way).
   */
  writeUndoable<T>(fn: (tx: WriteTxn) => T): { result: T; undo: () => void } {
    this.assertOpen();
    if (this.writing) throw new StorageError('nested write transaction');
    const undoLog: UndoRecord[] = [];
    const base = this.readTxn();
    const tx: WriteTxn = {
      get: base.get,
      range: base.range,
      put: (table, key, value) => {
        const t = this.table(table);
        assertKey(key);
        undoLog.push({ table: t, key, had: t.has(key), prev: t.get(key) });
        t.set(key, value);
      },
      delete: (table, key) => {
        const t = this.table(table);
        if (!t.has(key)) return false;
        undoLog.push({ table: t, key, had: true, prev: t.get(key) });
        return t.delete(key);
      },
    };
    const undo = () => {
      for (let i = undoLog.length - 1; i >= 0; i--) {
        const u = undoLog[i] as UndoRecord;
        if (u.had) u.table.set(u.key, u.prev);
        else u.table.delete(u.key);
      }
    };
    this.writing = true;
    try {
      return { result: fn(tx), undo };
    } catch (err) {
      undo();
      throw err;
    } finally {
      this.writing = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private readTxn(): ReadTxn {
    return {
      get: <V>(table: string, key: string) => this.table(table).get(key) as V | undefined,
      range: <V>(table: string, options?: RangeOptions) =>
        this.table(table).range(options) as Iterable<readonly [string, V]>,
    };
  }

  private table(name: string): SortedTable<unknown> {
    const t = this.data.get(name);
    if (!t) throw new StorageError(`unknown table ${JSON.stringify(name)}`);
    return t;
  }

  private assertOpen(): void {
    if (this.closed) throw new KonsulError('shutting_down', 'store is closed');
  }
}

function assertKey(key: string): void {
  if (key.length === 0) throw new StorageError('empty keys cannot be stored');
}
