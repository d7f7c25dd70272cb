import type { Clock, TimerHandle } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { ReadTxn } from '../ports/state-store.js';
import { KV_TOMBSTONE_TABLE, type KvTombstone } from './types.js';

/** Options of TombstoneGc; times in milliseconds, all positive. */
export interface TombstoneGcOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long a tombstone is kept (Consul's tombstone_ttl; default 15 minutes). */
  readonly ttlMs: number;
  /** How often the collector samples and reaps (default 30 seconds). */
  readonly granularityMs: number;
  /** Current applied index. */
  readonly appliedIndex: () => number;
  /** Runs a read against committed state. */
  readonly read: <T>(fn: (tx: ReadTxn) => T) => T;
  /** Proposes a kv.reap-tombstones command for tombstones with index <= upTo. */
  readonly reap: (upTo: number) => Promise<void>;
}

/**
 * Garbage-collects KV tombstones older than a TTL. It samples (time, applied index) every
 * granularity; the newest sample older than the TTL gives the index up to which tombstones can be
 * reaped, and the reap goes through the write pipeline so every replica drops the same ones.
 * Keeps at most ttl/granularity + 2 samples.
 */
export class TombstoneGc {
  private readonly samples: Array<{ at: number; index: number }> = [];
  private timer: TimerHandle | undefined;
  private reaping = false;

  constructor(private readonly options: TombstoneGcOptions) {
    if (!(options.ttlMs > 0 && options.granularityMs > 0))
      throw new RangeError('ttlMs and granularityMs must be positive');
  }

  /** Starts periodic collection. */
  start(): void {
    if (this.timer === undefined) this.schedule();
  }

  /** Stops periodic collection. */
  stop(): void {
    if (this.timer !== undefined) this.options.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** One collection step (exposed for tests): sample, then reap what has expired. */
  async tick(): Promise<void> {
    const { clock, ttlMs, granularityMs } = this.options;
    const now = clock.now();
    this.samples.push({ at: now, index: this.options.appliedIndex() });
    let upTo = 0;
    while (this.samples.length > 0 && (this.samples[0] as { at: number }).at <= now - ttlMs) {
      upTo = (this.samples.shift() as { index: number }).index;
    }
    const maxSamples = Math.ceil(ttlMs / granularityMs) + 2;
    if (this.samples.length > maxSamples) this.samples.splice(0, this.samples.length - maxSamples);
    if (upTo === 0 || this.reaping) return;
    this.reaping = true;
    try {
      if (this.hasTombstonesUpTo(upTo)) await this.options.reap(upTo);
    } catch (err) {
      this.options.logger.warn('tombstone reap failed', { upTo, error: (err as Error).message });
    } finally {
      this.reaping = false;
    }
  }

  private hasTombstonesUpTo(upTo: number): boolean {
    return this.options.read((tx) => {
      for (const [, stone] of tx.range<KvTombstone>(KV_TOMBSTONE_TABLE)) if (stone.index <= upTo) return true;
      return false;
    });
  }

  private schedule(): void {
    this.timer = this.options.clock.setTimer(() => {
      void this.tick().finally(() => {
        if (this.timer !== undefined) this.schedule();
      });
    }, this.options.granularityMs);
  }
}
