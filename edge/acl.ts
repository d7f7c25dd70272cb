import { EDGE_ACL_SALT_BYTES, EdgeAclResolver, parseEdgeAclData } from '../core/acl/edge-replica.js';
import type { Logger } from '../core/ports/logger.js';
import type { UpstreamFetch } from '../core/ports/runtime.js';
import type { Rng } from '../core/ports/rng.js';
import type { EdgePersistence } from './persist.js';

/**
 * Where the agent stands on ACLs: `unknown` (it never heard from the servers), `unreadable` (ACLs
 * are on and its token may not read them), `off` (the servers have ACLs off) or `on` (it holds the
 * ACL data and checks tokens itself).
 */
export type EdgeAclMode = 'unknown' | 'unreadable' | 'off' | 'on';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the follower needs. */
export interface EdgeAclOptions {
  /** The server in use (it may change: several upstreams). */
  readonly upstream: () => string;
  /** The agent's own token: it must have acl:read for the agent to check tokens (never logged). */
  readonly token: string | undefined;
  readonly persist: EdgePersistence;
  readonly logger: Logger;
  readonly rng: Rng;
  /** How requests reach the servers (the runtime's client, or the global fetch). */
  readonly fetch: UpstreamFetch;
}

/**
 * Replicates the servers' ACL data onto the agent (GET /v1/edge/acl, a blocking query) and keeps
 * it on disk, so the agent checks tokens itself and goes on doing so while offline. Secrets never
 * reach the device: each token comes with the HMAC of its secret under this agent's salt, made
 * once and kept with the data. A refusal (the agent's token lost acl:read, or was deleted) drops
 * the data: the agent then serves nothing locally rather than guess.
 */
export class EdgeAclFollower {
  private stopped = false;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private state: EdgeAclMode = 'unknown';
  /** The server the index in hand came from (another server's indexes mean nothing here). */
  private indexFrom = '';

  private constructor(
    private readonly o: EdgeAclOptions,
    /** Resolves tokens against the replicated data (the local API's deps.acl). */
    readonly resolver: EdgeAclResolver,
    private readonly saltHex: string,
  ) {}

  /** Loads the salt (made on first start) and the ACL state kept from the last run. */
  static async open(o: EdgeAclOptions): Promise<EdgeAclFollower> {
    let saltHex = await o.persist.getMeta<string>('acl-salt');
    if (typeof saltHex !== 'string' || !/^[0-9a-f]{32}$/.test(saltHex)) {
      let made = '';
      for (let i = 0; i < EDGE_ACL_SALT_BYTES; i++)
        made += (Math.floor(o.rng.next() * 256) & 255).toString(16).padStart(2, '0');
      saltHex = made;
      await o.persist.setMeta('acl-salt', saltHex);
    }
    const salt = new Uint8Array(EDGE_ACL_SALT_BYTES);
    for (let i = 0; i < salt.length; i++) salt[i] = parseInt(saltHex.slice(i * 2, i * 2 + 2), 16);
    const f = new EdgeAclFollower(o, new EdgeAclResolver(salt), saltHex);
    const kept = await o.persist.getMeta<{ mode: EdgeAclMode; data?: unknown }>('acl');
    try {
      if (kept?.mode === 'unreadable') f.state = 'unreadable';
      else if (kept?.data !== undefined) f.take(parseEdgeAclData(kept.data));
    } catch (err) {
      o.logger.warn('kept ACL data is unusable; waiting for the servers', { error: (err as Error).message });
    }
    return f;
  }

  /** The agent's ACL state now. */
  get mode(): EdgeAclMode {
    return this.state;
  }

  /** The index of the ACL data held (0: none). */
  get index(): number {
    return this.resolver.data?.Index ?? 0;
  }

  /** Starts following the servers' ACL data. */
  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await this.loop;
  }

  private take(data: ReturnType<typeof parseEdgeAclData>): void {
    this.resolver.update(data);
    this.state = data.Enabled ? 'on' : 'off';
  }

  private async run(): Promise<void> {
    let backoff = 500;
    while (!this.stopped) {
      try {
        await this.fetchOnce();
        backoff = 500;
        continue;
      } catch (err) {
        if (this.stopped) break;
        this.o.logger.debug('ACL data not fetched', { error: (err as Error).message });
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 10_000);
    }
  }

  private async fetchOnce(): Promise<void> {
    this.abort = new AbortController();
    const q = new URLSearchParams({ salt: this.saltHex, wait: '5m' });
    const base = this.o.upstream();
    if ((this.state === 'on' || this.state === 'off') && base === this.indexFrom) q.set('index', String(this.index));
    this.indexFrom = base;
    const res = await this.o.fetch(`${base}/v1/edge/acl?${q.toString()}`, {
      signal: this.abort.signal,
      headers: this.o.token ? { 'X-Consul-Token': this.o.token } : {},
    });
    const text = await res.text();
    if (res.status === 403) {
      if (this.state !== 'unreadable')
        this.o.logger.warn("ACLs are on and this agent's token may not read them: serving nothing locally", {
          answer: text.trim().slice(0, 200),
        });
      this.state = 'unreadable';
      await this.o.persist.setMeta('acl', { mode: 'unreadable' });
      // Asked again later: the token may be given acl:read.
      throw new Error('refused');
    }
    if (res.status !== 200) throw new Error(`the ACL data request answered ${res.status}: ${text.slice(0, 200)}`);
    const data = parseEdgeAclData(JSON.parse(text));
    if (data.Index === this.index && this.state === (data.Enabled ? 'on' : 'off')) return;
    const was = this.state;
    this.take(data);
    await this.o.persist.setMeta('acl', { mode: this.state, data });
    if (was !== this.state)
      this.o.logger.info(
        this.state === 'on' ? 'ACL data replicated: checking tokens here' : 'the servers have ACLs off',
        {
          index: data.Index,
          tokens: data.Tokens.length,
        },
      );
  }
}
