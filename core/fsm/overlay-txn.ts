import type { RangeOptions, WriteTxn } from '../ports/state-store.js';
import { compareKeys } from '../util/keys.js';

const DELETED = Symbol('deleted');
type Slot = unknown | typeof DELETED;

function inRange(key: string, o: RangeOptions): boolean {
  if (o.prefix !== undefined && !key.startsWith(o.prefix)) return false;
  if (o.start !== undefined && compareKeys(key, o.start) < 0) return false;
  if (o.end !== undefined && compareKeys(key, o.end) >= 0) return false;
  return true;
}

/**
 * A write view that buffers its writes over another one, so a multi-step command (a transaction)
 * can run every step, see its own writes, and then either keep them all (commit) or none
 * (drop the overlay). Reads merge the buffered writes over the base in key order.
 */
export class OverlayTxn implements WriteTxn {
  private readonly writes = new Map<string, Map<string, Slot>>();
  /** Order of first writes, so commit replays puts and deletes deterministically. */
  private readonly order: Array<[string, string]> = [];

  constructor(private readonly base: WriteTxn) {}

  private tableWrites(table: string): Map<string, Slot> {
    let m = this.writes.get(table);
    if (!m) this.writes.set(table, (m = new Map()));
    return m;
  }

  get<V>(table: string, key: string): V | undefined {
    const m = this.writes.get(table);
    if (m?.has(key)) {
      const v = m.get(key);
      return v === DELETED ? undefined : (v as V);
    }
    return this.base.get<V>(table, key);
  }

  *range<V>(table: string, options: RangeOptions = {}): Iterable<readonly [string, V]> {
    const m = this.writes.get(table);
    if (!m || m.size === 0) {
      yield* this.base.range<V>(table, options);
      return;
    }
    const mine = [...m.keys()].filter((k) => inRange(k, options)).sort(compareKeys);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (limit <= 0) return;
    const { limit: _omit, ...unbounded } = options;
    let emitted = 0;
    let i = 0;
    const emitMine = function* (upTo: string | undefined): Generator<readonly [string, V]> {
      while (i < mine.length && (upTo === undefined || compareKeys(mine[i] as string, upTo) <= 0)) {
        const k = mine[i++] as string;
        const v = m.get(k);
        if (v !== DELETED && emitted < limit) {
          emitted++;
          yield [k, v as V];
        }
      }
    };
    for (const [k, v] of this.base.range<V>(table, unbounded)) {
      if (emitted >= limit) return;
      yield* emitMine(k);
      if (emitted >= limit) return;
      if (m.has(k)) continue;
      emitted++;
      yield [k, v];
    }
    yield* emitMine(undefined);
  }

  put<V>(table: string, key: string, value: V): void {
    const m = this.tableWrites(table);
    if (!m.has(key)) this.order.push([table, key]);
    m.set(key, value);
  }

  delete(table: string, key: string): boolean {
    const existed = this.get(table, key) !== undefined;
    const m = this.tableWrites(table);
    if (!m.has(key)) this.order.push([table, key]);
    m.set(key, DELETED);
    return existed;
  }

  /** Applies every buffered write to the base, in order of first write. */
  commit(): void {
    for (const [table, key] of this.order) {
      const v = this.writes.get(table)?.get(key);
      if (v === DELETED) this.base.delete(table, key);
      else this.base.put(table, key, v);
    }
  }
}
