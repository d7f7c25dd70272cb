import type { ReadTxn } from '../ports/state-store.js';
import type { ChangeFeed, FeedFilter, FeedMessage, FeedSubscription } from '../watch/change-feed.js';
import { chunkSnapshot, type SyncMessage } from './codec.js';
import { scopeFilters, toSyncChange } from './scope.js';
import { buildSnapshot } from './snapshot.js';
import type { SyncBatch, SyncChange, SyncScope } from './types.js';

/** What a sync stream reads: the change feed and committed state. */
export interface SyncSource {
  readonly feed: ChangeFeed;
  read<T>(fn: (tx: ReadTxn) => T): T;
}

/** Converts one index's feed messages to a batch (changes the sync protocol does not carry are dropped). */
export function toBatch(messages: readonly FeedMessage[], prev: number): SyncBatch | undefined {
  const first = messages[0];
  if (!first || first.kind !== 'change') return undefined;
  const changes: SyncChange[] = [];
  for (const m of messages) {
    if (m.kind !== 'change') continue;
    const c = toSyncChange(m.change);
    if (c) changes.push(c);
  }
  return { index: first.index, prev, changes };
}

/**
 * The server side of one replica's sync: a snapshot of its scope (unless it can resume after
 * `after` from the change feed), then a batch per index with changes in scope, in order. When the
 * feed cannot continue without a gap (the replica fell behind, or the state was replaced), it
 * sends a fresh snapshot and goes on from there — the replica never sees a gap. With
 * `snapshots: false` (a publisher that serves no particular replica) it skips ahead instead, and
 * the next batch's `prev` tells replicas they must resume. `filters` replaces the scope's feed
 * filters (a publisher of every change uses ALL_FILTERS).
 */
export class SyncStream {
  private sub: FeedSubscription | undefined;
  private prev = 0;
  private queued: SyncMessage[] = [];
  private closed = false;

  constructor(
    private readonly source: SyncSource,
    private readonly scope: SyncScope,
    after: number | null,
    private readonly options: { snapshots: boolean; chunkBytes?: number; filters?: readonly FeedFilter[] } = {
      snapshots: true,
    },
  ) {
    if (after !== null && after >= source.feed.oldest) this.follow(after);
    else if (options.snapshots) this.snapshot();
    else this.follow(source.feed.latest);
  }

  /** The index the replica is at once it has applied everything sent so far. */
  get position(): number {
    return this.prev;
  }

  /** Changes of the feed this stream has not read yet, and messages it holds unsent (snapshot chunks). */
  get behind(): number {
    return (this.sub?.behind ?? 0) + this.queued.length;
  }

  private follow(after: number): void {
    this.sub?.close();
    this.sub = this.source.feed.subscribe(this.options.filters ?? scopeFilters(this.scope), { index: after });
    this.prev = after;
  }

  private snapshot(): void {
    // Read and subscribe in the same turn: the subscription starts exactly after the snapshot.
    const snap = this.source.read((tx) => buildSnapshot(tx, this.scope));
    this.follow(snap.index);
    for (const chunk of chunkSnapshot(snap, this.options.chunkBytes)) this.queued.push({ k: 'chunk', chunk });
  }

  private take(messages: readonly FeedMessage[]): SyncMessage[] {
    const first = messages[0];
    if (!first) return [];
    if (first.kind === 'resync') {
      if (this.options.snapshots) this.snapshot();
      else this.follow(this.source.feed.latest);
      return this.drain();
    }
    const batch = toBatch(messages, this.prev);
    if (!batch) return [];
    this.prev = batch.index;
    return [{ k: 'batch', batch }];
  }

  private drain(): SyncMessage[] {
    const out = this.queued;
    this.queued = [];
    return out;
  }

  /** Messages ready now, without waiting ([] when there are none). */
  poll(): SyncMessage[] {
    if (this.closed) return [];
    if (this.queued.length > 0) return this.drain();
    return this.take((this.sub as FeedSubscription).poll());
  }

  /** The next messages, waiting for changes; [] once closed. */
  async next(): Promise<SyncMessage[]> {
    for (;;) {
      const ready = this.poll();
      if (ready.length > 0 || this.closed) return ready;
      const out = this.take(await (this.sub as FeedSubscription).next());
      if (out.length > 0 || this.closed) return out;
    }
  }

  /**
   * When every change up to the feed's newest index has been sent, a batch without changes that
   * moves the replica there (so it resumes from a recent index later); otherwise undefined.
   */
  progress(): SyncMessage | undefined {
    if (this.closed || this.queued.length > 0) return undefined;
    const latest = this.source.feed.latest;
    if (latest <= this.prev || !(this.sub as FeedSubscription).caughtUp) return undefined;
    const batch: SyncBatch = { index: latest, prev: this.prev, changes: [] };
    this.prev = latest;
    return { k: 'batch', batch };
  }

  /** Stops; a pending next() resolves with []. Idempotent. */
  close(): void {
    this.closed = true;
    this.sub?.close();
  }
}

/**
 * A finite answer to a replica's request (MQTT): a snapshot, or the batches after `after` that the
 * feed holds, up to now. Returns the messages and the index the replica will be at.
 */
export function catchUp(
  source: SyncSource,
  scope: SyncScope,
  after: number | null,
  chunkBytes?: number,
): { messages: SyncMessage[]; index: number } {
  const stream = new SyncStream(source, scope, after, { snapshots: true, ...(chunkBytes ? { chunkBytes } : {}) });
  const messages: SyncMessage[] = [];
  for (let batch = stream.poll(); batch.length > 0; batch = stream.poll()) messages.push(...batch);
  const tail = stream.progress();
  if (tail) messages.push(tail);
  const index = stream.position;
  stream.close();
  return { messages, index };
}
