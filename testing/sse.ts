import { type SseEvent, SseParser } from '../core/sync/sse-parser.js';

export type { SseEvent };

/**
 * A minimal Server-Sent Events reader over a fetch Response (for tests): parses the stream into
 * events, skipping comments and retry fields, and keeps the last event id like EventSource.
 */
export class SseReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private readonly parser = new SseParser();
  private readonly queue: SseEvent[] = [];
  private ended = false;
  /** The id of the last event returned that carried one (what EventSource sends as Last-Event-ID). */
  lastEventId: string | undefined;

  constructor(res: Response) {
    if (!res.body) throw new Error('response has no body');
    this.reader = res.body.getReader();
  }

  /** Whether the server ended the stream. */
  get done(): boolean {
    return this.ended && this.queue.length === 0;
  }

  /** The next event; undefined when the stream ended or nothing arrived within `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<SseEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0 && !this.ended) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return undefined;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), remaining)));
      const read = await Promise.race([this.pendingRead(), timeout]);
      clearTimeout(timer);
      if (read === 'timeout') return undefined;
    }
    const e = this.queue.shift();
    if (e?.id !== undefined) this.lastEventId = e.id;
    return e;
  }

  private inflight: Promise<void> | undefined;

  private pendingRead(): Promise<void> {
    this.inflight ??= this.reader.read().then(({ done, value }) => {
      this.inflight = undefined;
      if (done) this.ended = true;
      else {
        this.queue.push(...this.parser.push(this.decoder.decode(value, { stream: true })));
      }
    });
    return this.inflight;
  }

  /** Reads `n` events (fails if the stream ends or stalls first). */
  async take(n: number, timeoutMs = 5000): Promise<SseEvent[]> {
    const out: SseEvent[] = [];
    while (out.length < n) {
      const e = await this.next(timeoutMs);
      if (!e) throw new Error(`stream ${this.ended ? 'ended' : 'stalled'} after ${out.length} of ${n} events`);
      out.push(e);
    }
    return out;
  }

  /** Disconnects. */
  async close(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
  }
}
