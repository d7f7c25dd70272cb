import type { KeyFile } from '../core/secrets/keyring.js';
import type { LogFormat } from '../core/log/logger.js';
import type { LogLevel } from '../core/ports/logger.js';
import type { MqttProtocol } from '../core/sync/mqtt5.js';
import type { HostPort } from '../core/util/host-port.js';

/** The validated configuration of an edge agent. */
export interface EdgeConfig {
  /** Konsul's version, as the binary reports it. */
  readonly version: string;
  /** The servers the agent may use (`--upstream`, repeatable), base URLs; the nearest answering one is used. */
  readonly upstreams: readonly string[];
  readonly httpAddr: HostPort;
  readonly dataDir: string;
  readonly storage: 'fs' | 'memory';
  readonly sync: 'http' | 'mqtt';
  readonly mqttUrl: string | undefined;
  /** MQTT version to speak (`auto`: 5, and 3.1.1 when the broker refuses 5, as a server's embedded broker does). */
  readonly mqttProtocol: MqttProtocol;
  /** Session Expiry Interval of an MQTT 5 connection (seconds, 0..86,400). */
  readonly mqttSessionExpirySeconds: number;
  readonly prefixes: readonly string[];
  readonly services: readonly string[];
  readonly nodeName: string | undefined;
  readonly datacenter: string;
  readonly outboxMax: number;
  /** How often the agent announces itself to the servers' fleet table (ms). */
  readonly announceEveryMs: number;
  /** The agent's ACL token (a secret: never logged). */
  readonly token: string | undefined;
  /** `--acl-enabled`: serve and queue nothing locally before ACL data (or word that ACLs are off) arrived. */
  readonly aclRequired: boolean;
  /** `--encrypt-key-file`: the servers' key file, read by the CLI (encryptKeys); undefined: none. */
  readonly encryptKeyFile?: string | undefined;
  /** The keys of encryptKeyFile, parsed (docs/SECRETS.md); absent: encrypted values are answered 503. */
  readonly encryptKeys?: KeyFile;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
}
