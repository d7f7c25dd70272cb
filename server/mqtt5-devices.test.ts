import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import mqtt, { type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnMosquitto } from '../testing/mosquitto.js';
import { until } from '../testing/process.js';
import { cleanupAll, spawnServer, type SpawnedServer, tempDir } from '../testing/spawn-server.js';

afterAll(cleanupAll);

const ROOT = 'konsul/v1/dc1/';
const ACK = `${ROOT}ack/dev1`;
const secret = new Uint8Array(32).map((_, i) => i + 7);
const otherSecret = new Uint8Array(32).map((_, i) => 99 - i);
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

const hs = (claims: Record<string, unknown>, key = secret) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'dev1' }).setExpirationTime('1m').sign(key);

/** An ack as a device receives it: topic, JSON body and MQTT 5 properties. */
interface Ack {
  readonly topic: string;
  readonly body: Record<string, unknown>;
  readonly properties: IPublishPacket['properties'];
}

/** A device connected to the broker, subscribed to every ack topic, numbering its requests. */
async function device(url: string, protocolVersion: 4 | 5, clientId: string) {
  const client: MqttClient = await mqtt.connectAsync(url, { protocolVersion, clientId, reconnectPeriod: 0 });
  const acks: Ack[] = [];
  client.on('message', (topic, payload, packet: IPublishPacket) => {
    if (topic.startsWith(`${ROOT}ack/`))
      acks.push({
        topic,
        body: JSON.parse(payload.toString()) as Record<string, unknown>,
        properties: packet.properties,
      });
  });
  // The PUBACK reason codes the broker answers the device's QoS 1 publishes with.
  const pubacks: number[] = [];
  client.on('packetreceive', (p: Packet) => {
    if (p.cmd === 'puback') pubacks.push(p.reasonCode ?? 0);
  });
  await client.subscribeAsync(`${ROOT}ack/#`, { qos: 1 });
  let n = 0;
  /**
   * Publishes on write/dev1 or check/dev1 with a fresh Correlation Data (plus `properties`) and
   * waits for the ack that echoes it, or with `echo` false (3.1.1 on either side) for the next ack.
   * Returns the ack and the Correlation Data sent.
   */
  const send = async (
    kind: 'write' | 'check',
    jwt: string,
    properties: IPublishPacket['properties'] = {},
    { echo = protocolVersion === 5, timeoutMs = 10_000 } = {},
  ): Promise<Ack & { sent: Buffer }> => {
    const sent = Buffer.from(`${clientId}-${++n}`);
    const before = acks.length;
    await client.publishAsync(`${ROOT}${kind}/dev1`, jwt, {
      qos: 1,
      ...(protocolVersion === 5 ? { properties: { correlationData: sent, ...properties } } : {}),
    });
    const mine = (a: Ack) => !echo || a.properties?.correlationData?.equals(sent) === true;
    await until(
      `the ack of ${kind} ${n}`,
      async () => acks.slice(before).filter(mine).length,
      (k) => k > 0,
      timeoutMs,
    );
    return { ...(acks.slice(before).find(mine) as Ack), sent };
  };
  return { client, acks, pubacks, send };
}

const kv = async (server: SpawnedServer, key: string) => {
  const res = await fetch(`${server.url}/v1/kv/${key}?raw`);
  return res.status === 200 ? await res.text() : undefined;
};

describe('MQTT 5 devices through mosquitto', () => {
  const title =
    'acks echo the request id and correlation data with a reason code, expire, and follow a response ' +
    'topic of the device; 3.1.1 devices keep their acks; --mqtt-protocol 3.1.1 sends no MQTT 5 properties';
  it(title, async () => {
    const mosquitto = await spawnMosquitto(undefined, ['set_tcp_nodelay true']);
    const keysFile = join(tempDir(), 'device-keys.json');
    writeFileSync(
      keysFile,
      JSON.stringify({
        keys: [{ kid: 'dev1', alg: 'HS256', secret: b64(secret), kv: ['devices/dev1/'], checks: ['sensor-node/*'] }],
      }),
    );
    const dev = await device(mosquitto.url, 5, 'dev1-v5');

    // Broker-level reason codes come from mosquitto, not Konsul: with no server subscribed yet, a
    // write is answered 0x10 (no matching subscribers) in its PUBACK.
    await dev.client.publishAsync(`${ROOT}write/dev1`, 'nobody listens', { qos: 1 });
    expect(dev.pubacks).toEqual([0x10]);

    const args = ['--mqtt-url', mosquitto.url, '--mqtt-device-keys', keysFile];
    let server = await spawnServer({ args });
    await until(
      'the bridge to connect with MQTT 5',
      async () => server.output(),
      (out) => /"@message":"mqtt bridge connected".*"protocol":"5"/.test(out),
    );
    // Once the bridge is subscribed, a malformed write gets a refusal: 0x99, payload format invalid.
    const probe = await until(
      'the bridge to answer',
      () => dev.send('write', 'not a jwt', { userProperties: { 'request-id': 'probe' } }, { timeoutMs: 1000 }),
      (a) => a.body['ok'] === false,
      20_000,
    );
    expect(probe.body).toMatchObject({ rid: null, reasonCode: 0x99, error: expect.stringMatching(/^malformed:/) });
    expect(probe.properties?.userProperties).toEqual({ 'reason-code': '153', 'request-id': 'probe' });

    // A signed write: applied, and its ack echoes the request id and correlation data with 0x00.
    const write = await hs({ rid: 'w1', op: 'set', key: 'devices/dev1/temp', value: b64(Buffer.from('21.5')) });
    const ok = await dev.send('write', write, { userProperties: { 'request-id': 'req-1' } });
    expect(ok.topic).toBe(ACK);
    expect(ok.body).toMatchObject({ rid: 'w1', ok: true, result: true, reasonCode: 0 });
    expect(ok.properties?.userProperties).toEqual({ 'reason-code': '0', 'request-id': 'req-1' });
    expect(ok.properties?.correlationData?.toString()).toBe(ok.sent.toString());
    expect(ok.properties?.contentType).toBe('application/json');
    // A write's ack expires after 60 s (mosquitto forwards what is left of it).
    expect(ok.properties?.messageExpiryInterval).toBeGreaterThan(50);
    expect(ok.properties?.messageExpiryInterval).toBeLessThanOrEqual(60);
    expect(await kv(server, 'devices/dev1/temp')).toBe('21.5');

    // Refused writes get the matching reason code and are not applied.
    const forged = await dev.send(
      'write',
      await hs({ rid: 'w2', op: 'set', key: 'devices/dev1/x', value: b64(Buffer.from('f')) }, otherSecret),
      { userProperties: { 'request-id': 'req-2' } },
    );
    expect(forged.body).toMatchObject({ ok: false, reasonCode: 0x87, error: expect.stringMatching(/^bad-signature:/) });
    expect(forged.properties?.userProperties).toEqual({ 'reason-code': '135', 'request-id': 'req-2' });
    const outside = await dev.send(
      'write',
      await hs({ rid: 'w3', op: 'set', key: 'elsewhere/x', value: b64(Buffer.from('u')) }),
    );
    expect(outside.body).toMatchObject({ rid: 'w3', ok: false, reasonCode: 0x87 });
    expect(String(outside.body['error'])).toMatch(/^unauthorized:/);
    expect(outside.properties?.userProperties).toEqual({ 'reason-code': '135' });
    expect(await kv(server, 'devices/dev1/x')).toBeUndefined();
    expect(await kv(server, 'elsewhere/x')).toBeUndefined();

    // A Response Topic below the device's ack topic gets the ack; any other one is not used.
    const own = await dev.send(
      'write',
      await hs({ rid: 'w4', op: 'set', key: 'devices/dev1/r', value: b64(Buffer.from('r')) }),
      { responseTopic: `${ACK}/replies` },
    );
    expect([own.topic, own.body['ok']]).toEqual([`${ACK}/replies`, true]);
    const foreign = await dev.send(
      'write',
      await hs({ rid: 'w5', op: 'set', key: 'devices/dev1/r', value: b64(Buffer.from('s')) }),
      { responseTopic: `${ROOT}changes` },
    );
    expect([foreign.topic, foreign.body['ok']]).toEqual([ACK, true]);

    // A heartbeat sent with MQTT 5 properties of its own is applied; its ack expires with its TTL (5 s).
    const reg = await fetch(`${server.url}/v1/catalog/register`, {
      method: 'PUT',
      body: JSON.stringify({
        Node: 'sensor-node',
        Address: '10.0.0.9',
        Check: { CheckID: 'temp-ttl', Name: 'temperature feed', Status: 'critical' },
      }),
    });
    expect(reg.status).toBe(200);
    const beat = await dev.send(
      'check',
      await hs({ rid: 'h1', node: 'sensor-node', check: 'temp-ttl', status: 'passing', output: 'ok', ttl: '5s' }),
      {
        messageExpiryInterval: 5,
        payloadFormatIndicator: true,
        contentType: 'application/jwt',
        userProperties: { 'request-id': 'hb-1' },
      },
    );
    expect(beat.body).toMatchObject({ rid: 'h1', ok: true, reasonCode: 0 });
    expect(beat.properties?.userProperties).toEqual({ 'reason-code': '0', 'request-id': 'hb-1' });
    expect(beat.properties?.messageExpiryInterval).toBeGreaterThan(0);
    expect(beat.properties?.messageExpiryInterval).toBeLessThanOrEqual(5);
    const check = (await (await fetch(`${server.url}/v1/health/node/sensor-node`)).json()) as Array<{
      CheckID: string;
      Status: string;
    }>;
    expect(check.find((c) => c.CheckID === 'temp-ttl')?.Status).toBe('passing');

    // A 3.1.1 device on the same broker: the same JSON ack (plus reasonCode), no properties.
    const old = await device(mosquitto.url, 4, 'dev1-v4');
    const oldAck = await old.send(
      'write',
      await hs({ rid: 'o1', op: 'set', key: 'devices/dev1/old', value: b64(Buffer.from('o')) }),
    );
    expect(oldAck.body).toMatchObject({ rid: 'o1', ok: true, result: true, reasonCode: 0 });
    expect(oldAck.properties).toBeUndefined();
    expect(await kv(server, 'devices/dev1/old')).toBe('o');
    expect(await server.stop()).toBe(0);

    // Forced to 3.1.1, the bridge sends the 3.1.1 ack: no reason code, no echo, no expiry.
    server = await spawnServer({ args: [...args, '--mqtt-protocol', '3.1.1'] });
    await until(
      'the bridge to connect with MQTT 3.1.1',
      async () => server.output(),
      (out) => /"@message":"mqtt bridge connected".*"protocol":"3\.1\.1"/.test(out),
    );
    const plain = await until(
      'the 3.1.1 bridge to answer',
      () => dev.send('write', 'still not a jwt', {}, { echo: false, timeoutMs: 1000 }),
      (a) => a.body['ok'] === false,
      20_000,
    );
    expect(plain.body).toEqual({ rid: null, ok: false, error: expect.stringMatching(/^malformed:/) });
    expect(plain.properties?.userProperties).toBeUndefined();
    expect(plain.properties?.correlationData).toBeUndefined();
    expect(plain.properties?.messageExpiryInterval).toBeUndefined();

    expect(server.output()).not.toContain(write);
    await Promise.all([dev.client.endAsync(), old.client.endAsync()]);
    expect(await server.stop()).toBe(0);
    await mosquitto.stop();
  });
});

describe('the bridge on an external MQTT 3.1.1 broker', () => {
  it('under --mqtt-protocol auto, connects with 3.1.1 once the broker refuses MQTT 5', async () => {
    // Another server's embedded aedes broker stands for a broker without MQTT 5.
    const aedes = await spawnServer();
    const server = await spawnServer({ args: ['--mqtt-url', `mqtt://${aedes.mqttAddr}`] });
    const out = await until(
      'the bridge to connect',
      async () => server.output(),
      (o) => /"@message":"mqtt bridge connected"/.test(o),
    );
    expect(out).toMatch(/the MQTT broker refused MQTT 5; connecting with MQTT 3\.1\.1/);
    expect(out).toMatch(/"@message":"mqtt bridge connected".*"protocol":"3\.1\.1"/);
    expect(out).not.toMatch(/"@message":"mqtt bridge connected".*"protocol":"5"/);
    // An answer over HTTP shows each server got past its start-up (and took its signal handlers)
    // before it is told to stop: the bridge can log its connection before "server ready".
    for (const s of [server, aedes]) expect((await fetch(`${s.url}/v1/status/leader`)).status).toBe(200);
    expect(await server.stop()).toBe(0);
    expect(await aedes.stop()).toBe(0);
  });
});
