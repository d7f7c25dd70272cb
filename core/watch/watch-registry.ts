import { OverloadedError } from '../errors.js';
import { TsPrefixMatcher } from '../hotpaths/prefix-matcher.js';
import type { PrefixMatcher } from '../ports/hot-paths.js';
import { type Change, changeMatches } from './change.js';

/** What a watcher observes: one key of a table, or every key under a prefix. */
export type WatchTarget =
  { readonly table: string; readonly key: string } | { readonly table: string; readonly prefix: string };

interface Watcher {
  readonly target: WatchTarget;
  readonly fire: () => void;
}

const slotOf = (table: string, keyOrPrefix: string): string => `${table}\u0000${keyOrPrefix}`;

/**
 * One-shot change notifications for blocking queries. A watcher fires at most once: on the first
 * matching change after it was registered, or on wakeAll(). Exact-key watchers are found by hash
 * lookup; prefix watchers through a PrefixMatcher (a HotPaths operation) that finds every
 * watched prefix of each changed key in one batch.
 */
export class WatchRegistry {
  private readonly byKey = new Map<string, Set<Watcher>>();
  /** Prefix watchers by slot (table + NUL + prefix); every slot is registered in `matcher`. */
  private readonly byPrefix = new Map<string, Set<Watcher>>();
  private count = 0;
  private firedCount = 0;

  /**
   * `maxWatchers` bounds concurrent watchers (>= 1); registering beyond it throws OverloadedError.
   * `matcher` finds watched prefixes (default: the TypeScript one).
   */
  constructor(
    private readonly maxWatchers: number,
    private readonly matcher: PrefixMatcher = new TsPrefixMatcher(),
  ) {
    if (!Number.isSafeInteger(maxWatchers) || maxWatchers < 1)
      throw new RangeError('maxWatchers must be a positive integer');
  }

  /** Watchers fired since the registry was made (by changes or wakeAll). */
  get fired(): number {
    return this.firedCount;
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
    const isKey = 'key' in target;
    const map = isKey ? this.byKey : this.byPrefix;
    const slot = slotOf(target.table, isKey ? target.key : target.prefix);
    let set = map.get(slot);
    if (!set) {
      map.set(slot, (set = new Set()));
      if (!isKey) this.matcher.add(slot);
    }
    const bucket = set;
    let active = true;
    const cancel = (): void => {
      if (!active) return;
      active = false;
      bucket.delete(watcher);
      if (bucket.size === 0) {
        map.delete(slot);
        if (!isKey) this.matcher.remove(slot);
      }
      this.count--;
    };
    const watcher: Watcher = {
      target,
      fire: () => {
        if (!active) return;
        cancel();
        this.firedCount++;
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
    const keySlots: string[] = [];
    for (const change of changes) {
      if ('key' in change) {
        const slot = slotOf(change.table, change.key);
        const exact = this.byKey.get(slot);
        if (exact) for (const w of exact) fired.push(w);
        keySlots.push(slot);
        continue;
      }
      // A recursive delete: rare, so scan the watchers of its table.
      for (const map of [this.byKey, this.byPrefix]) {
        for (const set of map.values()) {
          for (const w of set)
            if (changeMatches(change, w.target.table, w.target as { key: string } | { prefix: string })) fired.push(w);
        }
      }
    }
    if (keySlots.length > 0 && this.byPrefix.size > 0) {
      for (const matched of this.matcher.matchMany(keySlots)) {
        for (const slot of matched) for (const w of this.byPrefix.get(slot) ?? []) fired.push(w);
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
