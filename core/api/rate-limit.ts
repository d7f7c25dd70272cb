import type { Clock } from '../ports/clock.js';

/** Request rates allowed, per second (0: no limit), and how many may come at once. */
export interface RateLimitSettings {
  readonly perIp: number;
  readonly perToken: number;
  readonly burst: number;
}

/** No rate limits (the default: --rate-limit-ip and --rate-limit-token 0). */
export const NO_RATE_LIMITS: RateLimitSettings = { perIp: 0, perToken: 0, burst: 100 };

/** Most buckets kept; the least recently used goes first beyond it. */
const MAX_BUCKETS = 65_536;

/**
 * Token buckets by key: each holds up to `burst` requests and refills at `rate` per second. The
 * clock is injected (the simulator and tests drive it). Memory is bounded by `maxBuckets`; an
 * evicted key starts again with a full bucket.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly burst: number,
    private readonly maxBuckets = MAX_BUCKETS,
  ) {}

  /**
   * Takes one request from `key`'s bucket at `rate` per second. Returns 0 when allowed, otherwise
   * the seconds (rounded up, at least 1) until one will be.
   */
  take(key: string, rate: number): number {
    if (rate <= 0) return 0;
    const now = this.clock.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    this.buckets.delete(key);
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    let wait = 0;
    if (b.tokens >= 1) b.tokens -= 1;
    else wait = Math.max(1, Math.ceil((1 - b.tokens) / rate));
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value as string);
    return wait;
  }

  /** Buckets currently kept. */
  get size(): number {
    return this.buckets.size;
  }
}
