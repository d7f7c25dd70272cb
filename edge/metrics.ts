import type { MetricsPort } from '../core/api/internal-ports.js';
import type { Registry } from 'prom-client';
import type { Metrics } from '../core/ports/metrics.js';
import { recordingMetrics } from '../runtimes/recording-metrics.js';

/** What the agent's gauges read each time metrics are collected. */
export interface EdgeMetricSource {
  /** Whether the agent counts itself online (sync link up, recent message, no failed write just now). */
  online(): boolean;
  /** The replica's last applied index. */
  replicaIndex(): number;
  /** The highest index the servers have shown this agent (sync messages and write answers); 0: none yet. */
  serverIndex(): number;
  /** Milliseconds since the last sync message (since start while none came). */
  lastContactMs(): number;
  /** Queued writes waiting for the servers. */
  outboxPending(): number;
  /** Outbox items kept (pending ones and the newest finished ones). */
  outboxKept(): number;
  /** Resident set size of the process in bytes (0 where the runtime cannot tell). */
  rss(): number;
}

/** The agent's registry: the Metrics port its components count in, and the reading for /v1/agent/metrics. */
export interface EdgeMetrics {
  readonly port: Metrics;
  readonly reader: MetricsPort;
}

/**
 * Makes the agent's metrics: the Metrics port its components count in (plain numbers, see
 * runtimes/recording-metrics.ts) with the agent's gauges — link state, replica index, the
 * servers' index and the lag between them, time since the last sync message, outbox depth, RSS.
 * prom-client is loaded only when /v1/agent/metrics is first read: then the registry is made, the
 * process metrics start (so event-loop and GC figures count from that moment), and everything
 * counted so far is registered with it. Counters (replay outcomes, sync reconnects, sync messages)
 * are made by the components through `port`. Names are listed in docs/OBSERVABILITY.md.
 */
export function createEdgeMetrics(source: EdgeMetricSource): EdgeMetrics {
  const recording = recordingMetrics();
  const port = recording.port;
  port.gauge(
    'konsul_edge_link_up',
    'Whether the agent is online: its sync link is up and recently heard (1) or not (0)',
    [],
    () => (source.online() ? 1 : 0),
  );
  port.gauge('konsul_edge_replica_index', "The replica's last applied Raft index", [], () => source.replicaIndex());
  port.gauge(
    'konsul_edge_server_index',
    'The highest Raft index the servers have shown this agent (sync messages and write answers)',
    [],
    () => source.serverIndex(),
  );
  port.gauge(
    'konsul_edge_replica_lag_index',
    'How many Raft indexes the replica is behind the highest index the servers have shown (0: caught up)',
    [],
    () => Math.max(0, source.serverIndex() - source.replicaIndex()),
  );
  port.gauge(
    'konsul_edge_last_contact_seconds',
    'Seconds since the last sync message from the servers (since start while none came)',
    [],
    () => source.lastContactMs() / 1000,
  );
  port.gauge('konsul_edge_outbox_pending', 'Writes queued while offline and not yet replayed', [], () =>
    source.outboxPending(),
  );
  port.gauge('konsul_edge_outbox_kept', 'Outbox items kept: pending ones and the newest finished ones', [], () =>
    source.outboxKept(),
  );
  port.gauge(
    'konsul_process_rss_bytes',
    'Resident set size of the agent process (0: the runtime cannot tell)',
    [],
    () => source.rss(),
  );
  let loading: Promise<{ registry: Registry; json: (r: Registry) => Promise<Record<string, unknown>> }> | undefined;
  const registry = () =>
    (loading ??= (async () => {
      const [{ default: client }, { consulMetricsJson }] = await Promise.all([
        import('prom-client'),
        import('../runtimes/prom-metrics.js'),
      ]);
      const r = new client.Registry();
      client.collectDefaultMetrics({ register: r, prefix: 'konsul_' });
      recording.attach(r as unknown as { registerMetric(metric: never): void });
      return { registry: r, json: consulMetricsJson };
    })());
  return {
    port,
    reader: {
      prometheus: async () => {
        const { registry: r } = await registry();
        return { body: await r.metrics(), contentType: r.contentType };
      },
      json: async () => {
        const { registry: r, json } = await registry();
        return json(r);
      },
    },
  };
}
