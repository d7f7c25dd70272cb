import { OverloadedError } from '../errors.js';
import { TsPrefixMatcher } from '../hotpaths/prefix-matcher.js';
import { type ApplyListener, type Change, changeMatches, type IndexedChange } from './change.js';

/** Bounds of a ChangeFeed; all positive integers. */
export interface ChangeFeedOptions {
  /** Tables whose changes are retained (others are ignored). */
  readonly tables: readonly string[];
  /** Most changes retained. */
  readonly maxEvents: number;
  /** Most bytes (estimated) of retained change entries. */
  readonly maxBytes: number;
  /** Most concurrent subscriptions. */
  readonly maxSubscribers: number;
  /** The applied index when the feed starts: nothing at or before it is retained. */
  readonly startIndex: number;
}

/**
 * Where a subscriber resumes: after change `seq` (0-based, counting only matching changes) of
 * `index`, or after all of `index`.
 */
export interface FeedPosition {
  readonly index: number;
  readonly seq?: number;
}

/** What a subscription watches: every key of `table` under `prefix`. */
export interface FeedFilter {
  readonly table: string;
  readonly prefix: string;
}

/** Why a subscription must re-read state instead of continuing. */
export type ResyncReason = 'too-old' | 'behind' | 'reset';

/** One message to a subscriber. */
export type FeedMessage =
  | {
      readonly kind: 'change';
      readonly index: number;
      /** Position among the changes of `index` that match the filter (0-based). */
      readonly seq: number;
      /** Whether this is the last matching change of `index`. */
      readonly last: boolean;
      readonly change: Change;
    }
  | {
      readonly kind: 'resync';
      readonly reason: ResyncReason;
      /** The applied index when the resync was decided: re-read the state, then resume after the read's index. */
      readonly index: number;
      /** The oldest position still replayable (changes after this index are retained). */
      readonly oldest: number;
    };

/** A caught-up subscription waiting for a change that concerns it. */
interface FeedWaiter {
  readonly filters: readonly FeedFilter[];
  /** Its cursor when it started waiting. */
  readonly cursor: number;
  readonly fire: () => void;
}

const feedSlot = (table: string, keyOrPrefix: string): string => `${table}\u0000${keyOrPrefix}`;

interface Slot {
  readonly index: number;
  readonly change: Change;
  readonly bytes: number;
}

/** Rough retained size of a change entry, in bytes (strings as UTF-16, byte arrays as is). */
function estimate(value: unknown, depth = 0): number {
  if (typeof value === 'string') return 16 + value.length * 2;
  if (value === null || typeof value !== 'object') return 8;
  if (value instanceof Uint8Array) return 32 + value.byteLength;
  if (depth > 8) return 64;
  let n = 32;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) n += estimate(value[i], depth + 1);
    return n;
  }
  const obj = value as Record<string, unknown>;
  for (const k in obj) n += 16 + k.length * 2 + estimate(obj[k], depth + 1);
  return n;
}

/**
 * A bounded, in-memory log of recent changes (the changes of applied commands, with their
 * indexes) that watch streams read from and resume in. It keeps whole indexes only: when it
 * evicts, it evicts every change of the oldest index, and `oldest` rises to that index, so any
 * position at or after `oldest` replays without gaps. Subscribers hold only a cursor into the
 * log; one that is overtaken by eviction, asks for a position before `oldest`, or whose state was
 * replaced (snapshot installed) gets one explicit resync message and then nothing more.
 */
export class ChangeFeed implements ApplyListener {
  private readonly tables: ReadonlySet<string>;
  /** Retained changes are slots[head..]; evicted ones before head are dropped in bulk, not one splice each. */
  private slots: Slot[] = [];
  private head = 0;
  /** Global sequence number of slots[head]. */
  private base = 0;
  private bytes = 0;
  private oldestIndex: number;
  private lastIndex: number;
  private epoch = 0;
  /**
   * Caught-up subscriptions waiting for a change, in the order they started waiting (so their
   * cursors never decrease along it); each is also listed under every filter it waits on.
   */
  private readonly waiters = new Set<FeedWaiter>();
  /** Waiters by filter slot (table + NUL + prefix); every slot is registered in `matcher`. */
  private readonly waitersBySlot = new Map<string, Set<FeedWaiter>>();
  private readonly matcher = new TsPrefixMatcher();
  private wakeupCount = 0;
  private subscribers = 0;

  constructor(private readonly o: ChangeFeedOptions) {
    for (const [k, v] of Object.entries({
      maxEvents: o.maxEvents,
      maxBytes: o.maxBytes,
      maxSubscribers: o.maxSubscribers,
    })) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer`);
    }
    this.tables = new Set(o.tables);
    this.oldestIndex = o.startIndex;
    this.lastIndex = o.startIndex;
  }

  /** Changes after this index are all retained. */
  get oldest(): number {
    return this.oldestIndex;
  }

  /** The highest applied index the feed has seen. */
  get latest(): number {
    return this.lastIndex;
  }

  /** Number of retained changes. */
  get size(): number {
    return this.slots.length - this.head;
  }

  /** Estimated bytes of the retained changes (what maxBytes bounds). */
  get retainedBytes(): number {
    return this.bytes;
  }

  /** Changes dropped since the feed started: evicted past its bounds, or cleared by a snapshot install. */
  get dropped(): number {
    return this.base;
  }

  /** Subscriptions woken from waiting since the feed started (each wake-up of one counts once). */
  get wakeups(): number {
    return this.wakeupCount;
  }

  /** Number of open subscriptions. */
  get subscriptions(): number {
    return this.subscribers;
  }

  /** ApplyListener: retains the changes of watched tables and wakes subscribers. */
  applied(changes: readonly IndexedChange[], appliedIndex: number): void {
    for (const { index, change } of changes) {
      if (!this.tables.has(change.table)) continue;
      const bytes =
        64 +
        ('key' in change
          ? estimate(change.key) + estimate(change.entry)
          : estimate(change.prefix) + estimate(change.keys));
      this.slots.push({ index, change, bytes });
      this.bytes += bytes;
    }
    this.lastIndex = Math.max(this.lastIndex, appliedIndex);
    const evicted = this.evict();
    this.wakeAffected(changes, evicted);
  }

  /** ApplyListener: the state was replaced at `index`; every subscriber must resync. */
  replaced(index: number): void {
    this.base += this.slots.length - this.head;
    this.slots = [];
    this.head = 0;
    this.bytes = 0;
    this.oldestIndex = index;
    this.lastIndex = index;
    this.epoch++;
    this.wakeAll();
  }

  /** Evicts the oldest indexes beyond the bounds; returns whether anything went. */
  private evict(): boolean {
    const before = this.base;
    while (this.size > 0 && (this.size > this.o.maxEvents || this.bytes > this.o.maxBytes)) {
      const index = (this.slots[this.head] as Slot).index;
      while (this.head < this.slots.length && (this.slots[this.head] as Slot).index === index) {
        this.bytes -= (this.slots[this.head] as Slot).bytes;
        this.head++;
        this.base++;
      }
      this.oldestIndex = Math.max(this.oldestIndex, index);
    }
    // Dropping the evicted prefix costs a copy of what is retained: do it once it is at least as long.
    if (this.head > 0 && this.head >= this.slots.length - this.head) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
    return this.base !== before;
  }

  private wakeAll(): void {
    for (const w of [...this.waiters]) w.fire();
  }

  /**
   * Wakes only the waiters a change concerns: those whose filter matches a retained change (key
   * changes through the prefix matcher, tree deletes and resets by overlap), and those whose
   * cursor eviction has overtaken (they must deliver a resync).
   */
  private wakeAffected(changes: readonly IndexedChange[], evicted: boolean): void {
    if (this.waiters.size === 0) return;
    const fired: FeedWaiter[] = [];
    if (evicted) {
      for (const w of this.waiters) {
        if (w.cursor >= this.base) break;
        fired.push(w);
      }
    }
    const keySlots: string[] = [];
    for (const { change } of changes) {
      if (!this.tables.has(change.table)) continue;
      if ('key' in change) {
        keySlots.push(feedSlot(change.table, change.key));
        continue;
      }
      for (const w of this.waiters)
        if (w.filters.some((f) => changeMatches(change, f.table, { prefix: f.prefix }))) fired.push(w);
    }
    if (keySlots.length > 0)
      for (const matched of this.matcher.matchMany(keySlots))
        for (const slot of matched) for (const w of this.waitersBySlot.get(slot) ?? []) fired.push(w);
    for (const w of fired) w.fire();
  }

  /**
   * Opens a subscription to changes matching `filter` (or any of several) after `from`. Throws
   * OverloadedError when maxSubscribers are open. The subscription must be closed by its owner.
   */
  subscribe(filter: FeedFilter | readonly FeedFilter[], from: FeedPosition): FeedSubscription {
    if (this.subscribers >= this.o.maxSubscribers)
      throw new OverloadedError(`too many watch streams (limit ${this.o.maxSubscribers})`);
    this.subscribers++;
    return new FeedSubscription(this, filter, from, this.epoch, () => this.subscribers--);
  }

  /** @internal Cursor reads for FeedSubscription. */
  read(cursor: number): { slot: Slot | undefined; evicted: boolean; nextCursor: number } {
    if (cursor < this.base) return { slot: undefined, evicted: true, nextCursor: cursor };
    const slot = this.slots[this.head + cursor - this.base];
    return { slot, evicted: false, nextCursor: cursor + 1 };
  }

  /** @internal The global sequence number just past the newest slot. */
  get end(): number {
    return this.base + this.size;
  }

  /** @internal The cursor of the first retained change with index > `index` (or the end). */
  cursorAfter(index: number): number {
    // Indexes ascend along the log: binary search.
    let lo = this.head;
    let hi = this.slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.slots[mid] as Slot).index <= index) lo = mid + 1;
      else hi = mid;
    }
    return this.base + lo - this.head;
  }

  /** @internal */
  get currentEpoch(): number {
    return this.epoch;
  }

  /**
   * @internal Resolves on the next retained change matching `filters`, a replace, or an eviction
   * past `cursor` (the caller's cursor, caught up: at `end`).
   */
  waitForChange(filters: readonly FeedFilter[], cursor: number): { promise: Promise<void>; cancel: () => void } {
    let resolve: () => void = () => undefined;
    const promise = new Promise<void>((r) => (resolve = r));
    const slots = [...new Set(filters.map((f) => feedSlot(f.table, f.prefix)))];
    let active = true;
    const cancel = (): void => {
      if (!active) return;
      active = false;
      this.waiters.delete(waiter);
      for (const slot of slots) {
        const set = this.waitersBySlot.get(slot);
        if (!set) continue;
        set.delete(waiter);
        if (set.size === 0) {
          this.waitersBySlot.delete(slot);
          this.matcher.remove(slot);
        }
      }
    };
    const waiter: FeedWaiter = {
      filters,
      cursor,
      fire: () => {
        if (!active) return;
        cancel();
        this.wakeupCount++;
        resolve();
      },
    };
    this.waiters.add(waiter);
    for (const slot of slots) {
      let set = this.waitersBySlot.get(slot);
      if (!set) {
        this.waitersBySlot.set(slot, (set = new Set()));
        this.matcher.add(slot);
      }
      set.add(waiter);
    }
    return { promise, cancel };
  }
}

/** A cursor over a ChangeFeed for one filter. Not safe for concurrent next() calls. */
export class FeedSubscription {
  private readonly filters: readonly FeedFilter[];
  private cursor: number;
  private pending: FeedMessage[] = [];
  private closed = false;
  private finished = false;
  private pendingWait: { cancel: () => void; wake: () => void } | undefined;
  /**
   * A start position this server has not applied yet (a client resuming here from a server that
   * was ahead): changes up to it are the client's already and are skipped when they arrive.
   */
  private skipThrough: FeedPosition | undefined;

  constructor(
    private readonly feed: ChangeFeed,
    filter: FeedFilter | readonly FeedFilter[],
    from: FeedPosition,
    private readonly epoch: number,
    private readonly release: () => void,
  ) {
    this.filters = Array.isArray(filter) ? filter : [filter as FeedFilter];
    if (from.index < feed.oldest) {
      this.cursor = feed.end;
      this.finish('too-old');
      return;
    }
    this.cursor = feed.cursorAfter(from.index - 1);
    if (from.index > feed.latest) this.skipThrough = from;
    // Skip the changes of `from.index` itself that the subscriber already has.
    const group = this.takeGroup(from.index);
    if (from.seq !== undefined) this.pending = group.filter((m) => m.kind === 'change' && m.seq > (from.seq as number));
  }

  /** Whether every retained change has been read (nothing is pending right now). */
  get caughtUp(): boolean {
    return (
      !this.closed &&
      !this.finished &&
      this.pending.length === 0 &&
      this.cursor >= this.feed.end &&
      this.feed.currentEpoch === this.epoch
    );
  }

  /** Retained changes not yet read (in the filter or not), and read ones not yet taken. */
  get behind(): number {
    return Math.max(0, this.feed.end - this.cursor) + this.pending.length;
  }

  /** Whether the subscription ended (resync delivered or closed). */
  get done(): boolean {
    return this.closed || (this.finished && this.pending.length === 0);
  }

  private finish(reason: ResyncReason): void {
    if (this.finished) return;
    this.finished = true;
    this.pending = [{ kind: 'resync', reason, index: this.feed.latest, oldest: this.feed.oldest }];
  }

  private matches(change: Change): boolean {
    return this.filters.some((f) => changeMatches(change, f.table, { prefix: f.prefix }));
  }

  /** Reads every retained change of `index` at the cursor (which must point at its first one). */
  private takeGroup(index: number): FeedMessage[] {
    const matched: Change[] = [];
    for (;;) {
      const r = this.feed.read(this.cursor);
      if (r.evicted) {
        this.finish('behind');
        return [];
      }
      if (!r.slot || r.slot.index !== index) break;
      this.cursor = r.nextCursor;
      if (this.matches(r.slot.change)) matched.push(r.slot.change);
    }
    return matched.map((change, seq) => ({ kind: 'change', index, seq, last: seq === matched.length - 1, change }));
  }

  /** The next messages without waiting: a whole index's matching changes, a resync, or none. */
  poll(): FeedMessage[] {
    if (this.closed) return [];
    if (this.pending.length > 0) {
      const out = this.pending;
      this.pending = [];
      return out;
    }
    if (this.finished) return [];
    if (this.feed.currentEpoch !== this.epoch) {
      this.finish('reset');
      return this.poll();
    }
    for (;;) {
      const r = this.feed.read(this.cursor);
      if (r.evicted) {
        this.finish('behind');
        return this.poll();
      }
      if (!r.slot) return [];
      const slot = r.slot;
      if ('prefix' in slot.change && (slot.change as { reset?: boolean }).reset && this.matches(slot.change)) {
        this.cursor = r.nextCursor;
        this.finish('reset');
        return this.poll();
      }
      let group = this.takeGroup(slot.index);
      if (this.finished) return this.poll();
      const skip = this.skipThrough;
      if (skip && slot.index >= skip.index) this.skipThrough = undefined;
      if (skip && slot.index < skip.index) group = [];
      else if (skip && slot.index === skip.index)
        group = skip.seq === undefined ? [] : group.filter((m) => m.kind === 'change' && m.seq > (skip.seq as number));
      if (group.length > 0) return group;
    }
  }

  /**
   * Resolves with the next messages (see poll), waiting for new changes when there are none.
   * Resolves with [] once the subscription is done or closed.
   */
  async next(): Promise<FeedMessage[]> {
    for (;;) {
      const out = this.poll();
      if (out.length > 0 || this.done) return out;
      const w = this.feed.waitForChange(this.filters, this.cursor);
      await new Promise<void>((resolve) => {
        this.pendingWait = { cancel: w.cancel, wake: resolve };
        void w.promise.then(resolve);
      });
      this.pendingWait = undefined;
    }
  }

  /** Ends the subscription; a pending next() resolves with []. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.release();
    const w = this.pendingWait;
    if (w) {
      w.cancel();
      w.wake();
    }
  }
}
