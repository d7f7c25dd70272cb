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

  constructor(
    private readonly o: {
      upstream: string;
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

  private url(): string {
    const q = new URLSearchParams();
    for (const p of this.o.prefixes) q.append('prefix', p);
    for (const s of this.o.services) q.append('service', s);
    const after = this.o.replica.lastIndex;
    if (after > 0) q.set('after', String(after));
    q.set('agent', this.o.agentId);
    return `${this.o.upstream}/v1/edge/sync?${q.toString()}`;
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
        } else this.o.logger.debug('sync stream failed', { error: message });
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
    const res = await (this.o.fetch ?? fetch)(this.url(), {
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
    this.o.logger.info('sync stream open', { upstream: this.o.upstream, after: this.o.replica.lastIndex });
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
          const outcome = await this.o.sink.apply(decodeSyncMessage(bytes));
          // The server keeps an HTTP stream gap-free; a gap means it restarted with less: resume anew.
          if (outcome === 'gap') throw new Error('gap in the sync stream');
        }
      }
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }
}
