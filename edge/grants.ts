import { AGENT_TOKEN_HEADER } from '../core/acl/grant.js';
import type { Logger } from '../core/ports/logger.js';
import type { UpstreamFetch } from '../core/ports/runtime.js';
import type { EdgePersistence } from './persist.js';

/** A grant the agent holds for one writer. */
export interface HeldGrant {
  /** AccessorID of the writer's token. */
  readonly accessor: string;
  /** The signed grant (a JWT the agent cannot make or alter). */
  readonly grant: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** Most writers the agent holds grants for; past it the grant that expires first goes. */
const MAX_GRANTS = 10_000;
/** A grant is asked for again once less than this share of its life is left. */
const RENEW_SHARE = 0.5;

/** What the book needs. */
export interface GrantBookOptions {
  /** The server in use (it may change: several upstreams). */
  readonly upstream: () => string;
  readonly agentId: string;
  /** The agent's own token, sent as X-Konsul-Agent-Token (never logged). */
  readonly agentToken: string | undefined;
  readonly persist: EdgePersistence;
  readonly logger: Logger;
  readonly now: () => number;
  /** How requests reach the servers (the runtime's client, or the global fetch). */
  readonly fetch: UpstreamFetch;
}

/**
 * The write grants an agent holds, one per writer (by AccessorID), kept on disk. While online,
 * each writer that writes through the agent gets one (`obtain`, with the writer's token as it
 * passes: the secret is used for that request and not kept); offline, a write is queued only for a
 * writer whose grant is still valid (`valid`), and replays with it.
 */
export class GrantBook {
  private readonly grants = new Map<string, HeldGrant>();
  /** Writers whose grant is being asked for (by the secret's request, so one at a time each). */
  private readonly asking = new Set<string>();

  constructor(private readonly o: GrantBookOptions) {}

  /** Loads the grants kept from the last run (expired ones are dropped). */
  async load(): Promise<void> {
    const kept = await this.o.persist.getMeta<HeldGrant[]>('grants');
    if (!Array.isArray(kept)) return;
    for (const g of kept)
      if (
        typeof g?.accessor === 'string' &&
        typeof g.grant === 'string' &&
        typeof g.issuedAt === 'number' &&
        typeof g.expiresAt === 'number'
      )
        if (g.expiresAt > this.o.now()) this.grants.set(g.accessor, g);
  }

  /** How many grants the agent holds. */
  get size(): number {
    return this.grants.size;
  }

  /** The writer's grant if it has not expired by now. */
  valid(accessor: string): HeldGrant | undefined {
    const g = this.grants.get(accessor);
    return g && g.expiresAt > this.o.now() ? g : undefined;
  }

  /**
   * Whether the writer (`accessor`, undefined when the agent does not know the token yet) should
   * be given a grant now: none held, or less than half of its life left.
   */
  wants(accessor: string | undefined): boolean {
    if (accessor === undefined) return true;
    const g = this.grants.get(accessor);
    if (!g) return true;
    return g.expiresAt - this.o.now() < (g.expiresAt - g.issuedAt) * RENEW_SHARE;
  }

  /**
   * Asks the servers for a grant for the writer whose token is `secret` and keeps it. Never
   * throws: a refusal or a network failure is logged (without the secret) and nothing changes.
   * `key` names the writer while asking (one request per writer at a time).
   */
  async obtain(secret: string, key: string): Promise<void> {
    if (this.asking.has(key) || this.asking.size >= 64) return;
    this.asking.add(key);
    try {
      const res = await this.o.fetch(`${this.o.upstream()}/v1/edge/grant?agent=${encodeURIComponent(this.o.agentId)}`, {
        method: 'PUT',
        headers: {
          'X-Consul-Token': secret,
          ...(this.o.agentToken ? { [AGENT_TOKEN_HEADER]: this.o.agentToken } : {}),
        },
      });
      const text = await res.text();
      if (res.status !== 200) {
        this.o.logger.warn('the servers refused a write grant', { status: res.status, answer: text.slice(0, 200) });
        return;
      }
      const body = JSON.parse(text) as {
        Grant?: unknown;
        AccessorID?: unknown;
        IssuedAt?: unknown;
        ExpiresAt?: unknown;
      };
      const time = (v: unknown) => (typeof v === 'string' ? Date.parse(v) : NaN);
      const issuedAt = time(body.IssuedAt);
      const expiresAt = time(body.ExpiresAt);
      if (
        typeof body.Grant !== 'string' ||
        typeof body.AccessorID !== 'string' ||
        !Number.isFinite(issuedAt) ||
        !Number.isFinite(expiresAt)
      ) {
        this.o.logger.warn('a write grant answer was malformed');
        return;
      }
      this.grants.delete(body.AccessorID);
      this.grants.set(body.AccessorID, { accessor: body.AccessorID, grant: body.Grant, issuedAt, expiresAt });
      this.trim();
      await this.o.persist.setMeta('grants', [...this.grants.values()]);
      this.o.logger.debug('write grant obtained', { accessor: body.AccessorID });
    } catch (err) {
      this.o.logger.debug('write grant not obtained', { error: (err as Error).message });
    } finally {
      this.asking.delete(key);
    }
  }

  /** Drops expired grants, then the soonest to expire while past MAX_GRANTS. */
  private trim(): void {
    const now = this.o.now();
    for (const [k, g] of this.grants) if (g.expiresAt <= now) this.grants.delete(k);
    if (this.grants.size <= MAX_GRANTS) return;
    const byExpiry = [...this.grants.values()].sort((a, b) => a.expiresAt - b.expiresAt);
    for (const g of byExpiry.slice(0, this.grants.size - MAX_GRANTS)) this.grants.delete(g.accessor);
  }
}
