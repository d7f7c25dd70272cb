import client from 'prom-client';
import { type Metrics, NO_METRICS } from '../core/ports/metrics.js';
import { consulMetricsJson, promMetrics } from '../runtimes/prom-metrics.js';
import type { HttpListenerStats } from '../runtimes/node/http-server.js';

/** Where the state gauges read their values (each read when metrics are collected). */
export interface StateSource {
  /** Rows held in memory per cached table (CachedTablesStore.cachedSizes). */
  cachedSizes(): Record<string, number>;
  /** Distinct service names with instances. */
  serviceNames(): number;
  /** Rows committed to LMDB of an uncached table. */
  committedRows(table: string): number;
  /** The change feed: retained changes and their estimated bytes, and changes dropped since start. */
  feed(): { readonly size: number; readonly retainedBytes: number; readonly dropped: number };
}

/** Where the waiter gauges read their values. */
export interface WaiterSource {
  blockingQueries(): number;
  /** Blocking queries allowed at once (--max-blocking-queries). */
  blockingQueryLimit(): number;
  /** Blocking-query watchers woken since start. */
  blockingQueryWakeups(): number;
  watchStreams(): number;
  /** Watch-stream wake-ups since start. */
  watchStreamWakeups(): number;
  http(): HttpListenerStats;
}

/**
 * The server's counters, in a prom-client registry served at /v1/agent/metrics
 * (`?format=prometheus` for the text format; JSON in Consul's shape otherwise).
 */
export class ServerMetrics {
  readonly registry = new client.Registry();
  /** The Metrics port over `registry`, for core components (Raft, the API); NO_METRICS when disabled. */
  readonly port: Metrics;

  /** With `disabled`, the port records nothing (to measure what metrics cost). */
  constructor(disabled = false) {
    this.port = disabled ? NO_METRICS : promMetrics(this.registry);
  }

  /** Starts prom-client's process, garbage-collector and event-loop metrics (konsul_ prefix). Call once. */
  collectDefaults(): void {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'konsul_' });
  }
  /**
   * MQTT messages refused, by reason (malformed, unsigned, unknown-key, bad-signature, expired,
   * unauthorized, overloaded).
   */
  readonly mqttRejected = new client.Counter({
    name: 'konsul_mqtt_rejected_total',
    help: 'MQTT device messages refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** Device writes applied (result true), refused by a failed condition (false), or replayed. */
  readonly mqttWrites = new client.Counter({
    name: 'konsul_mqtt_device_writes_total',
    help: 'MQTT device writes, by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly mqttHeartbeats = new client.Counter({
    name: 'konsul_mqtt_heartbeats_total',
    help: 'MQTT TTL-check heartbeats applied',
    registers: [this.registry],
  });
  readonly mqttTtlExpired = new client.Counter({
    name: 'konsul_mqtt_heartbeat_ttl_expired_total',
    help: 'MQTT-fed checks marked critical after their TTL',
    registers: [this.registry],
  });
  readonly mqttSyncRequests = new client.Counter({
    name: 'konsul_mqtt_sync_requests_total',
    help: 'Replica sync requests answered over MQTT, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  /** Audit records dropped (queue full or the file not writable). */
  readonly auditDropped = new client.Counter({
    name: 'konsul_audit_dropped_total',
    help: 'Audit records dropped because the queue was full or the file could not be written',
    registers: [this.registry],
  });
  readonly mqttBatches = new client.Counter({
    name: 'konsul_mqtt_batches_published_total',
    help: 'Change batches published on the changes topic',
    registers: [this.registry],
  });

  /** Registers a gauge whose value `read` gives each time metrics are collected. */
  private gauge(name: string, help: string, read: () => number): void {
    new client.Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /**
   * Registers the raft transport's counters, read when metrics are collected: requests this
   * server forwarded to the leader over it and got answered. Call once.
   */
  observeTransport(stats: () => { forwarded: number }): void {
    this.gauge(
      'konsul_raft_forwarded_requests',
      'API requests forwarded to the leader over the raft transport and answered, since start',
      () => stats().forwarded,
    );
  }

  /**
   * Registers the Raft log's gauges, read when metrics are collected: bytes and entries of the
   * log held in memory (the rest is read back from the WAL). Call once.
   */
  observeRaftLog(inMemory: () => { bytes: number; entries: number }): void {
    this.gauge(
      'konsul_raft_log_memory_bytes',
      'Bytes of Raft log entries held in memory (older ones are read back from the WAL)',
      () => inMemory().bytes,
    );
    this.gauge('konsul_raft_log_memory_entries', 'Raft log entries held in memory', () => inMemory().entries);
  }

  /**
   * Registers the state's gauges, read when metrics are collected: catalog nodes, instances,
   * checks and service names (from memory), KV entries and sessions (committed to LMDB), and the
   * change feed's depth, bytes and drops. Call once.
   */
  observeState(
    source: StateSource,
    tables: {
      readonly kv: string;
      readonly sessions: string;
      readonly catalog: { readonly nodes: string; readonly services: string; readonly checks: string };
    },
  ): void {
    this.gauge('konsul_catalog_nodes', 'Registered nodes', () => source.cachedSizes()[tables.catalog.nodes] ?? 0);
    this.gauge(
      'konsul_catalog_service_instances',
      'Registered service instances',
      () => source.cachedSizes()[tables.catalog.services] ?? 0,
    );
    this.gauge(
      'konsul_catalog_checks',
      'Registered health checks',
      () => source.cachedSizes()[tables.catalog.checks] ?? 0,
    );
    this.gauge('konsul_catalog_services', 'Distinct service names with instances', () => source.serviceNames());
    this.gauge(
      'konsul_kv_entries',
      'KV entries committed to LMDB (behind by konsul_state_uncommitted_changes at most)',
      () => source.committedRows(tables.kv),
    );
    this.gauge(
      'konsul_sessions',
      'Sessions committed to LMDB (behind by konsul_state_uncommitted_changes at most)',
      () => source.committedRows(tables.sessions),
    );
    this.gauge('konsul_change_feed_events', 'Changes the watch-stream feed retains', () => source.feed().size);
    this.gauge(
      'konsul_change_feed_bytes',
      'Estimated bytes of the changes the watch-stream feed retains',
      () => source.feed().retainedBytes,
    );
    this.gauge(
      'konsul_change_feed_dropped',
      'Changes dropped from the watch-stream feed since start (evicted past its bounds or cleared by a snapshot)',
      () => source.feed().dropped,
    );
  }

  /**
   * Registers the state store's gauge, read when metrics are collected: changes applied in
   * memory and not yet committed to LMDB. Call once.
   */
  observeStore(uncommitted: () => number): void {
    this.gauge(
      'konsul_state_uncommitted_changes',
      'State changes applied in memory and not yet committed to LMDB (the WAL holds them)',
      uncommitted,
    );
  }

  /**
   * Registers gauges read when metrics are collected: waiting blocking queries, open watch
   * streams, the HTTP listener's connections, HTTP/2 sessions and streams, refused connections,
   * and the process's memory (RSS, heap) with the heap per waiting query or stream. Call once.
   */
  observeWaiters(source: WaiterSource): void {
    const gauge = (name: string, help: string, read: () => number): void => this.gauge(name, help, read);
    gauge('konsul_blocking_queries_waiting', 'Blocking queries (index or hash) waiting for a change', () =>
      source.blockingQueries(),
    );
    gauge('konsul_blocking_queries_limit', 'Blocking queries allowed at once (--max-blocking-queries)', () =>
      source.blockingQueryLimit(),
    );
    gauge('konsul_blocking_query_wakeups', 'Blocking-query watchers woken by a matching change since start', () =>
      source.blockingQueryWakeups(),
    );
    gauge('konsul_watch_stream_wakeups', 'Waiting watch streams woken by a matching change since start', () =>
      source.watchStreamWakeups(),
    );
    gauge('konsul_watch_streams_open', 'Open /v1/watch SSE streams', () => source.watchStreams());
    gauge(
      'konsul_http_connections_open',
      'Open HTTP connections (HTTP/1.1 and HTTP/2)',
      () => source.http().connections,
    );
    gauge('konsul_http2_sessions_open', 'Open HTTP/2 sessions', () => source.http().http2Sessions);
    gauge('konsul_http2_streams_open', 'HTTP/2 streams in flight', () => source.http().http2Streams);
    gauge(
      'konsul_http_connections_refused',
      'HTTP connections refused at --max-http-connections since start',
      () => source.http().refusedConnections,
    );
    gauge(
      'konsul_http_accept_errors',
      'Failed accepts (EMFILE: out of file descriptors) since start',
      () => source.http().acceptErrors,
    );
    gauge('konsul_process_rss_bytes', 'Resident set size of the server process', () => process.memoryUsage.rss());
    gauge('konsul_process_heap_used_bytes', 'V8 heap in use', () => process.memoryUsage().heapUsed);
    gauge(
      'konsul_process_heap_total_bytes',
      'V8 heap reserved (in use and free)',
      () => process.memoryUsage().heapTotal,
    );
    gauge(
      'konsul_process_external_bytes',
      'Memory of native objects V8 tracks outside its heap (ArrayBuffers and Buffers among them)',
      () => process.memoryUsage().external,
    );
    gauge(
      'konsul_process_array_buffers_bytes',
      'Memory of ArrayBuffers and Buffers',
      () => process.memoryUsage().arrayBuffers,
    );
    gauge(
      'konsul_heap_bytes_per_waiter',
      'V8 heap in use divided by waiting queries and open streams (0: none)',
      () => {
        const n = source.blockingQueries() + source.watchStreams();
        return n === 0 ? 0 : Math.round(process.memoryUsage().heapUsed / n);
      },
    );
  }

  /** The metrics in Consul's /v1/agent/metrics JSON shape (see consulMetricsJson). */
  json(): Promise<Record<string, unknown>> {
    return consulMetricsJson(this.registry);
  }
}
