import { OverloadedError } from '../errors.js';
import { type Change, changeMatches } from './change.js';

/** What a watcher observes: one key of a table, or every key under a prefix. */
export type WatchTarget = { readonly table: string; readonly key: string } | { readonly table: string; readonly prefix: string };

interface Watcher {
  readonly target: WatchTarget;
  readonly fire: () => void;
}

/**
 * One-shot change notifications for blocking queries. A watcher fires at most once: on the first
 * matching change after it was registered, or on wakeAll(). Exact-key watchers are found by hash
 * lookup; prefix watchers by a scan of the prefix watchers of the changed table.
 */
export class WatchRegistry {
  private readonly byKey = new Map<string, Set<Watcher>>();
  private readonly byPrefix = new Map<string, Set<Watcher>>();
  private count = 0;

  /** `maxWatchers` bounds concurrent watchers (>= 1); registering beyond it throws OverloadedError. */
  constructor(private readonly maxWatchers: number) {
    if (!Number.isSafeInteger(maxWatchers) || maxWatchers < 1) throw new RangeError('maxWatchers must be a positive integer');
  }

  /** Number of registered watchers. */
  get size(): number {
    return this.count;
  }

  /**
   * Calls `onChange` once, on the next change that matches `target`. Returns a function that
   * unregisters the watcher (idempotent). Throws OverloadedError when maxWatchers are registered.
   */
  watch(target: WatchTarget, onChange: () => void): () => void {
    if (this.count >= this.maxWatchers) {
      throw new OverloadedError(`too many blocking queries (limit ${this.maxWatchers})`);
    }
    const [map, slot] = 'key' in target ? [this.byKey, `${target.table}\u0000${target.key}`] : [this.byPrefix, target.table];
    let set = map.get(slot);
    if (!set) map.set(slot, (set = new Set()));
    const bucket = set;
    let active = true;
    const cancel = (): void => {
      if (!active) return;
      active = false;
      bucket.delete(watcher);
      if (bucket.size === 0) map.delete(slot);
      this.count--;
    };
    const watcher: Watcher = {
      target,
      fire: () => {
        if (!active) return;
        cancel();
        onChange();
      },
    };
    bucket.add(watcher);
    this.count++;
    return cancel;
  }

  /** Fires every watcher matching any of `changes`. */
  notify(changes: readonly Change[]): void {
    if (this.count === 0) return;
    const fired: Watcher[] = [];
    for (const change of changes) {
      if ('key' in change) {
        const exact = this.byKey.get(`${change.table}\u0000${change.key}`);
        if (exact) for (const w of exact) fired.push(w);
      } else {
        for (const set of this.byKey.values()) {
          for (const w of set) if (changeMatches(change, w.target.table, w.target as { key: string })) fired.push(w);
        }
      }
      const prefixed = this.byPrefix.get(change.table);
      if (prefixed) {
        for (const w of prefixed) if (changeMatches(change, w.target.table, w.target as { prefix: string })) fired.push(w);
      }
    }
    for (const w of fired) w.fire();
  }

  /** Fires every watcher (used at shutdown so blocking queries return promptly). */
  wakeAll(): void {
    const all: Watcher[] = [];
    for (const set of this.byKey.values()) for (const w of set) all.push(w);
    for (const set of this.byPrefix.values()) for (const w of set) all.push(w);
    for (const w of all) w.fire();
  }
}
