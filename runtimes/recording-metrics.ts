import type {
  CounterMetric,
  GaugeMetric,
  GaugeSample,
  HistogramMetric,
  MetricLabels,
  Metrics,
} from '../core/ports/metrics.js';

/*
 * The Metrics port kept in plain numbers, without loading prom-client: every instrument is a
 * custom metric prom-client reads through get(), registered into a registry whenever one is
 * attached (servers attach theirs at once; an edge agent only when it is first scraped, so it does
 * not load prom-client before anyone asks).
 */

/** A metric as prom-client reads a custom one: its series' labels and values. */
export interface MetricReading {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
}

/** One series of a FastCounter or FastHistogram: its labels (in label-name order) and figures. */
export interface Series {
  readonly labels: Record<string, string>;
  value: number;
  /** Histograms: observations per bucket (not cumulative), the last one +Inf. */
  readonly counts: Float64Array;
}

/**
 * A counter or histogram kept in plain numbers per series and registered with prom-client as a
 * custom metric (prom-client reads it through get(), as it reads its own): prom-client's own
 * observe() validates and hashes the labels on every call, even on a child bound to them, which
 * was most of what metrics cost per write. A series is looked up once per distinct labels (or
 * once for good through labels()).
 */
export class FastMetric {
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    private readonly labelNames: readonly string[],
    private readonly bounds: readonly number[] = [],
  ) {
    // Without labels the one series exists from the start, at 0, as prom-client's own do.
    if (labelNames.length === 0) this.seriesOf(undefined);
  }

  /** The series with `labels` (absent names are empty), made on first use. */
  seriesOf(labels?: MetricLabels): Series {
    const values = this.labelNames.map((n) => labels?.[n] ?? '');
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      for (const n of Object.keys(labels ?? {}))
        if (!this.labelNames.includes(n)) throw new Error(`metric ${this.name} has no label ${n}`);
      const named: Record<string, string> = {};
      this.labelNames.forEach((n, i) => {
        if (labels?.[n] !== undefined) named[n] = values[i] as string;
      });
      s = { labels: named, value: 0, counts: new Float64Array(this.type === 'histogram' ? this.bounds.length + 1 : 0) };
      this.series.set(key, s);
    }
    return s;
  }

  /** Counts `value` in series `s`: a counter adds it, a histogram puts it in its bucket. */
  add(s: Series, value: number): void {
    if (!Number.isFinite(value)) return;
    s.value += value;
    if (this.type === 'counter') return;
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    (s.counts as Float64Array)[i] = ((s.counts as Float64Array)[i] as number) + 1;
  }

  /** prom-client's view: a counter's value per series; a histogram's cumulative buckets, sum and count. */
  get(): MetricReading {
    const values: MetricReading['values'] = [];
    for (const s of this.series.values()) {
      if (this.type === 'counter') {
        values.push({ labels: s.labels, value: s.value });
        continue;
      }
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i] as number;
        const le = i < this.bounds.length ? (this.bounds[i] as number) : '+Inf';
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: s.labels, value: s.value, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: cumulative, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}

/** What a registry needs of a custom metric: prom-client calls get() when it collects. */
export interface CustomMetric {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: string;
  get(): MetricReading;
}

/** A gauge kept in plain numbers: values set per series, or whatever `collect` returns when read. */
class FastGauge implements CustomMetric {
  readonly type = 'gauge';
  readonly aggregator = 'sum';
  private readonly values = new Map<string, { labels: Record<string, string>; value: number }>();
  collect: (() => number | readonly GaugeSample[]) | undefined;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
  ) {}

  set(value: number, labels?: MetricLabels): void {
    for (const n of Object.keys(labels ?? {}))
      if (!this.labelNames.includes(n)) throw new Error(`metric ${this.name} has no label ${n}`);
    const named = { ...(labels ?? {}) };
    this.values.set(this.labelNames.map((n) => named[n] ?? '').join('\u0000'), { labels: named, value });
  }

  get(): ReturnType<CustomMetric['get']> {
    if (this.collect) {
      const read = this.collect();
      this.values.clear();
      if (typeof read === 'number') this.set(read);
      else for (const [labels, v] of read) this.set(v, labels);
    }
    const values = [...this.values.values()].map((v) => ({ labels: v.labels, value: v.value }));
    // Without labels, a gauge never set reads 0, as prom-client's own do.
    if (values.length === 0 && this.labelNames.length === 0) values.push({ labels: {}, value: 0 });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** A Metrics port and the metrics it made, for registering into a registry now or later. */
export interface RecordingMetrics {
  readonly port: Metrics;
  /** Registers every metric made so far, and every later one, with `registry`. */
  attach(registry: { registerMetric(metric: never): void }): void;
}

/**
 * The Metrics port in plain numbers (FastMetric counters and histograms, FastGauge gauges).
 * Making an instrument a second time returns the first (a gauge's `collect` is replaced by the
 * newest, so a component made again — a Raft driver after a restart of the cluster — reports
 * itself, not its predecessor).
 */
export function recordingMetrics(): RecordingMetrics {
  const made = new Map<string, { readonly metric: unknown; readonly custom: CustomMetric }>();
  let target: { registerMetric(metric: never): void } | undefined;
  const keep = <T>(name: string, custom: CustomMetric, metric: T): T => {
    made.set(name, { metric, custom });
    target?.registerMetric(custom as never);
    return metric;
  };
  const existing = <T>(name: string): T | undefined => made.get(name)?.metric as T | undefined;
  const counterOf = (m: FastMetric, bound?: Series): CounterMetric => ({
    inc: (labels, by = 1) =>
      m.add(bound && !labels ? bound : m.seriesOf(bound ? { ...bound.labels, ...labels } : labels), by),
    labels: (labels) => counterOf(m, m.seriesOf(bound ? { ...bound.labels, ...labels } : labels)),
  });
  const histogramOf = (m: FastMetric, bound?: Series): HistogramMetric => {
    const observe = (value: number, labels?: MetricLabels): void =>
      m.add(bound && !labels ? bound : m.seriesOf(bound ? { ...bound.labels, ...labels } : labels), value);
    return {
      observe,
      startTimer: (labels?: MetricLabels) => {
        const start = performance.now();
        return (more?: MetricLabels) => {
          const seconds = (performance.now() - start) / 1000;
          observe(seconds, labels && more ? { ...labels, ...more } : (labels ?? more));
          return seconds;
        };
      },
      labels: (labels) => histogramOf(m, m.seriesOf(bound ? { ...bound.labels, ...labels } : labels)),
    };
  };
  const port: Metrics = {
    stopwatch: () => {
      const start = performance.now();
      return () => (performance.now() - start) / 1000;
    },
    counter(name, help, labelNames = []): CounterMetric {
      const known = existing<CounterMetric>(name);
      if (known) return known;
      const m = new FastMetric(name, help, 'counter', labelNames);
      return keep(name, m as unknown as CustomMetric, counterOf(m));
    },
    gauge(name, help, labelNames = [], collect): GaugeMetric {
      const known = made.get(name);
      if (known) {
        if (collect) (known.custom as FastGauge).collect = collect;
        return known.metric as GaugeMetric;
      }
      const g = new FastGauge(name, help, labelNames);
      g.collect = collect;
      return keep<GaugeMetric>(name, g, { set: (value, labels) => g.set(value, labels) });
    },
    histogram(name, help, buckets, labelNames = []): HistogramMetric {
      const known = existing<HistogramMetric>(name);
      if (known) return known;
      const m = new FastMetric(name, help, 'histogram', labelNames, [...buckets]);
      return keep(name, m as unknown as CustomMetric, histogramOf(m));
    },
  };
  return {
    port,
    attach(registry) {
      target = registry;
      for (const { custom } of made.values()) registry.registerMetric(custom as never);
    },
  };
}
