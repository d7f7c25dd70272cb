import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { ShuttingDownError, TooLargeError } from '../../core/errors.js';
import { silentLogger } from '../../core/ports/logger.js';
import { until } from '../../testing/process.js';
import type { MqttAccess } from './access.js';
import { type BoundBroker, bindBroker, MAX_TOPIC_LEVELS } from './broker.js';

/** ACLs that refuse every client publish and allow every subscription. */
const refuseClientPublishes = {
  authenticate: (_c: object, _u: unknown, _p: unknown, done: (err: null, ok: boolean) => void) => done(null, true),
  authorizePublish: () => false,
  authorizeSubscribe: () => true,
  forget: () => undefined,
} as unknown as MqttAccess;

interface Received {
  readonly topic: string;
  readonly payload: string;
  readonly qos: number;
  readonly retain: boolean;
}

const open: Array<{ broker: BoundBroker; clients: MqttClient[] }> = [];
afterEach(async () => {
  for (const { broker, clients } of open.splice(0)) {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.close();
  }
});

async function started(access?: MqttAccess) {
  const broker = await bindBroker('127.0.0.1', 0);
  const publisher = await broker.start(silentLogger, access);
  const clients: MqttClient[] = [];
  open.push({ broker, clients });
  /** A subscriber that records every message it receives, after its SUBACK. */
  const subscribe = async (filter: string) => {
    const c = await mqtt.connectAsync(`mqtt://${broker.address}`, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(c);
    const got: Received[] = [];
    c.on('message', (topic, payload, p: IPublishPacket) =>
      got.push({ topic, payload: payload.toString(), qos: p.qos, retain: p.retain }),
    );
    await c.subscribeAsync(filter, { qos: 1 });
    return got;
  };
  return { broker, publisher, subscribe };
}

/** Waits until `got` holds `n` messages (the broker writes them asynchronously); returns the first `n`. */
async function first(got: Received[], n: number): Promise<Received[]> {
  await until(
    `${n} messages`,
    async () => got.length,
    (have) => have >= n,
  );
  return got.slice(0, n);
}

describe('in-process publishing to the embedded broker', () => {
  it('stores retained messages in call order and delivers like a client PUBLISH would', async () => {
    const { publisher, subscribe } = await started();
    const live = await subscribe('t/#');
    // Retained calls made back to back, none awaited: the last call on a topic is the retained
    // value. A message without retain goes after them (the contract: one kind at a time).
    const calls = [];
    for (let i = 0; i < 50; i++)
      calls.push(publisher.publish('t/same', Buffer.from(`v${i}`), { qos: 1, retain: true }));
    calls.push(publisher.publish('t/gone', Buffer.from('x'), { qos: 1, retain: true }));
    calls.push(publisher.publish('t/gone', Buffer.alloc(0), { qos: 1, retain: true }));
    await Promise.all(calls);
    await publisher.publish('t/plain', Buffer.from('p'), { qos: 1, retain: false });
    await publisher.publish('t/end', Buffer.from('end'), { qos: 1, retain: true });

    // The live subscriber got every message, in call order, at QoS 1 (the retain flag is cleared
    // for established subscriptions, as for a client's publish).
    const seen = await first(live, 54);
    expect(seen.map((m) => `${m.topic}=${m.payload}`)).toEqual([
      ...Array.from({ length: 50 }, (_, i) => `t/same=v${i}`),
      't/gone=x',
      't/gone=',
      't/plain=p',
      't/end=end',
    ]);
    expect(seen.every((m) => m.qos === 1 && !m.retain)).toBe(true);

    // A new subscriber gets the last value of each retained topic; the cleared topic and the
    // plain message are not retained.
    const fresh = await subscribe('t/#');
    const retained = (await first(fresh, 2)).sort((a, b) => a.topic.localeCompare(b.topic));
    expect(retained).toEqual([
      { topic: 't/end', payload: 'end', qos: 1, retain: true },
      { topic: 't/same', payload: 'v49', qos: 1, retain: true },
    ]);
  });

  it('needs no authorizePublish, while clients stay subject to the ACLs', async () => {
    const { broker, publisher, subscribe } = await started(refuseClientPublishes);
    const got = await subscribe('acl/#');
    await publisher.publish('acl/server', Buffer.from('from the server'), { qos: 1, retain: true });
    expect(await first(got, 1)).toEqual([{ topic: 'acl/server', payload: 'from the server', qos: 1, retain: false }]);

    // A client's publish on the same topic is refused: the broker closes its connection.
    const device = await mqtt.connectAsync(`mqtt://${broker.address}`, { protocolVersion: 4, reconnectPeriod: 0 });
    device.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish('acl/server', 'forged', { qos: 1 });
    await closed;
    await device.endAsync(true);
    const fresh = await subscribe('acl/#');
    expect(await first(fresh, 1)).toEqual([{ topic: 'acl/server', payload: 'from the server', qos: 1, retain: true }]);
    expect(got).toHaveLength(1);
  });

  it('rejects with ShuttingDownError once the broker is closing or closed', async () => {
    const { broker, publisher } = await started();
    const closing = broker.close();
    await expect(publisher.publish('t/x', Buffer.from('late'), { qos: 1, retain: true })).rejects.toBeInstanceOf(
      ShuttingDownError,
    );
    await closing;
    await expect(publisher.publish('t/x', Buffer.from('later'), { qos: 0, retain: false })).rejects.toBeInstanceOf(
      ShuttingDownError,
    );
  });

  it('refuses a topic deeper than the broker allows with TooLargeError, storing nothing', async () => {
    const { publisher, subscribe } = await started();
    const got = await subscribe('d/#');
    const levels = (n: number) => ['d', ...Array.from({ length: n - 1 }, (_, i) => `l${i}`)].join('/');
    await expect(
      publisher.publish(levels(MAX_TOPIC_LEVELS + 1), Buffer.from('x'), { qos: 1, retain: true }),
    ).rejects.toBeInstanceOf(TooLargeError);
    await publisher.publish(levels(MAX_TOPIC_LEVELS), Buffer.from('deepest'), { qos: 1, retain: true });
    expect((await first(got, 1)).map((m) => m.payload)).toEqual(['deepest']);
    const fresh = await subscribe('d/#');
    expect((await first(fresh, 1)).map((m) => m.topic.split('/').length)).toEqual([MAX_TOPIC_LEVELS]);
  });
});
