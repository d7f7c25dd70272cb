import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../testing/process.js';
import { spawnEdge } from '../testing/spawn-edge.js';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';

afterAll(cleanupAll);

const ROOT = 'konsul/v1/dc1/';

describe('ACLs on the embedded MQTT broker', () => {
  const title =
    'authenticates by token, limits subscriptions to what the token reads, ' +
    'and lets only servers publish Konsul topics';
  it(title, async () => {
    const server = await spawnServer({ args: ['--acl-enabled', '--acl-default-policy', 'deny'] });
    const up = server.url;
    const mgmt = ((await (await fetch(`${up}/v1/acl/bootstrap`, { method: 'PUT' })).json()) as { SecretID: string })
      .SecretID;
    const h = { 'X-Consul-Token': mgmt };
    const token = async (name: string, rules: string) => {
      expect(
        (
          await fetch(`${up}/v1/acl/policy`, {
            method: 'PUT',
            headers: h,
            body: JSON.stringify({ Name: name, Rules: rules }),
          })
        ).status,
      ).toBe(200);
      return (
        (await (
          await fetch(`${up}/v1/acl/token`, {
            method: 'PUT',
            headers: h,
            body: JSON.stringify({ Policies: [{ Name: name }] }),
          })
        ).json()) as { SecretID: string }
      ).SecretID;
    };
    const all = await token(
      'all-read',
      'key_prefix "" { policy = "read" }\nservice_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }',
    );
    const cfg = await token('cfg-read', 'key_prefix "cfg/" { policy = "read" }');
    const url = `mqtt://${server.mqttAddr}`;
    const clients: MqttClient[] = [];
    const connect = async (password?: string, clientId?: string) => {
      const c = await mqtt.connectAsync(url, {
        protocolVersion: 4,
        reconnectPeriod: 0,
        ...(clientId ? { clientId } : {}),
        ...(password ? { username: 'u', password } : {}),
      });
      clients.push(c);
      return c;
    };
    // mqtt.js rejects a subscription the broker refused (SUBACK 128).
    const granted = async (c: MqttClient, filter: string) =>
      c.subscribeAsync(filter, { qos: 1 }).then(
        (g) => g[0]?.qos ?? -1,
        (err: Error) => (/Subscribe error/.test(err.message) ? 128 : -2),
      );

    // An unknown token cannot connect.
    await expect(connect('6a1c4b7e-0000-4000-8000-000000000000')).rejects.toThrow();

    const anon = await connect();
    expect(await granted(anon, `${ROOT}changes`)).toBe(128);
    expect(await granted(anon, `${ROOT}kv/#`)).toBe(128);
    expect(await granted(anon, `${ROOT}servers/+`)).toBe(1);

    const reader = await connect(all);
    expect(await granted(reader, `${ROOT}changes`)).toBe(1);
    const got = new Promise<string>((resolve) =>
      reader.on('message', (topic) => topic === `${ROOT}changes` && resolve(topic)),
    );
    await fetch(`${up}/v1/kv/cfg/a`, { method: 'PUT', body: 'v', headers: h });
    expect(await got).toBe(`${ROOT}changes`);

    const limited = await connect(cfg);
    expect(await granted(limited, `${ROOT}kv/cfg/#`)).toBe(1);
    expect(await granted(limited, `${ROOT}kv/cfg/a`)).toBe(1);
    expect(await granted(limited, `${ROOT}kv/#`)).toBe(128);
    expect(await granted(limited, `${ROOT}changes`)).toBe(128);
    expect(await granted(limited, '#')).toBe(128);
    expect(await granted(limited, `${ROOT}sync/resp/someone-else`)).toBe(128);
    // Publishing on a server topic closes the connection; nothing reaches the subscribers.
    const closed = new Promise<void>((resolve) => limited.once('close', () => resolve()));
    const forged: string[] = [];
    reader.on(
      'message',
      (topic, payload) => topic === `${ROOT}changes` && payload.toString() === 'forged' && forged.push(topic),
    );
    limited.publish(`${ROOT}changes`, 'forged');
    await closed;
    // A real change published after the forged one arrives in order: once it is here, the forged
    // message would have been too.
    const real = new Promise<void>((resolve) =>
      reader.on('message', (topic, payload) => topic === `${ROOT}kv/cfg/after` && payload.byteLength > 0 && resolve()),
    );
    expect(await granted(reader, `${ROOT}kv/cfg/after`)).toBe(1);
    await fetch(`${up}/v1/kv/cfg/after`, { method: 'PUT', body: 'x', headers: h });
    await real;
    expect(forged).toEqual([]);

    // Edge agents over MQTT: a token that reads the scope syncs; one that does not is refused.
    // This one announces every second, and its token lacks node:write on its name: the
    // announcements are not recorded, and they do not cost the agent its session.
    const edge = await spawnEdge({
      upstream: up,
      args: ['--sync', 'mqtt', '--mqtt-url', url, '--prefix', 'cfg/', '--token', all, '--announce-interval', '1'],
    });
    // Reads through the agent carry their own token (the agent lends its own to no one).
    await until(
      'the replica over MQTT',
      () => fetch(`${edge.url}/v1/kv/cfg/a?raw`, { headers: { 'X-Consul-Token': all } }).then((r) => r.text()),
      (t) => t === 'v',
    );
    await new Promise((r) => setTimeout(r, 3000));
    expect(edge.output().match(/mqtt connected/g)?.length).toBe(1);
    expect(await (await fetch(`${up}/v1/edge/agents`, { headers: h })).json()).toEqual([]);
    const refused = await spawnEdge({
      upstream: up,
      args: ['--sync', 'mqtt', '--mqtt-url', url, '--prefix', 'other/', '--token', cfg],
    });
    await server.waitFor(/sync request refused: its token may not read the scope/);
    // Sessions follow their token: deleted, or narrowed below a subscription, the session is closed.
    const follow = await token('follow', 'key_prefix "cfg/" { policy = "read" }');
    const gone = await token('gone', 'key_prefix "cfg/" { policy = "read" }');
    const narrowed = await connect(follow);
    const deleted = await connect(gone);
    expect(await granted(narrowed, `${ROOT}kv/cfg/#`)).toBe(1);
    expect(await granted(deleted, `${ROOT}kv/cfg/#`)).toBe(1);
    const narrowedClosed = new Promise<void>((resolve) => narrowed.once('close', () => resolve()));
    const deletedClosed = new Promise<void>((resolve) => deleted.once('close', () => resolve()));
    const policies = (await (await fetch(`${up}/v1/acl/policies`, { headers: h })).json()) as Array<{
      ID: string;
      Name: string;
    }>;
    const followId = policies.find((p) => p.Name === 'follow')?.ID as string;
    await fetch(`${up}/v1/acl/policy/${followId}`, {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({ Name: 'follow', Rules: 'key "cfg/a" { policy = "read" }' }),
    });
    await narrowedClosed;
    const tokens = (await (await fetch(`${up}/v1/acl/tokens`, { headers: h })).json()) as Array<{
      AccessorID: string;
      Policies?: Array<{ Name: string }>;
    }>;
    const goneAccessor = tokens.find((t) => t.Policies?.some((p) => p.Name === 'gone'))?.AccessorID as string;
    await fetch(`${up}/v1/acl/token/${goneAccessor}`, { method: 'DELETE', headers: h });
    await deletedClosed;
    await server.waitFor(/mqtt session closed: its token changed/);

    for (const out of [server.output(), edge.output(), refused.output()])
      for (const s of [mgmt, all, cfg, follow, gone]) expect(out).not.toContain(s);
    await Promise.all([edge.stop(), refused.stop(), ...clients.map((c) => c.endAsync(true))]);
    expect(await server.stop()).toBe(0);
  });
});
