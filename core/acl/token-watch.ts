import type { Clock } from '../ports/clock.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { ApplyListener, IndexedChange } from '../watch/change.js';
import type { AclIdentity, AclResolver } from './resolve.js';
import { ACL_WATCH_TABLE } from './types.js';

/** What a long-lived request is told when the ACL data changes: its identity now, or revoked. */
export type TokenVerdict =
  { readonly ok: true; readonly identity: AclIdentity } | { readonly ok: false; readonly reason: string };

/** Most long-lived requests followed at once (more are still served, but not followed; counted). */
export const MAX_TOKEN_WATCHERS = 100_000;

interface Watcher {
  readonly secret: string | undefined;
  readonly onChange: (verdict: TokenVerdict) => void;
}

/**
 * Lets long-lived requests (watch streams, edge sync streams, blocking queries, MQTT sessions)
 * follow the token they started with. Listens to what the state machine applies; when a token,
 * policy or role changes, each watcher's secret is resolved again against the new state (once
 * per distinct secret) and the watcher is told its new identity, or that its token is gone or
 * expired, in the same turn as the apply. So on every server a deleted or narrowed token takes
 * effect as soon as that server applies the change.
 */
export class TokenWatch implements ApplyListener {
  private readonly watchers = new Set<Watcher>();
  /** Registrations refused because MAX_TOKEN_WATCHERS were followed already. */
  overflow = 0;

  constructor(
    private readonly o: {
      readonly resolver: AclResolver;
      readonly read: <T>(fn: (tx: ReadTxn) => T) => T;
      readonly clock: Clock;
    },
  ) {}

  /**
   * Follows `secret` (undefined: the anonymous token) until the returned function is called;
   * `onChange` gets every new verdict. Does nothing when ACLs are off.
   */
  watch(secret: string | undefined, onChange: (verdict: TokenVerdict) => void): () => void {
    if (!this.o.resolver.settings.enabled) return () => undefined;
    if (this.watchers.size >= MAX_TOKEN_WATCHERS) {
      this.overflow++;
      return () => undefined;
    }
    const w: Watcher = { secret, onChange };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  /** How many requests are followed now. */
  get size(): number {
    return this.watchers.size;
  }

  applied(changes: readonly IndexedChange[]): void {
    if (this.watchers.size === 0 || !changes.some((c) => c.change.table === ACL_WATCH_TABLE)) return;
    this.recheck();
  }

  replaced(): void {
    // A restored snapshot may have replaced every token.
    if (this.watchers.size > 0) this.recheck();
  }

  /** Resolves every followed secret against the state now and tells its watchers. */
  recheck(): void {
    const now = this.o.clock.now();
    const verdicts = new Map<string | undefined, TokenVerdict>();
    this.o.read((tx) => {
      for (const w of this.watchers)
        if (!verdicts.has(w.secret)) {
          let v: TokenVerdict;
          try {
            v = { ok: true, identity: this.o.resolver.resolve(tx, w.secret, now) };
          } catch (err) {
            v = { ok: false, reason: (err as Error).message };
          }
          verdicts.set(w.secret, v);
        }
    });
    for (const w of [...this.watchers]) w.onChange(verdicts.get(w.secret) as TokenVerdict);
  }
}
