import type { Logger } from '../core/ports/logger.js';
import type { UpstreamFetch } from '../core/ports/runtime.js';
import { decodeSyncMessage } from '../core/sync/codec.js';
import type { Replica } from '../core/sync/replica.js';
import { SseParser } from '../core/sync/sse-parser.js';
import { decodeBase64 } from '../core/util/base64.js';
import type { ReplicaSink } from './sink.js';

/** The servers answered the sync request with a 4xx (bad scope, no permission). */
class SyncRefused extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Follows the servers over HTTP: one long-lived GET /v1/edge/sync (Server-Sent Events) that
 * resumes after the replica's index, or starts with a snapshot; the server sends a fresh
 * snapshot itself when it cannot continue without a gap. Reconnects with backoff (0.5 s to 10 s).
 */
export class HttpSync {
  private abort: AbortController | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Whether the stream is open. */
  connected = false;
  /** The server the last stream went to. */
  private lastBase = '';

  constructor(
    private readonly o: {
      /** The server in use (it may change: several upstreams). */
      upstream: () => string;
      /**
       * The datacenter of the server in use when known, and the one the replica came from: a
       * stream from another datacenter starts with a snapshot (its indexes are another cluster's).
       */
      datacenter?: () => string | undefined;
      replicaDatacenter?: { get(): string | undefined; set(dc: string): void };
      /** Told the server whose stream failed at the network level (the agent may choose another). */
      failed?: (base: string) => void;
      /** The agent's id, given to the servers (?agent=) so they can tell its stream's lag. */
      agentId: string;
      /** ACL token sent with the sync request (undefined: none). */
      token?: string | undefined;
      prefixes: readonly string[];
      services: readonly string[];
      replica: Replica;
      sink: ReplicaSink;
      logger: Logger;
      /** Told when the stream opens (true) or drops (false). */
      onLink: (up: boolean) => void;
      /** How the stream is requested (default: the global fetch). */
      fetch?: UpstreamFetch | undefined;
    },
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await this.loop;
  }

  /** The stream's URL on `base`; `fresh`: ask for a snapshot whatever the replica holds. */
  private url(base: string, fresh: boolean): string {
    const q = new URLSearchParams();
    for (const p of this.o.prefixes) q.append('prefix', p);
    for (const s of this.o.services) q.append('service', s);
    const after = this.o.replica.lastIndex;
    if (after > 0 && !fresh) q.set('after', String(after));
    q.set('agent', this.o.agentId);
    return `${base}/v1/edge/sync?${q.toString()}`;
  }

  private async run(): Promise<void> {
    let backoff = 500;
    let lastRefusal = '';
    while (!this.stopped) {
      try {
        await this.follow();
        backoff = 500;
        lastRefusal = '';
      } catch (err) {
        if (this.stopped) break;
        const message = (err as Error).message;
        // A refusal (e.g. 403: the token may not read the scope) is worth saying, once per reason.
        if (err instanceof SyncRefused) {
          if (message !== lastRefusal)
            this.o.logger.warn('the servers refused the sync stream; retrying', { error: message });
          lastRefusal = message;
        } else {
          this.o.logger.debug('sync stream failed', { error: message });
          // The agent may choose another upstream before the next try.
          this.o.failed?.(this.lastBase);
        }
      }
      if (this.connected) {
        this.connected = false;
        this.o.onLink(false);
        this.o.logger.warn('lost the sync stream; serving the local replica', { index: this.o.replica.lastIndex });
      }
      if (this.stopped) break;
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 10_000);
    }
  }

  private async follow(): Promise<void> {
    this.abort = new AbortController();
    const base = this.o.upstream();
    // A server of another datacenter than the replica's: its indexes are another cluster's.
    const dc = this.o.datacenter?.();
    const fresh = dc !== undefined && dc !== this.o.replicaDatacenter?.get();
    this.lastBase = base;
    const res = await (this.o.fetch ?? fetch)(this.url(base, fresh), {
      signal: this.abort.signal,
      headers: { Accept: 'text/event-stream', ...(this.o.token ? { 'X-Consul-Token': this.o.token } : {}) },
    });
    if (res.status !== 200 || !res.body) {
      const text = await res.text().catch(() => '');
      const message = `sync request answered ${res.status}: ${text.trim().slice(0, 200)}`;
      throw res.status >= 400 && res.status < 500 ? new SyncRefused(message) : new Error(message);
    }
    this.connected = true;
    this.o.onLink(true);
    this.o.logger.info('sync stream open', {
      upstream: base,
      after: fresh ? 'snapshot' : this.o.replica.lastIndex,
      ...(dc !== undefined ? { datacenter: dc } : {}),
    });
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
          const bytes = decodeBase64(ev.data);
          if (!bytes) throw new Error(`sync event ${ev.event} is not base64`);
          const message = decodeSyncMessage(bytes);
          const outcome = await this.o.sink.apply(message);
          // A whole snapshot from this datacenter: the replica is now its.
          if (dc !== undefined && message.k === 'chunk' && outcome === 'applied') this.o.replicaDatacenter?.set(dc);
          // The server keeps an HTTP stream gap-free; a gap means it restarted with less: resume anew.
          if (outcome === 'gap') throw new Error('gap in the sync stream');
        }
      }
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }
}
