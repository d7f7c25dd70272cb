import type { FleetReporter } from '../core/fleet/reporter.js';
import type { TokenWatch } from '../core/acl/token-watch.js';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { unreadableInScope } from '../core/api/authz.js';
import type { AclResolver } from '../core/acl/resolve.js';
import { ConfigError } from '../core/errors.js';
import type { Writer } from '../core/pipeline/writer.js';
import type { Clock } from '../core/ports/clock.js';
import type { Logger } from '../core/ports/logger.js';
import { type DeviceKey, loadDeviceKeys } from '../core/sync/device.js';
import type { SyncScope } from '../core/sync/types.js';
import type { ServerConfig } from './config.js';
import type { ServerMetrics } from './metrics.js';
import { MqttAccess, SERVER_USERNAME } from './mqtt/access.js';
import { MqttBridge } from './mqtt/bridge.js';
import type { BoundBroker } from './mqtt/broker.js';
import type { ServerState } from './start-state.js';
import type { StartupStack } from './startup-stack.js';

/**
 * Reads the --mqtt-device-keys file (no file: no keys). Throws ConfigError when it cannot be
 * read, is not JSON, or holds an invalid key.
 */
export async function readDeviceKeys(path: string | undefined): Promise<Map<string, DeviceKey>> {
  if (!path) return new Map();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(`cannot read --mqtt-device-keys ${path}: ${why}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`--mqtt-device-keys ${path} is not valid JSON`);
  }
  return loadDeviceKeys(json);
}

/** What the MQTT side needs besides the configuration. */
export interface MqttParts {
  readonly name: string;
  /** The bound embedded broker's listener (undefined: none, or an external --mqtt-url). */
  readonly broker: BoundBroker | undefined;
  readonly state: ServerState;
  readonly writer: Writer;
  readonly aclResolver: AclResolver;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly deviceKeys: Map<string, DeviceKey>;
  /** Whether this server leads (with an external broker only the leader publishes and serves devices). */
  readonly isLeader: () => boolean;
  /** Where agents' MQTT announcements and devices' signs of life go. */
  readonly fleet: FleetReporter;
  /** Follows each MQTT session's token as ACL data changes. */
  readonly tokenWatch: TokenWatch;
}

/**
 * Starts the embedded broker on its bound listener (with ACLs on, it checks every connection;
 * servers use an internal secret) and the MQTT bridge to it (publishing changes and retained
 * topics in-process) or to the external broker; pushes the bridge onto `stack`. Returns the
 * bridge, or undefined when MQTT is off.
 */
export async function startMqtt(
  config: ServerConfig,
  p: MqttParts,
  stack: StartupStack,
): Promise<MqttBridge | undefined> {
  if (!p.broker && !config.mqttUrl) return undefined;
  const { store, feed } = p.state;
  const { clock, aclResolver } = p;
  const mqttLogger = p.logger.child({ component: 'mqtt' });
  const internalSecret = randomBytes(32).toString('hex');
  const access = config.acl.enabled
    ? new MqttAccess({
        resolver: aclResolver,
        store,
        clock,
        datacenter: config.datacenter,
        internalSecret,
        logger: mqttLogger,
        tokenWatch: p.tokenWatch,
      })
    : undefined;
  const inProcess = await p.broker?.start(mqttLogger, access, p.metrics.port);
  const embedded = p.broker !== undefined;
  const bridge = new MqttBridge({
    url: p.broker ? `mqtt://${p.broker.address}` : (config.mqttUrl as string),
    // The embedded broker takes the server's changes and retained topics in-process.
    ...(inProcess ? { inProcess } : {}),
    clientId: `konsul-server-${config.datacenter}-${p.name}`,
    // aedes speaks MQTT 3.1.1 only.
    protocol: embedded ? '3.1.1' : config.mqttProtocol,
    sessionExpirySeconds: config.mqttSessionExpirySeconds,
    datacenter: config.datacenter,
    active: () => embedded || p.isLeader(),
    source: { feed, read: (fn) => store.read(fn) },
    writer: p.writer,
    clock,
    logger: mqttLogger,
    metrics: p.metrics,
    deviceKeys: p.deviceKeys,
    kvMaxValueBytes: config.kvMaxValueBytes,
    progressMs: 5000,
    fleet: p.fleet,
    ...(access && p.broker ? { mayAnnounce: (agent: string) => access.mayAnnounce(agent) } : {}),
    ...(access && p.broker ? { credentials: { username: SERVER_USERNAME, password: internalSecret } } : {}),
    ...(config.acl.enabled
      ? {
          mayRead: (token: string | undefined, scope: SyncScope) => {
            try {
              const { authz } = store.read((tx) => aclResolver.resolve(tx, token, clock.now()));
              return unreadableInScope(authz, scope) === undefined;
            } catch {
              return false;
            }
          },
        }
      : {}),
  });
  stack.push('mqtt bridge', () => bridge.stop());
  await bridge.start();
  return bridge;
}
