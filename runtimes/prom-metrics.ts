import client from 'prom-client';
import {
  type CounterMetric,
  type GaugeMetric,
  type GaugeSample,
  type HistogramMetric,
  type MetricLabels,
  type Metrics,
} from '../core/ports/metrics.js';

/*
 * The Metrics port over prom-client, shared by servers and edge agents (prom-client runs on Node,
 * Deno and Bun), and the reading of a registry in Consul's /v1/agent/metrics JSON shape.
 */

/** One series of a FastCounter or FastHistogram: its labels (in label-name order) and figures. */
interface Series {
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
class FastMetric {
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
  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
  } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }> = [];
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

/**
 * The Metrics port over a prom-client registry. Making an instrument a second time returns the
 * first (a gauge's `collect` is replaced by the newest, so a component made again — a Raft
 * driver after a restart of the cluster — reports itself, not its predecessor). Counters and
 * histograms are FastMetrics; gauges are prom-client's (they are read when collected).
 */
export function promMetrics(registry: client.Registry): Metrics {
  const made = new Map<string, { readonly metric: unknown; collect?: () => number | readonly GaugeSample[] }>();
  const existing = <T>(name: string): T | undefined => made.get(name)?.metric as T | undefined;
  const register = (m: FastMetric): void => registry.registerMetric(m as unknown as client.Metric);
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
  return {
    stopwatch: () => {
      const start = performance.now();
      return () => (performance.now() - start) / 1000;
    },
    counter(name, help, labelNames = []): CounterMetric {
      const known = existing<CounterMetric>(name);
      if (known) return known;
      const m = new FastMetric(name, help, 'counter', labelNames);
      register(m);
      const metric = counterOf(m);
      made.set(name, { metric });
      return metric;
    },
    gauge(name, help, labelNames = [], collect): GaugeMetric {
      const known = made.get(name);
      if (known) {
        if (collect) known.collect = collect;
        return known.metric as GaugeMetric;
      }
      const entry: { metric: GaugeMetric; collect?: () => number | readonly GaugeSample[] } = {
        metric: { set: () => undefined },
        ...(collect ? { collect } : {}),
      };
      const g = new client.Gauge({
        name,
        help,
        labelNames: [...labelNames],
        registers: [registry],
        ...(collect
          ? {
              collect(this: client.Gauge) {
                const read = entry.collect as () => number | readonly GaugeSample[];
                const value = read();
                if (typeof value === 'number') {
                  this.set(value);
                  return;
                }
                this.reset();
                for (const [labels, v] of value) this.set(labels as client.LabelValues<string>, v);
              },
            }
          : {}),
      });
      entry.metric = { set: (value, labels) => (labels ? g.set(labels, value) : g.set(value)) };
      made.set(name, entry);
      return entry.metric;
    },
    histogram(name, help, buckets, labelNames = []): HistogramMetric {
      const known = existing<HistogramMetric>(name);
      if (known) return known;
      const m = new FastMetric(name, help, 'histogram', labelNames, [...buckets]);
      register(m);
      const metric = histogramOf(m);
      made.set(name, { metric });
      return metric;
    },
  };
}

/**
 * The metrics in Consul's /v1/agent/metrics JSON shape: gauges under Gauges, counters under
 * Counters (Count and Sum: the total), histograms under Samples (Count, Sum and Mean of what was
 * observed since start, in the histogram's unit), each series with its Labels.
 */
export async function consulMetricsJson(registry: client.Registry): Promise<Record<string, unknown>> {
  type Labels = Record<string, string>;
  const labelsOf = (l: Record<string, unknown>): Labels =>
    Object.fromEntries(Object.entries(l).map(([k, x]) => [k, String(x)]));
  const counters: Array<{ Name: string; Count: number; Sum: number; Labels: Labels }> = [];
  const gauges: Array<{ Name: string; Value: number; Labels: Labels }> = [];
  const samples: Array<{ Name: string; Count: number; Sum: number; Mean: number; Labels: Labels }> = [];
  for (const m of await registry.getMetricsAsJSON()) {
    const type = m.type as unknown as string;
    if (type === 'gauge') {
      for (const v of m.values) gauges.push({ Name: m.name, Value: v.value, Labels: labelsOf(v.labels) });
    } else if (type === 'histogram') {
      const series = new Map<string, { Count: number; Sum: number; Labels: Labels }>();
      for (const v of m.values as Array<{ value: number; labels: Record<string, unknown>; metricName?: string }>) {
        const suffix = v.metricName?.slice(m.name.length);
        if (suffix !== '_sum' && suffix !== '_count') continue;
        const labels = labelsOf(v.labels);
        const key = JSON.stringify(labels);
        const one = series.get(key) ?? { Count: 0, Sum: 0, Labels: labels };
        if (suffix === '_sum') one.Sum = v.value;
        else one.Count = v.value;
        series.set(key, one);
      }
      for (const one of series.values())
        samples.push({ Name: m.name, ...one, Mean: one.Count === 0 ? 0 : one.Sum / one.Count });
    } else {
      for (const v of m.values)
        counters.push({ Name: m.name, Count: v.value, Sum: v.value, Labels: labelsOf(v.labels) });
    }
  }
  return { Timestamp: new Date().toISOString(), Gauges: gauges, Points: [], Counters: counters, Samples: samples };
}
