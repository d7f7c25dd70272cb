import mqtt, { type IPublishPacket } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../testing/spawn-server.js';
import { spawnMosquitto } from '../testing/mosquitto.js';
import { cleanupAll, tempDir, until } from '../testing/process.js';
import { spawnEdge } from '../testing/spawn-edge.js';

afterAll(cleanupAll);

const text = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
};
const put = (url: string, body: string) => text(url, { method: 'PUT', body });
const register = (up: string, node: string, svc: string, status: string) =>
  put(
    `${up}/v1/catalog/register`,
    JSON.stringify({
      Node: node,
      Address: '10.0.0.2',
      Service: { ID: `${svc}-${node}`, Service: svc, Port: 80 },
      Check: { CheckID: `chk-${svc}`, Name: 'c', Status: status, ServiceID: `${svc}-${node}` },
    }),
  );
/** Whether a JSON log holds a line with this message whose fields include `fields`. */
const logged = (out: string, message: string, fields: Record<string, unknown>): boolean =>
  out.split('\n').some((line) => {
    if (!line.includes(`"@message":${JSON.stringify(message)}`)) return false;
    const rec = JSON.parse(line) as Record<string, unknown>;
    return Object.entries(fields).every(([k, v]) => rec[k] === v);
  });
const healthNodes = async (edge: string, query = '') =>
  (JSON.parse((await text(`${edge}/v1/health/service/web${query}`)).body) as Array<{ Node: { Node: string } }>)
    .map((e) => e.Node.Node)
    .sort();

describe('edge agent synced over MQTT', () => {
  it('with the embedded aedes broker: snapshot, ordered changes, deletes, health, resume after restart', async () => {
    const server = await spawnServer();
    const up = server.url;
    await put(`${up}/v1/kv/cfg/a`, 'one');
    await put(`${up}/v1/kv/cfg/sub/x`, 'x');
    await put(`${up}/v1/kv/elsewhere`, 'no');
    expect((await register(up, 'n1', 'web', 'passing')).status).toBe(200);
    expect((await register(up, 'n1', 'db', 'passing')).status).toBe(200);

    const dataDir = tempDir('konsul-edge-');
    const args = ['--sync', 'mqtt', '--mqtt-url', `mqtt://${server.mqttAddr}`, '--prefix', 'cfg/', '--service', 'web'];
    let edge = await spawnEdge({ upstream: up, dataDir, args });
    await edge.waitFor(/replica in sync over MQTT/);
    // The agent tries MQTT 5 first (--mqtt-protocol auto); aedes refuses it, so it speaks 3.1.1.
    expect(edge.output()).toMatch(/the MQTT broker refused MQTT 5; connecting with MQTT 3\.1\.1/);
    expect(logged(edge.output(), 'mqtt connected', { protocol: '3.1.1' })).toBe(true);
    expect(logged(edge.output(), 'mqtt connected', { protocol: '5' })).toBe(false);
    expect(logged(server.output(), 'mqtt bridge connected', { protocol: '3.1.1' })).toBe(true);
    expect((await text(`${edge.url}/v1/kv/cfg/a?raw`)).body).toBe('one');
    expect(JSON.parse((await text(`${edge.url}/v1/kv/cfg/?keys`)).body)).toEqual(['cfg/a', 'cfg/sub/x']);
    expect(await healthNodes(edge.url)).toEqual(['n1']);
    await until(
      'the link to count as up',
      () => text(`${edge.url}/v1/kv/cfg/a`),
      (r) => r.headers.get('x-consul-knownleader') === 'true',
    );

    // Changes arrive in order: a set, a recursive delete, a health change.
    for (let i = 0; i < 20; i++) await put(`${up}/v1/kv/cfg/seq`, String(i));
    await until(
      'the last of 20 writes',
      () => text(`${edge.url}/v1/kv/cfg/seq?raw`),
      (r) => r.body === '19',
    );
    expect((await text(`${up}/v1/kv/cfg/sub/?recurse`, { method: 'DELETE' })).status).toBe(200);
    await until(
      'the subtree delete',
      () => text(`${edge.url}/v1/kv/cfg/sub/x`),
      (r) => r.status === 404,
    );
    expect((await register(up, 'n1', 'web', 'critical')).status).toBe(200);
    await until(
      'the check going critical',
      () => healthNodes(edge.url, '?passing'),
      (n) => n.length === 0,
    );
    expect(JSON.parse((await text(`${edge.url}/v1/kv/cfg/?keys`)).body)).toEqual(['cfg/a', 'cfg/seq']);

    // A restarted agent resumes from its index: no snapshot is sent again.
    expect(await edge.stop()).toBe(0);
    await put(`${up}/v1/kv/cfg/while-down`, 'w');
    edge = await spawnEdge({ upstream: up, dataDir, args });
    await edge.waitFor(/replica in sync over MQTT/);
    expect(edge.output()).toMatch(/replica loaded/);
    expect(edge.output()).not.toMatch(/replica snapshot applied/);
    await until(
      'the write made while the agent was down',
      () => text(`${edge.url}/v1/kv/cfg/while-down?raw`),
      (r) => r.body === 'w',
    );

    // The broker lives in the server: when the server stops, the agent serves from its replica.
    expect(await server.stop()).toBe(0);
    const offline = await until(
      'the agent to notice',
      () => text(`${edge.url}/v1/kv/cfg/a?raw`),
      (r) => r.headers.get('x-consul-knownleader') === 'false',
    );
    expect(offline.body).toBe('one');
    await edge.stop();
  });

  const title =
    'with mosquitto: servers on an external broker, presence, ' +
    'and a new agent starting from retained topics while the servers are down';
  it(title, async () => {
    const broker = await spawnMosquitto();
    const serverDir = tempDir();
    let server = await spawnServer({ dataDir: serverDir, args: ['--mqtt-url', broker.url] });
    expect(server.mqttAddr).toBe('external');
    const up = server.url;
    await put(`${up}/v1/kv/app/color`, 'blue');
    await put(`${up}/v1/kv/app/size`, 'L');
    expect((await register(up, 'n1', 'web', 'passing')).status).toBe(200);

    const args = ['--sync', 'mqtt', '--mqtt-url', broker.url, '--prefix', 'app/', '--service', 'web'];
    // An MQTT 5 observer of the agents' announcements (their expiry is a property of the packet).
    const observer = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    const announcements: Array<IPublishPacket['properties']> = [];
    observer.on('message', (_topic, _payload, packet: IPublishPacket) => announcements.push(packet.properties));
    await observer.subscribeAsync('konsul/v1/dc1/agents/+', { qos: 1 });
    const firstDir = tempDir('konsul-edge-');
    let first = await spawnEdge({ upstream: up, dataDir: firstDir, args });
    await first.waitFor(/replica in sync over MQTT/);
    // Servers and agents on mosquitto speak MQTT 5, each with a session that outlives a drop.
    expect(logged(server.output(), 'mqtt bridge connected', { protocol: '5', sessionPresent: false })).toBe(true);
    expect(logged(first.output(), 'mqtt connected', { protocol: '5' })).toBe(true);
    expect(first.output()).not.toMatch(/refused MQTT 5/);
    // The agent's announcement expires before the next one is due (--announce-interval 10).
    const announced = await until(
      'an announcement',
      async () => announcements,
      (l) => l.length > 0,
    );
    expect(announced[0]?.messageExpiryInterval).toBeGreaterThan(0);
    expect(announced[0]?.messageExpiryInterval).toBeLessThanOrEqual(10);
    await observer.endAsync();
    expect((await text(`${first.url}/v1/kv/app/color?raw`)).body).toBe('blue');
    await put(`${up}/v1/kv/app/color`, 'green');
    await until(
      'a change through mosquitto',
      () => text(`${first.url}/v1/kv/app/color?raw`),
      (r) => r.body === 'green' && r.headers.get('x-consul-knownleader') === 'true',
    );

    // The server dies without a goodbye: the broker publishes its will, and the agent knows.
    expect(await server.stop('SIGKILL')).toBe('SIGKILL');
    const stale = await until(
      'the will to arrive',
      () => text(`${first.url}/v1/kv/app/color?raw`),
      (r) => r.headers.get('x-consul-knownleader') === 'false',
    );
    expect(stale.body).toBe('green');

    // A brand-new agent starts while no server runs: it seeds from the retained topics.
    const second = await spawnEdge({ upstream: up, args });
    await second.waitFor(/replica seeded from retained MQTT topics/, 15_000);
    const seeded = await text(`${second.url}/v1/kv/app/color?raw`);
    expect(seeded.body).toBe('green');
    expect(seeded.headers.get('x-consul-knownleader')).toBe('false');
    expect((await text(`${second.url}/v1/kv/app/size?raw`)).body).toBe('L');
    expect(await healthNodes(second.url, '?passing')).toEqual(['n1']);

    // The server returns: the new agent gets a real snapshot, both agents follow changes again.
    server = await spawnServer({ dataDir: serverDir, args: ['--mqtt-url', broker.url] });
    await second.waitFor(/replica snapshot applied/, 15_000);
    // Same name, same client id: mosquitto kept the killed server's session for it.
    await until(
      'the returning server to resume its MQTT session',
      async () => server.output(),
      (out) => logged(out, 'mqtt bridge connected', { protocol: '5', sessionPresent: true }),
    );
    await put(`${server.url}/v1/kv/app/color`, 'red');
    for (const e of [first, second])
      await until(
        'the change after the server returned',
        () => text(`${e.url}/v1/kv/app/color?raw`),
        (r) => r.body === 'red' && r.headers.get('x-consul-knownleader') === 'true',
        15_000,
      );

    // An agent restarted within the session expiry resumes its session, and follows on.
    expect(await first.stop()).toBe(0);
    await put(`${server.url}/v1/kv/app/color`, 'violet');
    first = await spawnEdge({ upstream: up, dataDir: firstDir, args });
    await until(
      'the change made while the agent was down',
      () => text(`${first.url}/v1/kv/app/color?raw`),
      (r) => r.body === 'violet',
      15_000,
    );
    expect(logged(first.output(), 'mqtt connected', { protocol: '5', sessionPresent: true })).toBe(true);

    // A clean stop publishes "offline" itself.
    expect(await server.stop()).toBe(0);
    await until(
      'the clean stop to be seen',
      () => text(`${first.url}/v1/kv/app/color`),
      (r) => r.headers.get('x-consul-knownleader') === 'false',
    );
    await Promise.all([first.stop(), second.stop(), broker.stop()]);
  });
});
