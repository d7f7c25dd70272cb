import type { LogFormat } from '../core/log/logger.js';
import type { LogLevel } from '../core/ports/logger.js';
import type { MqttProtocol } from '../core/sync/mqtt5.js';
import type { HostPort } from '../core/util/host-port.js';

/**
 * An address to listen on. `orFreePort` marks a --dev default rather than an address that was
 * asked for: when its port is taken, the server listens on a free port instead (and logs it).
 */
export interface ListenAddr extends HostPort {
  readonly orFreePort?: boolean;
}

/** The validated configuration of a server process. */
export interface ServerConfig {
  /** Konsul's version, as the binary reports it. */
  readonly version: string;
  readonly dev: boolean;
  readonly httpAddr: HostPort;
  readonly dataDir: string;
  /** Undefined: use the host name. */
  readonly nodeName: string | undefined;
  readonly datacenter: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly kvMaxValueBytes: number;
  readonly maxBlockingQueries: number;
  readonly maxPendingWrites: number;
  readonly txnMaxOps: number;
  readonly sessionTtlMinMs: number;
  readonly watchBuffer: number;
  readonly maxWatchStreams: number;
  /** Open HTTP connections before new ones get 503 (HTTP/1.1) or are closed (HTTP/2, TLS). */
  readonly maxHttpConnections: number;
  /** Concurrent streams per HTTP/2 connection (more are refused with REFUSED_STREAM). */
  readonly http2MaxStreams: number;
  readonly hotPaths: 'auto' | 'wasm' | 'ts';
  /** Raft transport address: --raft-addr, else 127.0.0.1:8300, or a free port with --dev (no peer looks for it). */
  readonly raftAddr: HostPort;
  readonly bootstrapExpect: number;
  readonly joins: readonly string[];
  /** HTTP addresses of other datacenters' servers to federate with (`--join-wan`); empty: no WAN. */
  readonly joinWan?: readonly string[];
  /** The datacenter holding the ACL data (`--primary-datacenter`; absent: this one). */
  readonly primaryDatacenter?: string;
  readonly joinToken: string | undefined;
  readonly raftTls: { cert: string; key: string; ca: string } | undefined;
  readonly snapshotThreshold: number;
  /** Least time between two compaction snapshots (ms; see RaftDriverOptions.snapshotIntervalMs). */
  readonly snapshotIntervalMs: number;
  readonly raftTickMs: number;
  /** Bytes of applied raft log entries kept in memory (RaftConfig.maxLogBytesInMemory). */
  readonly raftLogMemoryBytes: number;
  readonly testFaults: boolean;
  /**
   * A bug planted on purpose, to show a checker catches it (tests only, never set otherwise):
   * 'stale-consistent-reads' lets a follower answer reads without the ReadIndex round.
   */
  readonly testBug?: 'stale-consistent-reads';
  /**
   * Serve the chaos API (PUT/GET /v1/operator/chaos, DELETE /v1/operator/chaos/<id>; operator
   * ACLs): experiments that inject latency, loss and partitions on Raft links, pause the apply
   * loop or step down the leader. Absent or false: those routes answer 403.
   */
  readonly enableChaos?: boolean;
  readonly enableScriptChecks: boolean;
  /** Record no metrics through the Metrics port (the MQTT, audit and listener gauges stay). */
  readonly disableMetrics?: boolean;
  /** Milliseconds per insights bucket (default 10,000). */
  readonly insightsIntervalMs?: number;
  /** How long an edge agent or device may stay silent before the fleet table marks it offline (ms; default 30 s). */
  readonly edgeOfflineAfterMs?: number;
  /** Lifetime of the edge write grants this server signs (ms; default 24 h). */
  readonly edgeGrantTtlMs?: number;
  /** Fraction of HTTP requests logged as access lines (0..1; 0 or absent: none). */
  readonly accessLogSample?: number;
  /** OTLP/HTTP base URL traces are exported to (absent: no tracing, at no cost). */
  readonly otlpEndpoint?: string;
  /** Where the Web UI's built files are (served at /ui/); absent or missing: /ui/ says it is not built. */
  readonly uiDir?: string;
  /** The `service.name` of exported spans (OTEL_SERVICE_NAME; default konsul). */
  readonly otlpServiceName?: string;
  /** DNS address (undefined: none). */
  readonly dnsAddr: ListenAddr | undefined;
  /** Embedded MQTT broker address (undefined: none). */
  readonly mqttAddr: ListenAddr | undefined;
  /** External broker URL (undefined: none). */
  readonly mqttUrl: string | undefined;
  /**
   * MQTT version towards the external broker (`auto`: 5, and 3.1.1 when the broker refuses 5).
   * The embedded broker is always spoken to in 3.1.1 (ConfigError for `5` with it).
   */
  readonly mqttProtocol: MqttProtocol;
  /** Session Expiry Interval of an MQTT 5 connection to the external broker (seconds, 0..86,400). */
  readonly mqttSessionExpirySeconds: number;
  readonly mqttDeviceKeys: string | undefined;
  /** The key file of encrypted values (--encrypt-key-file; docs/SECRETS.md); undefined: values are stored as sent. */
  readonly encryptKeyFile?: string | undefined;
  /** KV prefixes whose values are encrypted (--encrypt-prefix); empty: every value. */
  readonly encryptPrefixes?: readonly string[];
  readonly dnsServiceTtl: number;
  readonly dnsNodeTtl: number;
  /** Most A/AAAA records in a DNS service answer (Consul's a_record_limit); 0: no limit. */
  readonly dnsARecordLimit: number;
  readonly acl: { readonly enabled: boolean; readonly defaultPolicy: 'allow' | 'deny' };
  readonly rateLimit: { readonly perIp: number; readonly perToken: number; readonly burst: number };
  readonly auditLog: string | undefined;
  /** HTTPS for the API: certificate and key files, and client verification against a CA. */
  readonly httpTls:
    | { readonly cert: string; readonly key: string; readonly ca: string | undefined; readonly verifyIncoming: boolean }
    | undefined;
}
