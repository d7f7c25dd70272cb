import type { Clock, TimerHandle } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { ReadTxn } from '../ports/state-store.js';
import { parseDuration } from '../util/duration.js';
import { SESSION_TTL_MULTIPLIER, SESSIONS_TABLE, type SessionRecord } from './types.js';

/** Options of SessionTtl. */
export interface SessionTtlOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Runs a read against committed state. */
  readonly read: <T>(fn: (tx: ReadTxn) => T) => T;
  /** Proposes session.destroy for an expired session (through the write pipeline). */
  readonly expire: (id: string) => Promise<void>;
  /** How often deadlines are checked and state is reconciled (ms, > 0). */
  readonly sweepMs: number;
  /** Most sessions tracked; beyond it the oldest-created are still found by the next reconcile. */
  readonly maxTracked: number;
}

/**
 * The leader's session TTL clock (Consul's session timers). Only the leader decides expiry: while
 * active it keeps a deadline per TTL session, SESSION_TTL_MULTIPLIER x TTL after the later of its
 * last renewal and the moment this server became leader (so a leader change never shortens a
 * session's life), and proposes session.destroy when one passes. Renewals reach the leader (they
 * are forwarded like writes) and push the deadline back; nothing about deadlines is replicated.
 */
export class SessionTtl {
  private readonly deadlines = new Map<string, number>();
  private timer: TimerHandle | undefined;
  private active = false;
  private expiring = new Set<string>();

  constructor(private readonly o: SessionTtlOptions) {
    if (!(o.sweepMs > 0) || !(o.maxTracked >= 1)) throw new RangeError('sweepMs and maxTracked must be positive');
  }

  /** Whether this server is currently deciding expiry (it is the leader). */
  get isActive(): boolean {
    return this.active;
  }

  /** Number of sessions with a deadline. */
  get size(): number {
    return this.deadlines.size;
  }

  /** Becomes the deciding server: every TTL session gets a full fresh deadline. Idempotent. */
  activate(): void {
    if (this.active) return;
    this.active = true;
    this.deadlines.clear();
    this.reconcile();
    this.schedule();
  }

  /** Stops deciding (leadership lost or shutdown): forgets every deadline. Idempotent. */
  deactivate(): void {
    this.active = false;
    this.deadlines.clear();
    if (this.timer !== undefined) this.o.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /**
   * Records a renewal (or creation) of `session`: its deadline becomes now + multiplier x TTL.
   * A session without TTL is not tracked. No-op when inactive.
   */
  renewed(session: SessionRecord): void {
    if (!this.active) return;
    const ttlMs = ttlOf(session);
    if (ttlMs === 0) return;
    if (!this.deadlines.has(session.ID) && this.deadlines.size >= this.o.maxTracked) return;
    this.deadlines.set(session.ID, this.o.clock.now() + ttlMs * SESSION_TTL_MULTIPLIER);
  }

  /** The current deadline of `id` (ms since epoch), if tracked. */
  deadlineOf(id: string): number | undefined {
    return this.deadlines.get(id);
  }

  /**
   * Brings the deadlines in line with the state: sessions that no longer exist are dropped and
   * TTL sessions not yet tracked get a fresh deadline. Runs on every sweep.
   */
  reconcile(): void {
    if (!this.active) return;
    const now = this.o.clock.now();
    const live = this.o.read((tx) => {
      const out: Array<[string, number]> = [];
      for (const [id, s] of tx.range<SessionRecord>(SESSIONS_TABLE)) {
        const ttl = ttlOf(s);
        if (ttl > 0) out.push([id, ttl]);
      }
      return out;
    });
    const ids = new Set(live.map(([id]) => id));
    for (const id of [...this.deadlines.keys()]) if (!ids.has(id)) this.deadlines.delete(id);
    for (const [id, ttl] of live) {
      if (this.deadlines.has(id)) continue;
      if (this.deadlines.size >= this.o.maxTracked) break;
      this.deadlines.set(id, now + ttl * SESSION_TTL_MULTIPLIER);
    }
  }

  /** One sweep (exposed for tests): reconcile, then propose expiry of every passed deadline. */
  sweep(): void {
    if (!this.active) return;
    this.reconcile();
    const now = this.o.clock.now();
    for (const [id, deadline] of this.deadlines) {
      if (deadline > now || this.expiring.has(id)) continue;
      this.expiring.add(id);
      this.o.logger.info('session TTL expired', { session: id });
      this.o
        .expire(id)
        .then(() => this.deadlines.delete(id))
        .catch((err: unknown) => {
          // Not applied (no leader, shutting down): a later sweep retries while we still lead.
          this.o.logger.warn('session expiry failed', { session: id, error: (err as Error).message });
        })
        .finally(() => this.expiring.delete(id));
    }
  }

  private schedule(): void {
    this.timer = this.o.clock.setTimer(() => {
      if (!this.active) return;
      this.sweep();
      this.schedule();
    }, this.o.sweepMs);
  }
}

/** A stored session's TTL in ms (0: none). Stored TTLs were validated when created. */
function ttlOf(s: SessionRecord): number {
  return s.TTL === '' ? 0 : (parseDuration(s.TTL) ?? 0);
}
