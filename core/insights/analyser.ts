/**
 * Insights: statistical, explainable findings over what a server sees — checks that flap, and a
 * write or error rate far from its own recent baseline. Every finding names its subject, the
 * figure, the baseline it departs from and the window, so an operator can check it by hand. Pure:
 * time comes from the Clock, and the owner calls tick() every `bucketMs`.
 */
import type { Clock } from '../ports/clock.js';

/** The kinds of finding. */
export const INSIGHT_KINDS = ['flapping_check', 'write_rate', 'error_rate'] as const;
export type InsightKind = (typeof INSIGHT_KINDS)[number];

/** One finding, in the shape GET /v1/operator/insights answers. */
export interface Finding {
  readonly Kind: InsightKind;
  /** What it is about: a check ("node/checkID"), or "writes" / "errors". */
  readonly Subject: string;
  /** The figure that stands out: status changes in the window, or a rate per second. */
  readonly Figure: number;
  /** What was expected: the flapping threshold, or the rate's moving average. */
  readonly Baseline: number;
  /** The rate's moving mean absolute deviation (rates only). */
  readonly Deviation?: number;
  /** The window the figure is over, as a Go duration ("10m0s", "10s"). */
  readonly Window: string;
  /** When the condition began (RFC 3339). */
  readonly Since: string;
  /** The finding in words. */
  readonly Message: string;
}

/** How the analyser decides; every field has a default. */
export interface InsightOptions {
  /** Status changes of one check within `windowMs` that make it flapping (default 4). */
  readonly flapChanges?: number;
  /** The window flapping is counted over (default 10 minutes). */
  readonly windowMs?: number;
  /** The bucket rates are measured over (default 10 s); tick() closes one. */
  readonly bucketMs?: number;
  /** A rate is anomalous beyond mean + k × deviation (default 4). */
  readonly k?: number;
  /** Weight of the newest bucket in the moving averages (default 0.1: about the last 10 buckets). */
  readonly alpha?: number;
  /** Buckets seen before rates are judged (default 12). */
  readonly warmupBuckets?: number;
  /** Rates below this (per second) are never anomalous (default 5). */
  readonly minRate?: number;
  /** Checks whose last status is remembered; beyond, the least recently changed are forgotten (default 100,000). */
  readonly maxChecks?: number;
}

interface CheckTrack {
  status: string;
  /** Times (clock ms) of its status changes within the window, oldest first (at most flapChanges × 4). */
  changes: number[];
}

interface RateTrack {
  count: number;
  mean: number;
  dev: number;
  buckets: number;
  /** The anomaly under way: when it began and the last figure. */
  anomaly: { since: number; figure: number; mean: number; dev: number } | undefined;
}

/** Go's duration text for whole milliseconds ("10m0s", "10s", "1h0m0s"). */
function goDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${m}m${sec}s`;
  if (m > 0) return `${m}m${sec}s`;
  return `${sec}s`;
}

/** See the module comment. */
export class InsightAnalyser {
  private readonly flapChanges: number;
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly k: number;
  private readonly alpha: number;
  private readonly warmup: number;
  private readonly minRate: number;
  private readonly maxChecks: number;
  private readonly checks = new Map<string, CheckTrack>();
  private readonly rates: Record<'write_rate' | 'error_rate', RateTrack> = {
    write_rate: { count: 0, mean: 0, dev: 0, buckets: 0, anomaly: undefined },
    error_rate: { count: 0, mean: 0, dev: 0, buckets: 0, anomaly: undefined },
  };

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    o: InsightOptions = {},
  ) {
    this.flapChanges = o.flapChanges ?? 4;
    this.windowMs = o.windowMs ?? 10 * 60_000;
    this.bucketMs = o.bucketMs ?? 10_000;
    this.k = o.k ?? 4;
    this.alpha = o.alpha ?? 0.1;
    this.warmup = o.warmupBuckets ?? 12;
    this.minRate = o.minRate ?? 5;
    this.maxChecks = o.maxChecks ?? 100_000;
  }

  /** A check's status as applied (every server applies the same); a change from its last one counts. */
  checkStatus(subject: string, status: string): void {
    const now = this.clock.now();
    const t = this.checks.get(subject);
    if (!t) {
      if (this.checks.size >= this.maxChecks) this.checks.delete(this.checks.keys().next().value as string);
      this.checks.set(subject, { status, changes: [] });
      return;
    }
    if (t.status === status) return;
    t.status = status;
    t.changes.push(now);
    this.trim(t, now);
    // Most recently changed last: the first ones are those forgotten first.
    this.checks.delete(subject);
    this.checks.set(subject, t);
  }

  /** A check was deregistered: it is forgotten. */
  checkRemoved(subject: string): void {
    this.checks.delete(subject);
  }

  /** `n` writes were applied. */
  writes(n: number): void {
    this.rates.write_rate.count += n;
  }

  /** `n` API requests failed on the server's side (5xx, 429). */
  errors(n: number): void {
    this.rates.error_rate.count += n;
  }

  /** Closes the current bucket: judges each rate against its baseline, then folds it in. */
  tick(): void {
    const now = this.clock.now();
    for (const track of Object.values(this.rates)) {
      const rate = track.count / (this.bucketMs / 1000);
      track.count = 0;
      const limit = track.mean + this.k * Math.max(track.dev, track.mean * 0.1, 1);
      const anomalous = track.buckets >= this.warmup && rate >= this.minRate && rate > limit;
      if (anomalous)
        track.anomaly = { since: track.anomaly?.since ?? now, figure: rate, mean: track.mean, dev: track.dev };
      else track.anomaly = undefined;
      // An anomalous bucket still moves the baseline, more slowly: a lasting change becomes normal.
      const a = anomalous ? this.alpha / 4 : this.alpha;
      if (track.buckets === 0) track.mean = rate;
      track.dev = (1 - a) * track.dev + a * Math.abs(rate - track.mean);
      track.mean = (1 - a) * track.mean + a * rate;
      track.buckets++;
    }
  }

  /** The findings now: flapping checks, then rate anomalies. */
  findings(): Finding[] {
    const now = this.clock.now();
    const out: Finding[] = [];
    const window = goDuration(this.windowMs);
    for (const [subject, t] of this.checks) {
      this.trim(t, now);
      if (t.changes.length < this.flapChanges) continue;
      out.push({
        Kind: 'flapping_check',
        Subject: subject,
        Figure: t.changes.length,
        Baseline: this.flapChanges,
        Window: window,
        Since: new Date(t.changes[0] as number).toISOString(),
        Message:
          `check ${subject} changed status ${t.changes.length} times in ${window} ` +
          `(flapping from ${this.flapChanges}); now ${t.status}`,
      });
    }
    for (const kind of ['write_rate', 'error_rate'] as const) {
      const a = this.rates[kind].anomaly;
      if (!a) continue;
      const what = kind === 'write_rate' ? 'writes' : 'errors';
      const bucket = goDuration(this.bucketMs);
      out.push({
        Kind: kind,
        Subject: what,
        Figure: round(a.figure),
        Baseline: round(a.mean),
        Deviation: round(a.dev),
        Window: bucket,
        Since: new Date(a.since).toISOString(),
        Message:
          `${what} ran at ${round(a.figure)}/s over the last ${bucket}, against a moving average of ` +
          `${round(a.mean)}/s (mean deviation ${round(a.dev)}/s)`,
      });
    }
    return out;
  }

  /** How many findings of each kind there are now (for the gauges). */
  counts(): Record<InsightKind, number> {
    const counts: Record<InsightKind, number> = { flapping_check: 0, write_rate: 0, error_rate: 0 };
    for (const f of this.findings()) counts[f.Kind]++;
    return counts;
  }

  private trim(t: CheckTrack, now: number): void {
    const from = now - this.windowMs;
    let drop = 0;
    while (drop < t.changes.length && (t.changes[drop] as number) < from) drop++;
    // Bounded: more than four times the threshold says nothing more.
    drop = Math.max(drop, t.changes.length - this.flapChanges * 4);
    if (drop > 0) t.changes.splice(0, drop);
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;
