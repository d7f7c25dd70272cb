import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from '../../core/ports/logger.js';
import type { MqttAccess } from './access.js';

/** An MQTT broker embedded in the server process. */
export interface EmbeddedBroker {
  /** "host:port" it listens on. */
  readonly address: string;
  close(): Promise<void>;
}

/** Most concurrent MQTT connections the embedded broker accepts. */
const MAX_CONNECTIONS = 10_000;

/**
 * Starts an aedes broker (MQTT 3.1.1, in-memory retained messages and sessions) on host:port
 * (port 0 picks a free one). Connections beyond MAX_CONNECTIONS are refused. With `access`, ACLs
 * decide who may connect, publish and subscribe (see MqttAccess).
 */
export async function startEmbeddedBroker(
  host: string,
  port: number,
  logger: Logger,
  access?: MqttAccess,
): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker({
    concurrency: 1000,
    ...(access
      ? {
          authenticate: (client, username, password, done) =>
            access.authenticate(client, username, password, done as never),
          authorizePublish: (client, packet, cb) =>
            access.authorizePublish(client, packet.topic)
              ? cb(null)
              : cb(new Error(`not allowed to publish on ${packet.topic}`)),
          authorizeSubscribe: (client, sub, cb) => cb(null, access.authorizeSubscribe(client, sub.topic) ? sub : null),
        }
      : {}),
  });
  aedes.on('clientError', (client, err) =>
    logger.debug('mqtt client error', { client: client?.id ?? '', error: err.message }),
  );
  const server: Server = createServer(aedes.handle);
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  const bound = typeof a === 'object' && a ? a.port : port;
  return {
    address: `${host}:${bound}`,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
