import client from 'prom-client';

/**
 * The server's counters, in a prom-client registry served at /v1/agent/metrics
 * (`?format=prometheus` for the text format; JSON in Consul's shape otherwise).
 */
export class ServerMetrics {
  readonly registry = new client.Registry();
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

  /** The JS heap in use (what the catalog held in memory costs shows here, not in LMDB's map). */
  readonly heapUsed = new client.Gauge({
    name: 'konsul_process_heap_used_bytes',
    help: 'V8 heap in use, bytes',
    registers: [this.registry],
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });

  /** The counters in Consul's /v1/agent/metrics JSON shape. */
  async json(): Promise<Record<string, unknown>> {
    const counters: Array<{ Name: string; Count: number; Labels: Record<string, string> }> = [];
    for (const m of await this.registry.getMetricsAsJSON()) {
      for (const v of m.values)
        counters.push({
          Name: m.name,
          Count: v.value,
          Labels: Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)])),
        });
    }
    return { Timestamp: new Date().toISOString(), Gauges: [], Points: [], Counters: counters, Samples: [] };
  }
}
