import { DEFAULT_API_LIMITS } from '../core/api/context.js';
import { MAX_A_RECORD_LIMIT } from '../core/dns/resolver.js';
import { ConfigError } from '../core/errors.js';
import type { LogFormat } from '../core/log/logger.js';
import { LOG_LEVELS, type LogLevel } from '../core/ports/logger.js';
import { type HostPort, parseHostPort } from '../core/util/host-port.js';
import {
  DEFAULT_SESSION_EXPIRY_SECONDS,
  MAX_SESSION_EXPIRY_SECONDS,
  MQTT_PROTOCOLS,
  type MqttProtocol,
} from '../core/sync/mqtt5.js';
import type { ServerConfig } from '../server/config.js';
import type { OptionSpec, OptionValues } from './options.js';
import { VERSION } from './version.js';
import { DEFAULT_HTTP_LIMITS } from '../runtimes/node/http-server.js';

/** Options of `konsul server`. */
export const SERVER_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'dev',
    kind: { type: 'boolean' },
    describe: 'single-node development server with embedded defaults',
    default: false,
  },
  { name: 'config', kind: { type: 'string' }, describe: 'JSON config file (keys are flag names in snake_case)' },
  {
    name: 'http-addr',
    kind: { type: 'addr' },
    describe: 'HTTP API listen address HOST:PORT (port 0 picks a free port)',
    default: '127.0.0.1:8500',
  },
  {
    name: 'data-dir',
    kind: { type: 'string' },
    describe: 'directory for persistent state (LMDB)',
    default: './.konsul',
  },
  {
    name: 'raft-addr',
    kind: { type: 'addr' },
    describe: 'address other servers reach this one at, HOST:PORT (default 127.0.0.1:8300; with --dev: a free port)',
  },
  {
    name: 'bootstrap-expect',
    kind: { type: 'int', min: 0, max: 7 },
    describe: 'servers to gather before bootstrapping a new cluster (0: join an existing one; --dev: 1)',
    default: 0,
  },
  {
    name: 'join',
    kind: { type: 'list', item: 'addr' },
    describe: "another server's raft address to join (repeatable; retried)",
    default: [],
  },
  {
    name: 'join-wan',
    kind: { type: 'list', item: 'addr' },
    describe: 'a server of another datacenter to federate with: its HTTP address (repeatable; pinged until it answers)',
    default: [],
  },
  {
    name: 'primary-datacenter',
    kind: {
      type: 'string',
      pattern: /^[a-z0-9][a-z0-9_-]{0,62}$/,
      patternHint: 'must be 1-63 lower-case letters, digits, "-" or "_"',
    },
    describe:
      'the datacenter that holds the ACL data (default: this one); the others replicate it and send ACL writes there',
  },
  {
    name: 'join-token',
    kind: { type: 'string' },
    describe: 'shared secret servers must present to join, and to federate (WAN pings)',
  },
  {
    name: 'tls-cert',
    kind: { type: 'string' },
    describe: 'PEM certificate for the HTTP API (HTTPS; needs --tls-key); reloaded on SIGHUP',
  },
  { name: 'tls-key', kind: { type: 'string' }, describe: 'PEM private key for the HTTP API certificate' },
  {
    name: 'tls-ca',
    kind: { type: 'string' },
    describe: 'PEM CA bundle that client certificates must chain to (with --tls-verify-incoming)',
  },
  {
    name: 'tls-verify-incoming',
    kind: { type: 'boolean' },
    describe: 'require HTTPS clients to present a certificate signed by --tls-ca',
    default: false,
  },
  { name: 'raft-tls-cert', kind: { type: 'string' }, describe: 'PEM certificate for raft TLS (needs key and CA)' },
  { name: 'raft-tls-key', kind: { type: 'string' }, describe: 'PEM private key for raft TLS' },
  { name: 'raft-tls-ca', kind: { type: 'string' }, describe: 'PEM CA that signs every server certificate' },
  {
    name: 'snapshot-threshold',
    kind: { type: 'int', min: 16, max: 10_000_000 },
    describe: 'applied log entries that trigger a snapshot and log compaction (Consul: raft_snapshot_threshold)',
    default: 16_384,
  },
  {
    name: 'snapshot-interval',
    kind: { type: 'int', min: 0, max: 86_400 },
    describe:
      'least seconds between two snapshots, unless the log grows to 8 times the threshold ' +
      '(Consul: raft_snapshot_interval; 0: none)',
    default: 30,
  },
  {
    name: 'raft-log-memory',
    kind: { type: 'int', min: 1, max: 4_194_304 },
    describe:
      'KiB of applied raft log entries kept in memory; older ones are read back from the WAL ' +
      'when a follower needs them',
    default: 8192,
  },
  {
    name: 'raft-tick-ms',
    kind: { type: 'int', min: 5, max: 1000 },
    describe: 'raft tick (election timeout is 10-20 ticks)',
    default: 50,
  },
  {
    name: 'dns-addr',
    kind: { type: 'addr' },
    describe: 'DNS interface, UDP and TCP (default with --dev: 127.0.0.1:8600, or a free port if taken; otherwise off)',
  },
  {
    name: 'mqtt-addr',
    kind: { type: 'addr' },
    describe:
      'embedded MQTT broker, HOST:PORT (default with --dev: 127.0.0.1:1883, or a free port if taken, ' +
      'unless --mqtt-url; otherwise off)',
  },
  {
    name: 'mqtt-url',
    kind: {
      type: 'string',
      pattern: /^mqtts?:\/\/[^\s]+$/,
      patternHint: 'must be mqtt://HOST:PORT or mqtts://HOST:PORT',
    },
    describe: 'external MQTT broker to publish to and serve devices on (instead of the embedded one)',
  },
  {
    name: 'mqtt-protocol',
    kind: { type: 'enum', values: MQTT_PROTOCOLS },
    describe:
      'MQTT version towards --mqtt-url: 5, 3.1.1, or auto (5, and 3.1.1 when the broker refuses 5); ' +
      'the embedded broker always speaks 3.1.1',
    default: 'auto',
  },
  {
    name: 'mqtt-session-expiry',
    kind: { type: 'int', min: 0, max: MAX_SESSION_EXPIRY_SECONDS },
    describe:
      'seconds an external MQTT 5 broker keeps the bridge session (subscriptions, queued messages) after a drop',
    default: DEFAULT_SESSION_EXPIRY_SECONDS,
  },
  {
    name: 'acl-enabled',
    kind: { type: 'boolean' },
    describe: 'enforce ACLs on every HTTP route and DNS (config: acl.enabled)',
    default: false,
  },
  {
    name: 'acl-default-policy',
    kind: { type: 'enum', values: ['allow', 'deny'] },
    describe: 'what a token may do where no rule says: allow (all but ACL management) or deny',
    default: 'allow',
  },
  {
    name: 'rate-limit-ip',
    kind: { type: 'int', min: 0, max: 1_000_000 },
    describe: 'HTTP requests per second allowed from one client address (0: no limit)',
    default: 0,
  },
  {
    name: 'rate-limit-token',
    kind: { type: 'int', min: 0, max: 1_000_000 },
    describe: 'HTTP requests per second allowed with one token (0: no limit)',
    default: 0,
  },
  {
    name: 'rate-limit-burst',
    kind: { type: 'int', min: 1, max: 1_000_000 },
    describe: 'requests one address or token may send at once before the rate applies',
    default: 100,
  },
  {
    name: 'audit-log',
    kind: { type: 'string' },
    describe: 'append an audit record (JSON line) per write, and per request with ACLs on, to this file',
  },
  {
    name: 'encrypt-key-file',
    kind: { type: 'string' },
    describe:
      'JSON key file (keys and primary, from konsul keygen) to keep KV values encrypted at rest; ' +
      'the same file on every server (docs/SECRETS.md)',
  },
  {
    name: 'encrypt-prefix',
    kind: { type: 'list', item: 'string' },
    describe: 'encrypt only values under this KV prefix (repeatable; none: every value)',
    default: [],
  },
  {
    name: 'mqtt-device-keys',
    kind: { type: 'string' },
    describe: 'JSON file of device keys allowed to write and send heartbeats over MQTT',
  },
  {
    name: 'dns-service-ttl',
    kind: { type: 'int', min: 0, max: 86400 },
    describe: 'TTL of service answers, seconds',
    default: 0,
  },
  {
    name: 'dns-node-ttl',
    kind: { type: 'int', min: 0, max: 86400 },
    describe: 'TTL of node answers, seconds',
    default: 0,
  },
  {
    name: 'dns-a-record-limit',
    kind: { type: 'int', min: 0, max: MAX_A_RECORD_LIMIT },
    describe:
      'most A/AAAA records in a DNS service answer, drawn by Weights (0: no limit; SRV is never limited; ' +
      "Consul's a_record_limit)",
    default: 0,
  },
  {
    name: 'enable-script-checks',
    kind: { type: 'boolean' },
    describe: 'allow checks that run commands (Args)',
    default: false,
  },
  {
    name: 'access-log-sample',
    kind: { type: 'string', pattern: /^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, patternHint: 'a fraction from 0 to 1' },
    describe: 'fraction of HTTP requests written to the log as access lines (0: none, 1: all)',
    default: '0',
  },
  {
    name: 'otlp-endpoint',
    kind: { type: 'string', pattern: /^https?:\/\/\S+$/, patternHint: 'an http:// or https:// URL' },
    describe: 'export traces over OTLP/HTTP to this base URL (also OTEL_EXPORTER_OTLP_ENDPOINT)',
  },
  {
    name: 'edge-offline-after',
    kind: { type: 'int', min: 1, max: 86_400 },
    describe: 'seconds an edge agent or MQTT device may stay silent before the fleet table marks it offline',
    default: 30,
  },
  {
    name: 'edge-grant-ttl',
    kind: { type: 'int', min: 1, max: 30 * 86_400 },
    describe:
      'seconds an edge write grant lasts: how long an offline agent may queue writes for a writer it saw online',
    default: 86_400,
  },
  {
    name: 'insights-interval',
    kind: { type: 'int', min: 100, max: 3_600_000 },
    describe:
      'milliseconds per insights bucket: rates are measured, edge lag sampled and findings announced this often',
    default: 10_000,
  },
  {
    name: 'disable-metrics',
    kind: { type: 'boolean' },
    describe: 'record no Raft, HTTP, state, DNS, check or MQTT metrics (to measure what they cost)',
    default: false,
  },
  {
    name: 'enable-chaos',
    kind: { type: 'boolean' },
    describe:
      'serve the chaos API (PUT /v1/operator/chaos, operator:write): timed latency, loss and partitions on ' +
      'raft links, a paused apply loop, a leader step-down (never in production unless you mean it)',
    default: false,
  },
  {
    name: 'test-faults',
    kind: { type: 'boolean' },
    describe: 'enable the fault-injection endpoint (tests only)',
    default: false,
    hidden: true,
  },
  {
    name: 'test-bug',
    kind: { type: 'enum', values: ['none', 'stale-consistent-reads'] },
    describe:
      'plant a known bug so the nemesis can show it catches it (tests only): stale-consistent-reads makes a ' +
      'follower answer ?consistent and default reads without a ReadIndex round',
    default: 'none',
    hidden: true,
  },
  {
    name: 'node-name',
    kind: {
      type: 'string',
      pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
      patternHint: 'must be 1-63 letters, digits, "-", "_" or "."',
    },
    describe: 'name of this node (default: the host name)',
  },
  {
    name: 'datacenter',
    kind: {
      type: 'string',
      pattern: /^[a-z0-9][a-z0-9_-]{0,62}$/,
      patternHint: 'must be 1-63 lower-case letters, digits, "-" or "_"',
    },
    describe: 'datacenter name',
    default: 'dc1',
  },
  { name: 'log-level', kind: { type: 'enum', values: LOG_LEVELS }, describe: 'minimum level logged', default: 'info' },
  {
    name: 'log-format',
    kind: { type: 'enum', values: ['text', 'json'] },
    describe: 'log line format',
    default: 'text',
  },
  {
    name: 'kv-max-value-size',
    kind: { type: 'int', min: 1, max: 16 * 1024 * 1024 },
    describe: 'largest KV value in bytes',
    default: DEFAULT_API_LIMITS.kvMaxValueBytes,
  },
  {
    name: 'max-blocking-queries',
    kind: { type: 'int', min: 1, max: 1_000_000 },
    describe: 'concurrent blocking queries before new ones get 503',
    default: 16_384,
  },
  {
    name: 'session-ttl-min',
    kind: { type: 'int', min: 1, max: 86_400 },
    describe: 'shortest session TTL accepted, seconds (Consul: session_ttl_min)',
    default: 10,
  },
  {
    name: 'txn-max-ops',
    kind: { type: 'int', min: 1, max: 4096 },
    describe: 'most operations in one /v1/txn request (more: 413)',
    default: DEFAULT_API_LIMITS.txnMaxOps,
  },
  {
    name: 'watch-buffer',
    kind: { type: 'int', min: 16, max: 10_000_000 },
    describe: 'recent changes kept for watch streams to resume from (older positions get a resync)',
    default: 16_384,
  },
  {
    name: 'max-watch-streams',
    kind: { type: 'int', min: 1, max: 1_000_000 },
    describe: 'concurrent /v1/watch streams before new ones get 503',
    default: 4096,
  },
  {
    name: 'max-http-connections',
    kind: { type: 'int', min: 1, max: 1_000_000 },
    describe:
      'open HTTP connections before new ones get 503 (HTTP/1.1) or are closed; keep it below the open-file limit',
    default: DEFAULT_HTTP_LIMITS.maxConnections,
  },
  {
    name: 'http2-max-streams',
    kind: { type: 'int', min: 1, max: 2 ** 31 - 1 },
    describe: 'concurrent streams per HTTP/2 connection (more are refused)',
    default: DEFAULT_HTTP_LIMITS.http2MaxStreams,
  },
  {
    name: 'hot-paths',
    kind: { type: 'enum', values: ['auto', 'wasm', 'ts'] },
    describe: 'hot-path implementation: the faster per operation, or all WebAssembly / all TypeScript',
    default: 'auto',
  },
  {
    name: 'max-pending-writes',
    kind: { type: 'int', min: 1, max: 1_000_000 },
    describe: 'writes queued for commit before new ones get 503',
    default: 16_384,
  },
];

/** Where the raft transport listens unless --raft-addr says: 8300, or with --dev any free port. */
const RAFT_ADDR_DEFAULT: HostPort = { host: '127.0.0.1', port: 8300 };
const RAFT_ADDR_DEV: HostPort = { host: '127.0.0.1', port: 0 };

/** Converts resolved option values (already validated by kind) to a ServerConfig. */
export function toServerConfig(v: OptionValues): ServerConfig {
  checkMqtt(v);
  checkAcl(v);
  return {
    version: VERSION,
    dev: v['dev'] === true,
    httpAddr: parseHostPort(String(v['http-addr']), '--http-addr'),
    dataDir: String(v['data-dir']),
    nodeName: v['node-name'] === undefined ? undefined : String(v['node-name']),
    datacenter: String(v['datacenter']),
    logLevel: v['log-level'] as LogLevel,
    logFormat: v['log-format'] as LogFormat,
    kvMaxValueBytes: Number(v['kv-max-value-size']),
    maxBlockingQueries: Number(v['max-blocking-queries']),
    maxPendingWrites: Number(v['max-pending-writes']),
    txnMaxOps: Number(v['txn-max-ops']),
    sessionTtlMinMs: Number(v['session-ttl-min']) * 1000,
    watchBuffer: Number(v['watch-buffer']),
    maxWatchStreams: Number(v['max-watch-streams']),
    maxHttpConnections: Number(v['max-http-connections']),
    http2MaxStreams: Number(v['http2-max-streams']),
    hotPaths: v['hot-paths'] as ServerConfig['hotPaths'],
    raftAddr:
      v['raft-addr'] !== undefined
        ? parseHostPort(String(v['raft-addr']), '--raft-addr')
        : v['dev'] === true
          ? RAFT_ADDR_DEV
          : RAFT_ADDR_DEFAULT,
    bootstrapExpect: Number(v['bootstrap-expect']),
    joins: (v['join'] as string[] | undefined) ?? [],
    joinWan: (v['join-wan'] as string[] | undefined) ?? [],
    primaryDatacenter:
      v['primary-datacenter'] === undefined ? String(v['datacenter']) : String(v['primary-datacenter']),
    joinToken: v['join-token'] === undefined ? undefined : String(v['join-token']),
    raftTls: tlsOf(v),
    snapshotThreshold: Number(v['snapshot-threshold']),
    snapshotIntervalMs: Number(v['snapshot-interval']) * 1000,
    raftTickMs: Number(v['raft-tick-ms']),
    raftLogMemoryBytes: Number(v['raft-log-memory']) * 1024,
    testFaults: v['test-faults'] === true,
    ...(v['test-bug'] === 'stale-consistent-reads' ? { testBug: 'stale-consistent-reads' as const } : {}),
    enableChaos: v['enable-chaos'] === true,
    enableScriptChecks: v['enable-script-checks'] === true,
    disableMetrics: v['disable-metrics'] === true,
    insightsIntervalMs: Number(v['insights-interval']),
    edgeOfflineAfterMs: Number(v['edge-offline-after']) * 1000,
    edgeGrantTtlMs: Number(v['edge-grant-ttl']) * 1000,
    accessLogSample: Number(v['access-log-sample']),
    ...(v['otlp-endpoint'] !== undefined ? { otlpEndpoint: String(v['otlp-endpoint']) } : {}),
    dnsAddr:
      v['dns-addr'] !== undefined
        ? parseHostPort(String(v['dns-addr']), '--dns-addr')
        : v['dev'] === true
          ? { host: '127.0.0.1', port: 8600, orFreePort: true }
          : undefined,
    mqttAddr:
      v['mqtt-addr'] !== undefined
        ? parseHostPort(String(v['mqtt-addr']), '--mqtt-addr')
        : v['dev'] === true && v['mqtt-url'] === undefined
          ? { host: '127.0.0.1', port: 1883, orFreePort: true }
          : undefined,
    mqttUrl: v['mqtt-url'] === undefined ? undefined : String(v['mqtt-url']),
    mqttProtocol: v['mqtt-protocol'] as MqttProtocol,
    mqttSessionExpirySeconds: Number(v['mqtt-session-expiry']),
    mqttDeviceKeys: v['mqtt-device-keys'] === undefined ? undefined : String(v['mqtt-device-keys']),
    encryptKeyFile:
      v['encrypt-key-file'] === undefined || v['encrypt-key-file'] === '' ? undefined : String(v['encrypt-key-file']),
    encryptPrefixes: (v['encrypt-prefix'] as string[] | undefined) ?? [],
    dnsServiceTtl: Number(v['dns-service-ttl']),
    dnsNodeTtl: Number(v['dns-node-ttl']),
    dnsARecordLimit: Number(v['dns-a-record-limit']),
    acl: { enabled: v['acl-enabled'] === true, defaultPolicy: v['acl-default-policy'] as 'allow' | 'deny' },
    httpTls: httpTlsOf(v),
    auditLog: v['audit-log'] === undefined || v['audit-log'] === '' ? undefined : String(v['audit-log']),
    rateLimit: {
      perIp: Number(v['rate-limit-ip']),
      perToken: Number(v['rate-limit-token']),
      burst: Number(v['rate-limit-burst']),
    },
  };
}

function checkAcl(v: OptionValues): void {
  const clustered = Number(v['bootstrap-expect'] ?? 0) > 1 || ((v['join'] as string[] | undefined) ?? []).length > 0;
  if (v['acl-enabled'] === true && clustered && v['join-token'] === undefined) {
    throw new ConfigError(
      '--acl-enabled in a cluster needs --join-token (servers authenticate their internal writes with it)',
    );
  }
}

function checkMqtt(v: OptionValues): void {
  if (v['mqtt-addr'] !== undefined && v['mqtt-url'] !== undefined)
    throw new ConfigError(
      '--mqtt-addr and --mqtt-url cannot be combined: run the embedded broker or use an external one',
    );
  if (v['mqtt-protocol'] === '5' && v['mqtt-url'] === undefined)
    throw new ConfigError('--mqtt-protocol 5 needs --mqtt-url: the embedded broker (aedes) speaks MQTT 3.1.1 only');
}

function httpTlsOf(v: OptionValues): ServerConfig['httpTls'] {
  const cert = v['tls-cert'];
  const key = v['tls-key'];
  const ca = v['tls-ca'];
  const verify = v['tls-verify-incoming'] === true;
  if (cert === undefined && key === undefined) {
    if (verify || ca !== undefined)
      throw new ConfigError('--tls-ca and --tls-verify-incoming need --tls-cert and --tls-key');
    return undefined;
  }
  if (cert === undefined || key === undefined) throw new ConfigError('--tls-cert and --tls-key must be given together');
  if (verify && ca === undefined) throw new ConfigError('--tls-verify-incoming needs --tls-ca');
  return {
    cert: String(cert),
    key: String(key),
    ca: ca === undefined ? undefined : String(ca),
    verifyIncoming: verify,
  };
}

function tlsOf(v: OptionValues): ServerConfig['raftTls'] {
  const parts = ['raft-tls-cert', 'raft-tls-key', 'raft-tls-ca'].map((k) => v[k]);
  if (parts.every((p) => p === undefined)) return undefined;
  if (parts.some((p) => p === undefined))
    throw new ConfigError('--raft-tls-cert, --raft-tls-key and --raft-tls-ca must be given together');
  const [cert, key, ca] = parts.map(String) as [string, string, string];
  return { cert, key, ca };
}
