import client from 'prom-client';
import type { Metrics } from '../core/ports/metrics.js';
import { recordingMetrics } from './recording-metrics.js';

/*
 * The Metrics port over prom-client, shared by servers and edge agents (prom-client runs on Node,
 * Deno and Bun), and the reading of a registry in Consul's /v1/agent/metrics JSON shape.
 */

/**
 * The Metrics port over a prom-client registry: instruments kept in plain numbers
 * (recording-metrics.ts; prom-client's own observe() validates and hashes labels on every call)
 * and registered with `registry` as custom metrics. Making an instrument a second time returns
 * the first.
 */
export function promMetrics(registry: client.Registry): Metrics {
  const m = recordingMetrics();
  m.attach(registry as unknown as { registerMetric(metric: never): void });
  return m.port;
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
