/**
 * Insights: statistical, explainable findings over what a server sees — checks that flap, a
 * check whose probe time departs from its own baseline, a write or error rate far from its own
 * recent baseline, and an edge agent whose lag keeps growing. Every finding names its subject, the
 * figure, the baseline it departs from and the window, so an operator can check it by hand. Pure:
 * time comes from the Clock, and the owner calls tick() every `bucketMs`.
 */
import type { Clock } from '../ports/clock.js';

/** The kinds of finding. */
export const INSIGHT_KINDS = ['flapping_check', 'check_latency', 'write_rate', 'error_rate', 'edge_lag'] as const;
export type InsightKind = (typeof INSIGHT_KINDS)[number];

/**
 * The kinds a server finds from what only it sees (the checks its agent probes, the requests it
 * answers, the agents syncing from it); the others come from the replicated log, the same on
 * every server.
 */
export const LOCAL_INSIGHT_KINDS: ReadonlySet<InsightKind> = new Set(['check_latency', 'error_rate', 'edge_lag']);

/** One finding, in the shape GET /v1/operator/insights answers. */
export interface Finding {
  readonly Kind: InsightKind;
  /** What it is about: a check ("node/checkID"), "writes" / "errors", or an edge agent's id. */
  readonly Subject: string;
  /**
   * The figure that stands out: status changes in the window, a probe time (seconds), a rate per
   * second, or an agent's lag (changes its sync stream has not read).
   */
  readonly Figure: number;
  /**
   * What was expected: the flapping threshold, the probe time's or rate's moving average, or the
   * agent's lag at the start of the window.
   */
  readonly Baseline: number;
  /** The moving mean absolute deviation (probe times and rates). */
  readonly Deviation?: number;
  /** The window the figure is over, as a Go duration ("10m0s", "10s"). */
  readonly Window: string;
  /** When the condition began (RFC 3339). */
  readonly Since: string;
  /** The finding in words. */
  readonly Message: string;
  /** The server that found it, for the kinds only the server sees (LOCAL_INSIGHT_KINDS). */
  readonly Server?: string;
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
  /** Probes of a check seen before its probe time is judged (default 10). */
  readonly latencyWarmup?: number;
  /** Probe times below this (seconds) are never anomalous (default 0.05). */
  readonly minLatency?: number;
  /** Anomalous probes in a row that make a finding (default 2: one slow probe is not one). */
  readonly latencyConfirm?: number;
  /** Lag samples (one per tick) an agent's lag is judged over (default 6: a minute at 10 s buckets). */
  readonly edgeLagSamples?: number;
  /** Lags below this (changes) are never a finding (default 1,000). */
  readonly minEdgeLag?: number;
  /** Agents tracked at most; beyond, the first seen are forgotten (default 10,000). */
  readonly maxAgents?: number;
}

interface CheckTrack {
  status: string;
  /** Times (clock ms) of its status changes within the window, oldest first (at most flapChanges × 4). */
  changes: number[];
}

interface LatencyTrack {
  mean: number;
  dev: number;
  probes: number;
  /** Anomalous probes in a row, and when the first of them came. */
  over: number;
  overSince: number;
  intervalMs: number;
  anomaly: { since: number; figure: number; mean: number; dev: number } | undefined;
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
  private readonly latencyWarmup: number;
  private readonly minLatency: number;
  private readonly latencyConfirm: number;
  private readonly edgeLagSamples: number;
  private readonly minEdgeLag: number;
  private readonly maxAgents: number;
  private readonly checks = new Map<string, CheckTrack>();
  private readonly latencies = new Map<string, LatencyTrack>();
  /** Per agent, its lag at each of the last edgeLagSamples ticks, oldest first. */
  private readonly lags = new Map<string, number[]>();
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
    this.latencyWarmup = o.latencyWarmup ?? 10;
    this.minLatency = o.minLatency ?? 0.05;
    this.latencyConfirm = o.latencyConfirm ?? 2;
    this.edgeLagSamples = Math.max(2, o.edgeLagSamples ?? 6);
    this.minEdgeLag = o.minEdgeLag ?? 1000;
    this.maxAgents = o.maxAgents ?? 10_000;
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
    this.latencies.delete(subject);
  }

  /**
   * A probe of check `subject` (run every `intervalMs`) took `seconds`: judged against the check's
   * own moving average and mean absolute deviation, then folded in (more slowly when anomalous).
   */
  checkLatency(subject: string, seconds: number, intervalMs: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    const now = this.clock.now();
    let t = this.latencies.get(subject);
    if (!t) {
      if (this.latencies.size >= this.maxChecks) this.latencies.delete(this.latencies.keys().next().value as string);
      t = { mean: seconds, dev: 0, probes: 0, over: 0, overSince: now, intervalMs, anomaly: undefined };
      this.latencies.set(subject, t);
    }
    t.intervalMs = intervalMs;
    const limit = t.mean + this.k * Math.max(t.dev, t.mean * 0.1, 0.001);
    const anomalous = t.probes >= this.latencyWarmup && seconds >= this.minLatency && seconds > limit;
    if (anomalous) {
      if (t.over === 0) t.overSince = now;
      t.over++;
      if (t.over >= this.latencyConfirm)
        t.anomaly = { since: t.anomaly?.since ?? t.overSince, figure: seconds, mean: t.mean, dev: t.dev };
    } else {
      t.over = 0;
      t.anomaly = undefined;
    }
    const a = anomalous ? this.alpha / 4 : this.alpha;
    t.dev = (1 - a) * t.dev + a * Math.abs(seconds - t.mean);
    t.mean = (1 - a) * t.mean + a * seconds;
    t.probes++;
  }

  /**
   * An edge agent syncing from this server is `lag` changes behind the newest (those of the change
   * feed its stream has not read; sample it once per tick); a lag that rises over the last
   * edgeLagSamples samples, never below where it started, to minEdgeLag or more, is a finding.
   */
  edgeLag(agent: string, lag: number): void {
    let samples = this.lags.get(agent);
    if (!samples) {
      if (this.lags.size >= this.maxAgents) this.lags.delete(this.lags.keys().next().value as string);
      samples = [];
      this.lags.set(agent, samples);
    }
    samples.push(Math.max(0, lag));
    if (samples.length > this.edgeLagSamples) samples.shift();
  }

  /** An edge agent stopped syncing from this server: it is forgotten. */
  edgeGone(agent: string): void {
    this.lags.delete(agent);
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

  /** The findings now: flapping checks, slow probes, rate anomalies, then growing edge lags. */
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
    for (const [subject, t] of this.latencies) {
      const a = t.anomaly;
      if (!a) continue;
      const interval = goDuration(t.intervalMs);
      out.push({
        Kind: 'check_latency',
        Subject: subject,
        Figure: round3(a.figure),
        Baseline: round3(a.mean),
        Deviation: round3(a.dev),
        Window: interval,
        Since: new Date(a.since).toISOString(),
        Message:
          `check ${subject} took ${ms(a.figure)} on its last ${t.over} probes (every ${interval}), against a ` +
          `moving average of ${ms(a.mean)} (mean deviation ${ms(a.dev)})`,
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
    const lagWindow = goDuration(this.bucketMs * (this.edgeLagSamples - 1));
    for (const [agent, samples] of this.lags) {
      if (samples.length < this.edgeLagSamples) continue;
      const first = samples[0] as number;
      const last = samples[samples.length - 1] as number;
      if (last < this.minEdgeLag || last <= first || samples.some((x) => x < first)) continue;
      out.push({
        Kind: 'edge_lag',
        Subject: agent,
        Figure: last,
        Baseline: first,
        Window: lagWindow,
        Since: new Date(now - this.bucketMs * (this.edgeLagSamples - 1)).toISOString(),
        Message:
          `edge agent ${agent} is ${last} changes behind, up from ${first} over the last ${lagWindow} ` +
          `(a finding from ${this.minEdgeLag})`,
      });
    }
    return out;
  }

  /** How many findings of each kind there are now (for the gauges). */
  counts(): Record<InsightKind, number> {
    const counts = Object.fromEntries(INSIGHT_KINDS.map((k) => [k, 0])) as Record<InsightKind, number>;
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
const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const ms = (seconds: number): string => `${Math.round(seconds * 10_000) / 10}ms`;
