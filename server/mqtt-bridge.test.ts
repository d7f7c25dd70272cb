import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeRetained, decodeSyncMessage } from '../core/sync/codec.js';
import type { SyncBatch } from '../core/sync/types.js';
import { spawnMosquitto } from '../testing/mosquitto.js';
import { until } from '../testing/process.js';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';

afterAll(cleanupAll);

const ROOT = 'konsul/v1/dc1/';
const KV = `${ROOT}kv/`;
const HEALTH = `${ROOT}health/`;

/** What a topic stands for, comparable across HTTP, the `changes` batches and retained payloads. */
type View = Map<string, string>;

const kvView = (value: Uint8Array | string, modifyIndex: number) =>
  `${typeof value === 'string' ? value : Buffer.from(value).toString()}@${modifyIndex}`;
const healthView = (meta: Record<string, string>, modifyIndex: number) => `n=${meta['n'] ?? ''}@${modifyIndex}`;
const healthTopic = (service: string, node: string, id: string) => `${HEALTH}${service}/${node}/${id}`;

/** Decodes a retained payload into the view (undefined: the topic was cleared). */
function retainedView(topic: string, payload: Buffer): string | undefined {
  if (payload.byteLength === 0) return undefined;
  if (topic.startsWith(KV)) {
    const { entry } = decodeRetained(payload, 'kv');
    return kvView(entry.value, entry.modifyIndex);
  }
  const { entry } = decodeRetained(payload, 'health');
  return healthView(entry.service.Meta, entry.service.ModifyIndex);
}

/** Applies a batch the way a replica does, to a view keyed by topic. */
function applyBatch(view: View, batch: SyncBatch): void {
  for (const ch of batch.changes) {
    if (ch.t === 'kv') {
      if (ch.entry) view.set(KV + ch.key, kvView(ch.entry.value, ch.entry.modifyIndex));
      else view.delete(KV + ch.key);
    } else if (ch.t === 'kv-tree') {
      for (const topic of [...view.keys()]) if (topic.startsWith(KV + ch.prefix)) view.delete(topic);
    } else {
      const topic = healthTopic(ch.service, ch.node, ch.id);
      if (ch.entry) view.set(topic, healthView(ch.entry.service.Meta, ch.entry.service.ModifyIndex));
      else view.delete(topic);
    }
  }
}

/** Whether the topic is one of the burst's keys or `web` instances. */
const isOurs = (topic: string): boolean => topic.startsWith(`${KV}burst/`) || topic.startsWith(`${HEALTH}web/`);

/** Only the topics of the burst's keys and the `web` instances, in topic order. */
const ours = (view: View): View => new Map([...view].filter(([t]) => isOurs(t)).sort());

async function call(url: string, method: string, body?: string): Promise<Response> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { body }) });
  if (res.status !== 200) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return res;
}

/** Runs the operations with `width` in flight at once, in list order. */
async function burst(ops: ReadonlyArray<() => Promise<unknown>>, width: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < ops.length; i = next++) await (ops[i] as () => Promise<unknown>)();
    }),
  );
}

/** Reads what the server holds for the test's keys and instances, as a view keyed by topic. */
async function serverView(up: string): Promise<View> {
  const view: View = new Map();
  const kv = (await (await fetch(`${up}/v1/kv/burst?recurse`)).json()) as Array<{
    Key: string;
    Value: string | null;
    ModifyIndex: number;
  }>;
  for (const e of kv) view.set(KV + e.Key, kvView(Buffer.from(e.Value ?? '', 'base64').toString(), e.ModifyIndex));
  const health = (await (await fetch(`${up}/v1/health/service/web`)).json()) as Array<{
    Node: { Node: string };
    Service: { ID: string; Service: string; Meta: Record<string, string>; ModifyIndex: number };
  }>;
  for (const h of health)
    view.set(
      healthTopic(h.Service.Service, h.Node.Node, h.Service.ID),
      healthView(h.Service.Meta, h.Service.ModifyIndex),
    );
  return view;
}

/** A subscriber that keeps every batch of `changes` and the last payload of every retained topic. */
async function subscriber(url: string) {
  const c: MqttClient = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  const batches: SyncBatch[] = [];
  const last: View = new Map();
  const packets: Array<{ topic: string; qos: number; retain: boolean }> = [];
  c.on('message', (topic, payload, packet: IPublishPacket) => {
    if (topic === `${ROOT}changes`) {
      const m = decodeSyncMessage(payload);
      if (m.k === 'batch') batches.push(m.batch);
      return;
    }
    if (!topic.startsWith(KV) && !topic.startsWith(HEALTH)) return;
    packets.push({ topic, qos: packet.qos, retain: packet.retain });
    const v = retainedView(topic, payload);
    if (v === undefined) last.delete(topic);
    else last.set(topic, v);
  });
  return { client: c, batches, last, packets };
}

const register = (up: string, node: string, id: string, n: number) =>
  call(
    `${up}/v1/catalog/register`,
    'PUT',
    JSON.stringify({
      Node: node,
      Address: '10.0.0.9',
      Service: { ID: id, Service: 'web', Port: 80, Meta: { n: String(n) } },
    }),
  );

const BROKERS = ['the embedded aedes broker (in-process publishing)', 'mosquitto (through the client)'] as const;

describe.each(BROKERS)('the MQTT bridge with %s', (broker) => {
  const title =
    'after a burst of changes to the same and to many keys and instances, retained topics hold ' +
    'the final state and `changes` carried every batch in index order';
  it(title, async () => {
    // Without TCP_NODELAY mosquitto's PUBACKs wait for delayed ACKs (about 40 ms a batch here),
    // and this burst would take a minute to go through; the order is what is tested.
    const mosquitto = broker.startsWith('mosquitto')
      ? await spawnMosquitto(undefined, ['set_tcp_nodelay true'])
      : undefined;
    const server = await spawnServer(mosquitto ? { args: ['--mqtt-url', mosquitto.url] } : {});
    const up = server.url;
    const url = mosquitto?.url ?? `mqtt://${server.mqttAddr}`;

    // Subscribed to `changes` and to the retained topics at once: a message delivered out of the
    // broker's order would be dropped for such a subscriber (aedes dedupes by message number).
    const live = await subscriber(url);
    await live.client.subscribeAsync([`${ROOT}changes`, `${KV}#`, `${HEALTH}#`], { qos: 1 });
    // The bridge follows the change feed from when it is connected and leading (what came before
    // reaches subscribers through the retained topics alone): the burst starts once a write shows
    // on `changes`, so every one of its batches must be there.
    await until(
      'the bridge to publish on changes',
      async () => {
        await call(`${up}/v1/kv/burst-start`, 'PUT', 'start');
        return live.batches.length;
      },
      (n) => n > 0,
      30_000,
    );

    for (let j = 0; j < 20; j++) await call(`${up}/v1/kv/burst/gone/${j}`, 'PUT', `g${j}`);
    const ops: Array<() => Promise<unknown>> = [];
    for (let i = 0; i < 400; i++) {
      ops.push(() => call(`${up}/v1/kv/burst/same`, 'PUT', `s${i}`));
      ops.push(() => call(`${up}/v1/kv/burst/k${i % 80}`, 'PUT', `k${i}`));
      if (i % 4 === 0) {
        // One index, two changes of the same key: the later one must be the retained one.
        const txn = [
          { KV: { Verb: 'set', Key: 'burst/t/x', Value: Buffer.from(`a${i}`).toString('base64') } },
          { KV: { Verb: 'set', Key: 'burst/t/x', Value: Buffer.from(`b${i}`).toString('base64') } },
          { KV: { Verb: 'set', Key: `burst/t/y${i % 7}`, Value: Buffer.from(`y${i}`).toString('base64') } },
        ];
        ops.push(() => call(`${up}/v1/txn`, 'PUT', JSON.stringify(txn)));
      }
      if (i % 2 === 0) ops.push(() => register(up, 'n-same', 'web-same', i));
      if (i < 60) ops.push(() => register(up, `n-${i % 6}`, `web-${i}`, i));
    }
    await burst(ops, 48);
    // Deletes: a subtree (one batch listing its keys) and instances, among more writes.
    const deletes: Array<() => Promise<unknown>> = [() => call(`${up}/v1/kv/burst/gone?recurse`, 'DELETE')];
    for (let i = 40; i < 60; i++)
      deletes.push(() =>
        call(`${up}/v1/catalog/deregister`, 'PUT', JSON.stringify({ Node: `n-${i % 6}`, ServiceID: `web-${i}` })),
      );
    for (let i = 0; i < 50; i++) deletes.push(() => call(`${up}/v1/kv/burst/same`, 'PUT', `last${i}`));
    await burst(deletes, 16);
    await call(`${up}/v1/kv/burst-end`, 'PUT', 'end');
    const endIndex = ((await (await fetch(`${up}/v1/kv/burst-end`)).json()) as Array<{ ModifyIndex: number }>)[0]
      ?.ModifyIndex as number;

    // The end key is published last: once its retained topic reached the live subscriber, so did
    // everything before it.
    await until(
      'the last write to reach the live subscriber',
      async () => live.last.get(`${KV}burst-end`),
      (v) => v === `end@${endIndex}`,
      30_000,
    );
    const want = ours(await serverView(up));
    expect(want.get(`${KV}burst/same`)).toMatch(/^last/);
    expect([...want.keys()].some((t) => t.startsWith(`${KV}burst/gone/`))).toBe(false);
    expect(want.has(`${HEALTH}web/n-same/web-same`)).toBe(true);
    expect(want.has(healthTopic('web', 'n-0', 'web-42'))).toBe(false);

    // `changes`: every batch once, in index order, each linked to the one before; applied in
    // order they give the server's state.
    const indexes = live.batches.map((b) => b.index);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(new Set(indexes).size).toBe(indexes.length);
    live.batches.slice(1).forEach((b, i) => expect(b.prev).toBe(live.batches[i]?.index));
    expect(indexes.at(-1)).toBeGreaterThanOrEqual(endIndex);
    const replica: View = new Map();
    for (const b of live.batches) applyBatch(replica, b);
    expect(ours(replica)).toEqual(want);

    // The last message of each retained topic the live subscriber got is the final state (the
    // subtree's and the instances' topics were cleared), each at QoS 1, not flagged retained. Only
    // the burst's topics: a broker sends the retained messages of a new subscription after its
    // SUBACK, so `burst-start` may reach the live subscriber flagged retained.
    expect(ours(live.last)).toEqual(want);
    const burstPackets = live.packets.filter((p) => isOurs(p.topic));
    expect(burstPackets.length).toBeGreaterThan(0);
    expect(burstPackets.filter((p) => p.qos !== 1 || p.retain)).toEqual([]);

    // A subscriber arriving now gets the final state from the retained topics alone.
    const fresh = await subscriber(url);
    await fresh.client.subscribeAsync([`${KV}burst/#`, `${HEALTH}web/#`], { qos: 1 });
    await until(
      'every retained topic to reach the new subscriber',
      async () => [...want.keys()].filter((t) => !fresh.last.has(t)),
      (missing) => missing.length === 0,
    );
    expect(ours(fresh.last)).toEqual(want);
    expect(fresh.packets.every((p) => p.qos === 1 && p.retain)).toBe(true);

    await Promise.all([live.client.endAsync(), fresh.client.endAsync()]);
    await server.stop();
    await mosquitto?.stop();
  });
});

describe('the MQTT bridge with the embedded broker', () => {
  it('skips the retained topic of a key too deep for the broker and goes on publishing', async () => {
    const server = await spawnServer();
    const up = server.url;
    const live = await subscriber(`mqtt://${server.mqttAddr}`);
    await live.client.subscribeAsync([`${ROOT}changes`, `${KV}#`], { qos: 1 });
    // The bridge follows the change feed from when it is connected (what came before reaches
    // subscribers through the retained topics alone): the keys under test are written once a
    // write shows on `changes`.
    await until(
      'the bridge to publish on changes',
      async () => {
        await call(`${up}/v1/kv/probe`, 'PUT', 'probe');
        return live.batches.length;
      },
      (n) => n > 0,
    );

    // konsul/v1/dc1/kv/ and 100 levels of key: deeper than the broker's 100-level topics.
    const deep = Array.from({ length: 100 }, (_, i) => `d${i}`).join('/');
    await call(`${up}/v1/kv/${deep}`, 'PUT', 'deep');
    await call(`${up}/v1/kv/after-deep`, 'PUT', 'next');
    await until(
      'the write after the deep key to reach the subscriber',
      async () => live.last.get(`${KV}after-deep`),
      (v) => v !== undefined && v.startsWith('next@'),
    );
    // The deep key's change still went out on `changes`, in order before the next one.
    const keys = live.batches.flatMap((b) => b.changes.flatMap((ch) => (ch.t === 'kv' ? [ch.key] : [])));
    expect(keys.filter((k) => k !== 'probe')).toEqual([deep, 'after-deep']);
    expect(server.output()).toMatch(/"@message":"retained topic skipped"/);
    expect(server.output()).not.toMatch(/mqtt publish failed/);

    await live.client.endAsync();
    expect(await server.stop()).toBe(0);
  });
});
