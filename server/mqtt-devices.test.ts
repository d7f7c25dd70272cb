import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../testing/process.js';
import { cleanupAll, spawnServer, tempDir } from '../testing/spawn-server.js';

afterAll(cleanupAll);

const ROOT = 'konsul/v1/dc1/';
const secret = new Uint8Array(32).map((_, i) => i + 1);
const otherSecret = new Uint8Array(32).map((_, i) => 200 - i);
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const nowS = () => Math.floor(Date.now() / 1000);

const hs = (claims: Record<string, unknown>, key = secret, kid = 'dev1', exp = nowS() + 60) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).setExpirationTime(exp).sign(key);

describe('MQTT device writes and heartbeats', () => {
  const title =
    'applies signed writes once and heartbeats with a TTL; ' +
    'refuses and counts malformed, unsigned, expired, forged and unauthorized ones';
  it(title, async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const keysFile = join(tempDir(), 'device-keys.json');
    writeFileSync(
      keysFile,
      JSON.stringify({
        keys: [
          { kid: 'dev1', alg: 'HS256', secret: b64(secret), kv: ['devices/dev1/'], checks: ['sensor-node/*'] },
          { kid: 'dev2', alg: 'ES256', publicKey: await exportSPKI(publicKey), kv: ['devices/dev2/'], checks: [] },
        ],
      }),
    );
    const server = await spawnServer({ args: ['--mqtt-device-keys', keysFile] });
    // Device secrets never reach the logs.
    expect(server.output()).not.toContain(b64(secret));
    const client = await mqtt.connectAsync(`mqtt://${server.mqttAddr}`, {
      clientId: 'test-device',
      protocolVersion: 4,
    });
    const acks: Array<Record<string, unknown>> = [];
    client.on('message', (_t, payload) => acks.push(JSON.parse(payload.toString()) as Record<string, unknown>));
    await client.subscribeAsync(`${ROOT}ack/+`, { qos: 1 });
    const send = async (
      kind: 'write' | 'check',
      payload: string,
      device = 'dev1',
    ): Promise<Record<string, unknown>> => {
      const before = acks.length;
      await client.publishAsync(`${ROOT}${kind}/${device}`, payload, { qos: 1 });
      await until(
        `an ack for ${kind}`,
        async () => acks.length,
        (n) => n > before,
      );
      return acks[before] as Record<string, unknown>;
    };
    // Waits until the bridge is subscribed (it connects in the background).
    await until(
      'the bridge to answer',
      () => send('write', 'x'),
      (a) => a['ok'] === false,
    );
    const kv = async (key: string) =>
      (await fetch(`${server.url}/v1/kv/${key}`)).status === 200
        ? (
            (await (await fetch(`${server.url}/v1/kv/${key}`)).json()) as Array<{ ModifyIndex: number; Value: string }>
          )[0]
        : undefined;

    // A valid HS256 write is applied and acked.
    const w1 = await hs({
      rid: 'r1',
      op: 'set',
      key: 'devices/dev1/temp',
      value: b64(new TextEncoder().encode('21.5')),
    });
    const ack1 = await send('write', w1);
    expect(ack1).toMatchObject({ rid: 'r1', ok: true, result: true });
    const applied = await kv('devices/dev1/temp');
    expect(Buffer.from(applied?.Value ?? '', 'base64').toString()).toBe('21.5');
    expect(ack1['index']).toBe(applied?.ModifyIndex);
    // The same request id again (a device retrying after a lost ack) is not applied twice.
    const again = await send(
      'write',
      await hs({ rid: 'r1', op: 'set', key: 'devices/dev1/temp', value: b64(new TextEncoder().encode('99')) }),
    );
    expect(again).toMatchObject({ rid: 'r1', ok: true, replayed: true, index: applied?.ModifyIndex });
    expect((await kv('devices/dev1/temp'))?.ModifyIndex).toBe(applied?.ModifyIndex);
    // An ES256 key works too; cas is honored.
    const es = await new SignJWT({
      rid: 'e1',
      op: 'cas',
      cas: 0,
      key: 'devices/dev2/state',
      value: b64(new TextEncoder().encode('on')),
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'dev2' })
      .setExpirationTime('1m')
      .sign(privateKey);
    expect(await send('write', es, 'dev2')).toMatchObject({ rid: 'e1', ok: true, result: true });
    const es2 = await new SignJWT({
      rid: 'e2',
      op: 'cas',
      cas: 0,
      key: 'devices/dev2/state',
      value: b64(new TextEncoder().encode('off')),
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'dev2' })
      .setExpirationTime('1m')
      .sign(privateKey);
    expect(await send('write', es2, 'dev2')).toMatchObject({ rid: 'e2', ok: true, result: false });

    // Refusals: each names its reason, none is applied.
    const refused: Array<[string, string, string]> = [
      ['malformed', 'not a jwt at all', 'malformed'],
      [
        'unsigned',
        new UnsecuredJWT({ rid: 'u1', op: 'set', key: 'devices/dev1/x', value: b64(new Uint8Array([1])) })
          .setExpirationTime('1m')
          .encode(),
        'unsigned',
      ],
      ['expired', await hs({ rid: 'x1', op: 'set', key: 'devices/dev1/x' }, secret, 'dev1', nowS() - 3600), 'expired'],
      ['forged', await hs({ rid: 'f1', op: 'set', key: 'devices/dev1/x' }, otherSecret), 'bad-signature'],
      ['unknown key', await hs({ rid: 'k1', op: 'set', key: 'devices/dev1/x' }, secret, 'nobody'), 'unknown-key'],
      ['outside its prefix', await hs({ rid: 'p1', op: 'set', key: 'devices/dev2/x' }), 'unauthorized'],
      ['bad claims', await hs({ rid: 'c1', op: 'explode', key: 'devices/dev1/x' }), 'malformed'],
    ];
    for (const [what, token, reason] of refused) {
      const ack = await send('write', token);
      expect(ack['ok'], what).toBe(false);
      expect(String(ack['error']), what).toMatch(new RegExp(`^${reason}:`));
    }
    expect(await kv('devices/dev1/x')).toBeUndefined();
    expect(await kv('devices/dev2/x')).toBeUndefined();
    // A topic whose device level is badly escaped is refused without bringing the server down.
    await client.publishAsync(`${ROOT}write/%ZZ`, w1, { qos: 1 });

    // Heartbeats: the device keeps a TTL check of its node passing; silence turns it critical.
    const reg = await fetch(`${server.url}/v1/catalog/register`, {
      method: 'PUT',
      body: JSON.stringify({
        Node: 'sensor-node',
        Address: '10.0.0.9',
        Check: { CheckID: 'temp-ttl', Name: 'temperature feed', Status: 'critical' },
      }),
    });
    expect(reg.status).toBe(200);
    const check = async () =>
      (
        (await (await fetch(`${server.url}/v1/health/node/sensor-node`)).json()) as Array<{
          CheckID: string;
          Status: string;
          Output: string;
        }>
      ).find((c) => c.CheckID === 'temp-ttl');
    const hb = await send(
      'check',
      await hs({ rid: 'h1', node: 'sensor-node', check: 'temp-ttl', status: 'passing', output: 'ok 21.5C', ttl: '2s' }),
    );
    expect(hb).toMatchObject({ rid: 'h1', ok: true });
    expect(await check()).toMatchObject({ Status: 'passing', Output: 'ok 21.5C', Name: 'temperature feed' });
    expect(
      await send('check', await hs({ rid: 'h2', node: 'other-node', check: 'temp-ttl', status: 'passing' })),
    ).toMatchObject({ ok: false, error: expect.stringMatching(/^unauthorized:/) });
    const expired = await until('the TTL to expire', check, (c) => c?.Status === 'critical', 10_000);
    expect(expired?.Output).toMatch(/TTL expired/);

    // Signed traffic puts the device in the fleet table, with its last heartbeat.
    const fleet = await until(
      'dev1 in the fleet',
      async () =>
        (await (await fetch(`${server.url}/v1/edge/agents?kind=device`)).json()) as Array<Record<string, unknown>>,
      (l) => l.some((m) => m['ID'] === 'dev1'),
    );
    expect(fleet.find((m) => m['ID'] === 'dev1')).toMatchObject({ Kind: 'device', Link: 'mqtt', Status: 'online' });
    expect(fleet.some((m) => m['ID'] === 'test-device')).toBe(false);

    // Every refusal was counted by reason.
    const metrics = await (await fetch(`${server.url}/v1/agent/metrics?format=prometheus`)).text();
    const count = (reason: string) =>
      Number(new RegExp(`konsul_mqtt_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    // "x" probes (at least one) + "not a jwt" + bad claims + the badly escaped topic.
    expect(count('malformed')).toBeGreaterThanOrEqual(4);
    expect([count('unsigned'), count('expired'), count('bad-signature'), count('unknown-key')]).toEqual([1, 1, 1, 1]);
    expect(count('unauthorized')).toBe(2);
    expect(metrics).toMatch(/konsul_mqtt_heartbeats_total 1/);
    expect(metrics).toMatch(/konsul_mqtt_heartbeat_ttl_expired_total 1/);
    expect(server.output()).not.toContain(w1);
    await client.endAsync();
    expect(await server.stop()).toBe(0);
  });
});
