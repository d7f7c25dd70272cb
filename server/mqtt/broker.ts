import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from '../../core/ports/logger.js';
import type { MqttAccess } from './access.js';

/** An MQTT broker embedded in the server process. */
export interface EmbeddedBroker {
  /** "host:port" it listens on. */
  readonly address: string;
  close(): Promise<void>;
}

/** The embedded broker's listener, bound but not yet a broker: connections are closed until start(). */
export interface BoundBroker extends EmbeddedBroker {
  /**
   * Starts the aedes broker behind the listener (MQTT 3.1.1, in-memory retained messages and
   * sessions). With `access`, ACLs decide who may connect, publish and subscribe (see MqttAccess).
   * Call once.
   */
  start(logger: Logger, access?: MqttAccess): Promise<void>;
}

/** Most concurrent MQTT connections the embedded broker accepts. */
const MAX_CONNECTIONS = 10_000;

/**
 * Binds the embedded broker's listener on host:port (port 0 picks a free one); start() then
 * serves MQTT on it. Connections beyond MAX_CONNECTIONS are refused. Rejects with the socket's
 * error (e.g. EADDRINUSE) when the address cannot be bound.
 */
export async function bindBroker(host: string, port: number): Promise<BoundBroker> {
  let aedes: Aedes | undefined;
  const server: Server = createServer((s: Socket) => (aedes ? aedes.handle(s) : s.destroy()));
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
    start: async (logger, access) => {
      const broker = await Aedes.createBroker({
        concurrency: 1000,
        ...(access
          ? {
              authenticate: (client, username, password, done) =>
                access.authenticate(client, username, password, done as never),
              authorizePublish: (client, packet, cb) =>
                access.authorizePublish(client, packet.topic)
                  ? cb(null)
                  : cb(new Error(`not allowed to publish on ${packet.topic}`)),
              authorizeSubscribe: (client, sub, cb) =>
                cb(null, access.authorizeSubscribe(client, sub.topic) ? sub : null),
            }
          : {}),
      });
      broker.on('clientError', (client, err) =>
        logger.debug('mqtt client error', { client: client?.id ?? '', error: err.message }),
      );
      aedes = broker;
    },
    close: async () => {
      const broker = aedes;
      if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
