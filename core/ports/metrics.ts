/**
 * Where core code records what it measures. A runtime backs it with its metrics library (servers:
 * prom-client, in one registry per process); the simulator and tests use NO_METRICS. Names follow
 * Prometheus conventions with the `konsul_` prefix (`_total` for counters, `_seconds` and `_bytes`
 * for units) and are listed in docs/OBSERVABILITY.md. Label values must come from small fixed sets
 * (a role, a method, a route template, a peer's name): never a key, a raw path or a token.
 */

/** Label name → value of one series. */
export type MetricLabels = Readonly<Record<string, string>>;

/** A count that only goes up. */
export interface CounterMetric {
  /** Adds `by` (default 1, >= 0) to the series with `labels`. */
  inc(labels?: MetricLabels, by?: number): void;
  /**
   * The series with `labels`, bound once: its inc() takes no labels and skips looking the series
   * up, for hot paths (keep the children of a fixed label set, e.g. in a Map).
   */
  labels(labels: MetricLabels): CounterMetric;
}

/** A value that goes up and down. */
export interface GaugeMetric {
  /** Sets the series with `labels` to `value`. */
  set(value: number, labels?: MetricLabels): void;
}

/** A distribution of observed values, counted in buckets. */
export interface HistogramMetric {
  /** Counts `value` (in the histogram's unit) in the series with `labels`. */
  observe(value: number, labels?: MetricLabels): void;
  /**
   * Starts timing on the runtime's monotonic high-resolution clock; the returned function counts
   * the seconds elapsed (in the series with the labels given at start and at end) and returns them.
   */
  startTimer(labels?: MetricLabels): (labels?: MetricLabels) => number;
  /** The series with `labels`, bound once (see CounterMetric.labels). */
  labels(labels: MetricLabels): HistogramMetric;
}

/** One series a collected gauge reports: its labels and value. */
export type GaugeSample = readonly [labels: MetricLabels, value: number];

/** Makes the instruments. Each name may be made once per Metrics; a second call returns the first. */
export interface Metrics {
  counter(name: string, help: string, labelNames?: readonly string[]): CounterMetric;
  /**
   * A gauge; with `collect`, its series are whatever `collect` returns each time metrics are
   * read (a number for a gauge without labels), so nothing needs updating on the hot path.
   */
  gauge(
    name: string,
    help: string,
    labelNames?: readonly string[],
    collect?: () => number | readonly GaugeSample[],
  ): GaugeMetric;
  /** A histogram with upper bucket bounds `buckets` (ascending, in the unit its name says). */
  histogram(name: string, help: string, buckets: readonly number[], labelNames?: readonly string[]): HistogramMetric;
  /**
   * Starts timing on the runtime's monotonic high-resolution clock; the returned function gives
   * the seconds elapsed (for a time whose series is known only at the end).
   */
  stopwatch(): () => number;
}

const noCounter: CounterMetric = { inc: () => undefined, labels: () => noCounter };
const noGauge: GaugeMetric = { set: () => undefined };
const noHistogram: HistogramMetric = {
  observe: () => undefined,
  startTimer: () => () => 0,
  labels: () => noHistogram,
};

/**
 * `make(labels)` kept per distinct `key` — for the children of a metric over a label set that is
 * small and fixed (methods × route templates × status classes), so a hot path builds one string
 * instead of having the library hash a labels object.
 */
export class MetricChildren<T> {
  private readonly children = new Map<string, T>();

  constructor(private readonly make: (labels: MetricLabels) => T) {}

  /** The child for `labels`, whose distinct values `key` names. */
  get(key: string, labels: () => MetricLabels): T {
    let child = this.children.get(key);
    if (child === undefined) this.children.set(key, (child = this.make(labels())));
    return child;
  }
}

/** Metrics that record nothing (the simulator, tests, and anything built without a registry). */
export const NO_METRICS: Metrics = {
  counter: () => noCounter,
  gauge: () => noGauge,
  histogram: () => noHistogram,
  stopwatch: () => () => 0,
};

/** Bucket bounds in seconds for latencies from 0.1 ms to 10 s (Raft commits, applies, requests). */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
