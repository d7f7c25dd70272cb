import { KonsulError, StorageError } from '../errors.js';
import type { KeyIndex } from '../ports/hot-paths.js';
import type { RangeOptions, ReadTxn, ReadView, StateStore, WriteTxn } from '../ports/state-store.js';
import { SortedTable } from './sorted-table.js';

type UndoRecord = { name: string; table: SortedTable<unknown>; key: string; had: boolean; prev: unknown };

/** An open snapshotRead view: tables copied before the first write that touched them since it opened. */
interface OpenView {
  readonly frozen: Map<string, SortedTable<unknown>>;
}

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
  private readonly views = new Set<OpenView>();
  private readonly createKeyIndex: (() => KeyIndex) | undefined;

  /**
   * Opens a store with the given table names (each non-empty and unique). `createKeyIndex` orders
   * each table's keys (a HotPaths operation; default: the TypeScript KeyIndex).
   */
  constructor(tables: readonly string[], createKeyIndex?: () => KeyIndex) {
    this.tables = [...tables];
    this.createKeyIndex = createKeyIndex;
    for (const t of tables) this.data.set(t, new SortedTable(createKeyIndex?.()));
  }

  /**
   * A view that stays as the data is now (copy on write): the first write to touch a table while
   * views are open copies that table for them, so a view costs nothing until written around.
   */
  snapshotRead(): ReadView {
    this.assertOpen();
    const view: OpenView = { frozen: new Map() };
    this.views.add(view);
    let open = true;
    const tableOf = (name: string) => {
      if (!open) throw new StorageError('read view is closed');
      return view.frozen.get(name) ?? this.table(name);
    };
    return {
      get: <V>(table: string, key: string) => tableOf(table).get(key) as V | undefined,
      range: <V>(table: string, options?: RangeOptions) => viewRange<V>(tableOf, table, options),
      close: () => {
        open = false;
        this.views.delete(view);
      },
    };
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
        this.preserve(table);
        undoLog.push({ name: table, table: t, key, had: t.has(key), prev: t.get(key) });
        t.set(key, value);
      },
      delete: (table, key) => {
        const t = this.table(table);
        if (!t.has(key)) return false;
        this.preserve(table);
        undoLog.push({ name: table, table: t, key, had: true, prev: t.get(key) });
        return t.delete(key);
      },
    };
    const undo = () => {
      for (let i = undoLog.length - 1; i >= 0; i--) {
        const u = undoLog[i] as UndoRecord;
        this.preserve(u.name);
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
    this.views.clear();
  }

  /** Before `name` changes: every open view that still reads the live table gets a copy of it. */
  private preserve(name: string): void {
    if (this.views.size === 0) return;
    let copy: SortedTable<unknown> | undefined;
    for (const v of this.views) {
      if (v.frozen.has(name)) continue;
      if (!copy) {
        copy = new SortedTable(this.createKeyIndex?.());
        for (const [k, val] of this.table(name).range()) copy.set(k, val);
      }
      v.frozen.set(name, copy);
    }
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

/**
 * A view's lazy range: the keys are listed when iteration starts and each value is read when
 * reached, from whichever table the view reads then (the live one, or its copy once a write
 * touched it; both hold the view's data), so it stays consistent across writes.
 */
function* viewRange<V>(
  tableOf: (name: string) => SortedTable<unknown>,
  table: string,
  options: RangeOptions | undefined,
): Iterable<readonly [string, V]> {
  const keys: string[] = [];
  for (const [k] of tableOf(table).range(options)) keys.push(k);
  for (const k of keys) yield [k, tableOf(table).get(k) as V];
}

function assertKey(key: string): void {
  if (key.length === 0) throw new StorageError('empty keys cannot be stored');
}
