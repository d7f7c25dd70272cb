import type { Logger } from '../core/ports/logger.js';
import type { UpstreamFetch } from '../core/ports/runtime.js';

/** How long a probe may take (ms). */
const PROBE_TIMEOUT_MS = 2000;

/** What the chooser needs. */
export interface UpstreamChooserOptions {
  /** The servers the agent may use (`--upstream`, repeatable), base URLs without a trailing slash; at least one. */
  readonly bases: readonly string[];
  readonly fetch: UpstreamFetch;
  readonly logger: Logger;
  /** Time between probe rounds (ms). */
  readonly probeEveryMs: number;
}

interface Probed {
  /** Round-trip time of the last answered probe (ms); undefined: the last probe failed. */
  rttMs?: number;
  /** The server's datacenter (the first of its /v1/catalog/datacenters), once learnt. */
  datacenter?: string;
}

/**
 * Which of the agent's upstream servers it uses — they may be in several datacenters. Every
 * `probeEveryMs` each is probed (GET /v1/catalog/datacenters, which needs no token and names the
 * server's datacenter first) and its round-trip time measured. The agent stays with the server it
 * uses while that answers; when it fails (a probe, or `failed()` from a request) the nearest
 * answering server takes over. With one upstream nothing is probed.
 */
export class UpstreamChooser {
  private readonly probed = new Map<string, Probed>();
  private chosen: string;
  private timer: ReturnType<typeof setInterval> | undefined;
  private round: Promise<void> | undefined;
  /** Whether a first round chose the nearest server (until then the first one listed is used). */
  private settled = false;

  constructor(private readonly o: UpstreamChooserOptions) {
    if (o.bases.length === 0) throw new Error('UpstreamChooser: no upstream');
    this.chosen = o.bases[0] as string;
  }

  /** The base URL in use. */
  current(): string {
    return this.chosen;
  }

  /** The datacenter of the server in use, when learnt (always undefined with one upstream). */
  datacenter(): string | undefined {
    return this.probed.get(this.chosen)?.datacenter;
  }

  /** Starts probing (when there is more than one upstream), the first round at once. */
  start(): Promise<void> {
    if (this.o.bases.length < 2 || this.timer) return Promise.resolve();
    this.timer = setInterval(() => void this.probe(), this.o.probeEveryMs);
    return this.probe();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A request to `base` failed at the network level: choose again now (if it is the one in use). */
  failed(base: string): void {
    if (this.o.bases.length < 2 || base !== this.chosen) return;
    this.probed.set(base, { ...this.probed.get(base), rttMs: undefined });
    void this.probe();
  }

  /** One probe round (single-flight), then the choice. */
  probe(): Promise<void> {
    this.round ??= (async () => {
      await Promise.all(this.o.bases.map((b) => this.probeOne(b)));
      this.choose();
    })().finally(() => (this.round = undefined));
    return this.round;
  }

  private async probeOne(base: string): Promise<void> {
    const started = performance.now();
    try {
      const res = await this.o.fetch(`${base}/v1/catalog/datacenters`, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      const list = (await res.json()) as unknown;
      const rttMs = performance.now() - started;
      const datacenter = Array.isArray(list) && typeof list[0] === 'string' ? list[0] : undefined;
      this.probed.set(base, { rttMs, ...(datacenter !== undefined ? { datacenter } : {}) });
    } catch {
      this.probed.set(base, { ...this.probed.get(base), rttMs: undefined });
    }
  }

  /** The nearest answering server at first; then keeps the one in use while it answers. */
  private choose(): void {
    if (this.settled && this.probed.get(this.chosen)?.rttMs !== undefined) return;
    let best: string | undefined;
    for (const b of this.o.bases) {
      const rtt = this.probed.get(b)?.rttMs;
      if (rtt !== undefined && (best === undefined || rtt < (this.probed.get(best)?.rttMs as number))) best = b;
    }
    if (best === undefined) return;
    this.settled = true;
    if (best === this.chosen) return;
    const from = this.chosen;
    this.chosen = best;
    this.o.logger.warn('upstream changed', {
      from,
      to: best,
      datacenter: this.probed.get(best)?.datacenter ?? 'unknown',
    });
  }
}
