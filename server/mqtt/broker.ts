import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { ShuttingDownError, TooLargeError } from '../../core/errors.js';
import type { Logger } from '../../core/ports/logger.js';
import { type Metrics, NO_METRICS } from '../../core/ports/metrics.js';
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
   * Returns the way to publish the server's own messages to it in-process. Connected clients,
   * messages clients publish and messages the server publishes go to `metrics` (konsul_mqtt_*).
   * Call once.
   */
  start(logger: Logger, access?: MqttAccess, metrics?: Metrics): Promise<InProcessPublisher>;
}

/** QoS and retain flag of an in-process publish (what a client would put in its PUBLISH packet). */
export interface InProcessPublishOptions {
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

/**
 * Publishes the server's own messages straight into the embedded broker: no MQTT encoding, socket,
 * parse or PUBACK, and no authorizePublish (only the server holds this; devices and replicas still
 * go through the ACLs). Subscribers get exactly what a client's PUBLISH with the same topic,
 * payload, QoS and retain flag would give them.
 */
export interface InProcessPublisher {
  /**
   * Hands one message to the broker. A retained one replaces the topic's retained message during
   * the call itself (an empty payload clears it), so the retained state follows call order: of
   * several calls on one topic, the last one made wins. Subscribers receive messages in call
   * order as long as the calls take the same path through aedes (the same QoS and retain flag);
   * callers that mix kinds wait for the calls of one kind to settle before making the next.
   * Resolves once aedes has written the message to every matching subscriber (or queued it for
   * an offline session): the promise is the caller's measure of what is in flight. Rejects with
   * ShuttingDownError once the broker is closing or closed, with TooLargeError for a topic of more
   * than MAX_TOPIC_LEVELS levels (nothing is stored or sent), and with aedes's error otherwise.
   * `payload` is kept by reference: do not change it.
   */
  publish(topic: string, payload: Buffer, options: InProcessPublishOptions): Promise<void>;
}

/**
 * Most levels of a topic on the embedded broker: aedes refuses deeper ones (its topic matcher
 * stops at 100 words), from clients and from the server alike.
 */
export const MAX_TOPIC_LEVELS = 100;

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
    start: async (logger, access, metrics = NO_METRICS) => {
      const broker = await Aedes.createBroker({
        concurrency: 1000,
        maxTopicLevels: MAX_TOPIC_LEVELS,
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
      // A session that ends stops following its token.
      if (access) broker.on('clientDisconnect', (client) => access.forget(client));
      broker.on('clientError', (client, err) =>
        logger.debug('mqtt client error', { client: client?.id ?? '', error: err.message }),
      );
      aedes = broker;
      metrics.gauge('konsul_mqtt_clients_connected', 'MQTT clients connected to the embedded broker', [], () =>
        broker.closed ? 0 : broker.connectedClients,
      );
      const received = metrics.counter(
        'konsul_mqtt_messages_received_total',
        'Messages MQTT clients published to the embedded broker',
      );
      const published = metrics.counter(
        'konsul_mqtt_messages_published_total',
        'Messages the server published to the embedded broker (changes, retained keys and instances, answers)',
      );
      broker.on('publish', (_packet, client) => {
        if (client) received.inc();
      });
      // The broker's retained topics, counted from its persistence's stream when metrics are read
      // (the figure is that of the previous read: the count runs in the background, one at a time).
      let retained = 0;
      let counting = false;
      const countRetained = async (): Promise<void> => {
        if (counting || broker.closed) return;
        counting = true;
        try {
          let n = 0;
          // aedes keeps its persistence (in memory by default) on the instance; its types omit it.
          const { persistence } = broker as unknown as {
            persistence: { createRetainedStream(pattern: string): AsyncIterable<unknown> };
          };
          const stream = persistence.createRetainedStream('#');
          for await (const _ of stream) n++;
          retained = n;
        } catch (err) {
          logger.debug('counting retained MQTT topics failed', { error: (err as Error).message });
        } finally {
          counting = false;
        }
      };
      metrics.gauge(
        'konsul_mqtt_retained_topics',
        'Retained topics the embedded broker holds (as of the previous read of the metrics)',
        [],
        () => {
          void countRetained();
          return retained;
        },
      );
      return {
        publish: (topic, payload, options) => {
          published.inc();
          return publishInProcess(broker, topic, payload, options);
        },
      };
    },
    close: async () => {
      const broker = aedes;
      if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * What this relies on in aedes 1.2 (aedes.js `publish`, publishFuncsQoS) with its default
 * in-memory persistence (aedes-persistence 11, asyncPersistence.js):
 * - the packet is numbered (aedes-packet: brokerCounter) during the call, then runs storeRetained,
 *   enqueueOffline (QoS > 0 only) and emitPacket (mqemitter) in series;
 * - storeRetained is a Map set (a delete for an empty payload) in an async function without
 *   await, so the retained store changes during the call; only for a retained message does the
 *   series then wait for its promise. enqueueOffline settles through two promise callbacks. So a
 *   message without retain reaches mqemitter one promise callback sooner than a retained one
 *   published at the same moment, and QoS 0 sooner still;
 * - a subscriber drops a message numbered below one it already got (lib/client.js dedupe): hence
 *   the rule in InProcessPublisher.publish. The series is promise callbacks only, so it completes
 *   before the event loop runs another callback; clients' PUBLISHes (lib/handlers/publish.js, each
 *   published from its own write callback) never interleave with it;
 * - `done` runs once mqemitter heard back from every subscriber's delivery (lib/client.js
 *   deliverQoS: written, or given up when the connection closes or its drain times out);
 * - no authorizePublish runs: only the client PUBLISH handler calls it;
 * - after close() mqemitter refuses to emit and aedes calls back with that error; we refuse
 *   earlier, before the retained store changes.
 */
function publishInProcess(
  broker: Aedes,
  topic: string,
  payload: Buffer,
  options: InProcessPublishOptions,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (broker.closed) {
      reject(new ShuttingDownError('the embedded MQTT broker'));
      return;
    }
    const levels = topic.split('/').length;
    if (levels > MAX_TOPIC_LEVELS) {
      reject(
        new TooLargeError(`topic of ${levels} levels; the embedded MQTT broker takes at most ${MAX_TOPIC_LEVELS}`),
      );
      return;
    }
    broker.publish({ cmd: 'publish', topic, payload, qos: options.qos, retain: options.retain, dup: false }, (err) =>
      err ? reject(err) : resolve(),
    );
  });
}
