import { ConfigError } from '../core/errors.js';
import type { LogFormat } from '../core/log/logger.js';
import { LOG_LEVELS, type LogLevel } from '../core/ports/logger.js';
import { parseHostPort } from '../core/util/host-port.js';
import {
  DEFAULT_SESSION_EXPIRY_SECONDS,
  MAX_SESSION_EXPIRY_SECONDS,
  MQTT_PROTOCOLS,
  type MqttProtocol,
} from '../core/sync/mqtt5.js';
import type { EdgeConfig } from '../edge/config.js';
import type { OptionSpec, OptionValues } from './options.js';
import { VERSION } from './version.js';

/** Options of `konsul edge`. */
export const EDGE_OPTIONS: readonly OptionSpec[] = [
  { name: 'config', kind: { type: 'string' }, describe: 'JSON config file (keys are flag names in snake_case)' },
  {
    name: 'upstream',
    kind: { type: 'list', item: 'string' },
    describe:
      "a Konsul server's HTTP address (repeatable, across datacenters: the nearest answering one is used; " +
      'writes go there, HTTP sync reads from it)',
    default: [],
  },
  {
    name: 'http-addr',
    kind: { type: 'addr' },
    describe: 'local API address HOST:PORT (port 0 picks a free port)',
    default: '127.0.0.1:8501',
  },
  {
    name: 'data-dir',
    kind: { type: 'string' },
    describe: 'directory for the replica and the outbox',
    default: './.konsul-edge',
  },
  {
    name: 'storage',
    kind: { type: 'enum', values: ['fs', 'memory'] },
    describe: 'where the replica and outbox live: files under --data-dir, or memory (lost on exit)',
    default: 'fs',
  },
  {
    name: 'sync',
    kind: { type: 'enum', values: ['http', 'mqtt'] },
    describe: 'how the replica follows the servers',
    default: 'http',
  },
  {
    name: 'mqtt-url',
    kind: { type: 'string', pattern: /^mqtts?:\/\/[^\s]+$/, patternHint: 'must be mqtt://HOST:PORT' },
    describe: 'MQTT broker (with --sync mqtt)',
  },
  {
    name: 'mqtt-protocol',
    kind: { type: 'enum', values: MQTT_PROTOCOLS },
    describe:
      "MQTT version: 5, 3.1.1, or auto (5, and 3.1.1 when the broker refuses 5, as a server's embedded one does)",
    default: 'auto',
  },
  {
    name: 'mqtt-session-expiry',
    kind: { type: 'int', min: 0, max: MAX_SESSION_EXPIRY_SECONDS },
    describe: "seconds an MQTT 5 broker keeps the agent's session (subscriptions, queued changes) after a drop",
    default: DEFAULT_SESSION_EXPIRY_SECONDS,
  },
  {
    name: 'prefix',
    kind: { type: 'list', item: 'string' },
    describe: 'KV prefix to replicate (repeatable)',
    default: [],
  },
  {
    name: 'service',
    kind: { type: 'list', item: 'string' },
    describe: 'service whose health to replicate (repeatable)',
    default: [],
  },
  {
    name: 'node-name',
    kind: {
      type: 'string',
      pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
      patternHint: 'must be 1-63 letters, digits, "-", "_" or "."',
    },
    describe: "this agent's name (default: a random id kept in the data dir)",
  },
  {
    name: 'datacenter',
    kind: {
      type: 'string',
      pattern: /^[a-z0-9][a-z0-9_-]{0,62}$/,
      patternHint: 'must be 1-63 lower-case letters, digits, "-" or "_"',
    },
    describe: 'datacenter of the upstream servers (MQTT topics include it)',
    default: 'dc1',
  },
  {
    name: 'encrypt-key-file',
    kind: { type: 'string' },
    describe:
      "the servers' key file (docs/SECRETS.md): encrypted values stay encrypted in the replica and are " +
      'opened when answering; without it they are answered 503',
  },
  {
    name: 'token',
    kind: { type: 'string' },
    describe:
      "ACL token for the agent's own calls upstream (sync, ACL data, grants, queued writes); needs acl:read and " +
      "node:write on the agent's name when ACLs are on",
  },
  {
    name: 'acl-enabled',
    kind: { type: 'boolean' },
    describe:
      'serve and queue nothing locally until the ACL data has come from the servers (without it, an agent that ' +
      'never reached them serves its replica to anyone; once it learns ACLs are on, it checks tokens either way)',
  },
  {
    name: 'outbox-max',
    kind: { type: 'int', min: 1, max: 1_000_000 },
    describe: 'writes kept while offline before new ones get 503',
    default: 10_000,
  },
  {
    name: 'announce-interval',
    kind: { type: 'int', min: 1, max: 3600 },
    describe: "seconds between the agent's announcements to the servers' fleet table",
    default: 10,
  },
  { name: 'log-level', kind: { type: 'enum', values: LOG_LEVELS }, describe: 'minimum level logged', default: 'info' },
  {
    name: 'log-format',
    kind: { type: 'enum', values: ['text', 'json'] },
    describe: 'log line format',
    default: 'text',
  },
];

/** Converts resolved option values to an EdgeConfig; throws ConfigError for missing or conflicting ones. */
export function toEdgeConfig(v: OptionValues): EdgeConfig {
  const upstreams = ((v['upstream'] as string[] | undefined) ?? []).map((u) => u.replace(/\/$/, ''));
  if (upstreams.length === 0) throw new ConfigError('--upstream is required (a Konsul server, http://HOST:PORT)');
  for (const u of upstreams)
    if (!/^https?:\/\/[^\s/]+$/.test(u))
      throw new ConfigError(`--upstream ${JSON.stringify(u)}: must be http://HOST:PORT`);
  const sync = v['sync'] as 'http' | 'mqtt';
  const mqttUrl = v['mqtt-url'] === undefined ? undefined : String(v['mqtt-url']);
  if (sync === 'mqtt' && mqttUrl === undefined) throw new ConfigError('--sync mqtt needs --mqtt-url');
  const prefixes = (v['prefix'] as string[] | undefined) ?? [];
  const services = (v['service'] as string[] | undefined) ?? [];
  if (prefixes.length === 0 && services.length === 0)
    throw new ConfigError('give at least one --prefix or --service to replicate');
  return {
    version: VERSION,
    upstreams,
    httpAddr: parseHostPort(String(v['http-addr']), '--http-addr'),
    dataDir: String(v['data-dir']),
    storage: v['storage'] as 'fs' | 'memory',
    sync,
    mqttUrl,
    mqttProtocol: v['mqtt-protocol'] as MqttProtocol,
    mqttSessionExpirySeconds: Number(v['mqtt-session-expiry']),
    prefixes,
    services,
    nodeName: v['node-name'] === undefined ? undefined : String(v['node-name']),
    datacenter: String(v['datacenter']),
    outboxMax: Number(v['outbox-max']),
    announceEveryMs: Number(v['announce-interval']) * 1000,
    token: v['token'] === undefined || v['token'] === '' ? undefined : String(v['token']),
    aclRequired: v['acl-enabled'] === true,
    encryptKeyFile:
      v['encrypt-key-file'] === undefined || v['encrypt-key-file'] === '' ? undefined : String(v['encrypt-key-file']),
    logLevel: v['log-level'] as LogLevel,
    logFormat: v['log-format'] as LogFormat,
  };
}
