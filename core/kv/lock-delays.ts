import type { Clock } from '../ports/clock.js';
import type { ApplyListener, IndexedChange } from '../watch/change.js';
import { LOCK_DELAY_TABLE } from './ops.js';

/** What a session invalidation announces for each key it gave a lock delay (the Change's entry). */
export interface LockDelayStarted {
  readonly ms: number;
}

/** Keys a LocalLockDelays keeps at most; the oldest started go first beyond it. */
export const MAX_LOCAL_LOCK_DELAYS = 65_536;

/**
 * The lock delays this server has seen begin, each from the moment this server applied the
 * session invalidation that set it, by this server's own clock: Consul's in-memory lock-delay
 * table, which its servers set when they apply an invalidation and check before they propose a
 * lock. A lock request checked here is refused for the whole delay however far this server's
 * clock is from the clocks of the servers that stamped the replicated delay (which the state
 * machine checks as well, for a lock proposed before this server applied the invalidation).
 * Kept in memory only: a restarted server relies on the replicated table alone.
 */
export class LocalLockDelays implements ApplyListener {
  /** Key → when its delay ends (clock ms); in the order they started. */
  private readonly until = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly max = MAX_LOCAL_LOCK_DELAYS,
  ) {}

  applied(changes: readonly IndexedChange[]): void {
    let now: number | undefined;
    for (const { change } of changes) {
      if (change.table !== LOCK_DELAY_TABLE || !('key' in change)) continue;
      const started = change.entry as LockDelayStarted | undefined;
      if (!started || !(started.ms > 0)) continue;
      now ??= this.clock.now();
      this.until.delete(change.key);
      this.until.set(change.key, now + started.ms);
      if (this.until.size > this.max) this.until.delete(this.until.keys().next().value as string);
    }
  }

  replaced(): void {
    // A snapshot carries the replicated delays; those seen here still hold.
  }

  /** Whether a lock on `key` is within a delay this server saw begin. */
  inDelay(key: string): boolean {
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (this.clock.now() < until) return true;
    this.until.delete(key);
    return false;
  }

  /** How many delays are kept (ended ones are dropped when next asked about). */
  size(): number {
    return this.until.size;
  }
}
