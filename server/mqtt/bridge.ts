import mqtt, { type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import type { CheckInput, CatalogRegisterCommand } from '../../core/catalog/state-machine.js';
import { type CatalogCheck, CHECKS_TABLE, childKey, NODES_TABLE } from '../../core/catalog/types.js';
import type { Clock } from '../../core/ports/clock.js';
import type { Logger } from '../../core/ports/logger.js';
import type { Writer } from '../../core/pipeline/writer.js';
import {
  decodeSyncMessage,
  encodeBatchForBroker,
  encodeRetained,
  encodeSyncMessage,
  type SyncMessage,
} from '../../core/sync/codec.js';
import {
  type DeviceKey,
  type RejectReason,
  verifyDeviceHeartbeat,
  verifyDeviceWrite,
  type DeviceWrite,
} from '../../core/sync/device.js';
import {
  ACK_EXPIRY_SECONDS,
  ackProperties,
  failureCode,
  firstProtocolLevel,
  heartbeatAckExpirySeconds,
  type MqttProtocol,
  type ProtocolLevel,
  type PublishProperties,
  REASON,
  refusalCode,
  type RequestEcho,
  requestEcho,
  sessionOptions,
  shouldFallBack,
} from '../../core/sync/mqtt5.js';
import { ALL_FILTERS, normalizeScope } from '../../core/sync/scope.js';
import { catchUp, type SyncSource, SyncStream } from '../../core/sync/stream.js';
import { topics, type Topics } from '../../core/sync/topics.js';
import type { SyncBatch, SyncScope } from '../../core/sync/types.js';
import type { TxnCommand, TxnOp, TxnOutcome } from '../../core/txn/types.js';
import { parseDuration } from '../../core/util/duration.js';
import { listServices, serviceHealth } from '../../core/catalog/queries.js';
import { readAppliedIndex } from '../../core/fsm/meta.js';
import { listEntries } from '../../core/kv/queries.js';
import { TooLargeError } from '../../core/errors.js';
import type { ServerMetrics } from '../metrics.js';
import type { InProcessPublisher } from './broker.js';
import type { FleetReporter } from '../../core/fleet/reporter.js';
import { deviceReport, isFleetName, parseReport } from '../../core/fleet/input.js';

/** What the MQTT bridge needs from the server. */
export interface MqttBridgeOptions {
  /** Broker URL (mqtt://host:port): the embedded broker, or an external one. */
  readonly url: string;
  /**
   * With the embedded broker: publishes the `changes` batches and the retained topics in-process
   * (republishing included). Absent with an external broker, where they go through the client
   * connection. The client connection carries everything else either way: presence and its will,
   * the subscriptions, sync responses and acks.
   */
  readonly inProcess?: InProcessPublisher;
  readonly clientId: string;
  /**
   * The MQTT version to speak: `3.1.1` with the embedded broker (aedes speaks no other);
   * with an external one `5` or `auto` (5, and 3.1.1 when the broker refuses 5). See core/sync/mqtt5.ts.
   */
  readonly protocol: MqttProtocol;
  /** Session Expiry Interval of the MQTT 5 session (seconds, 0..86,400); unused on 3.1.1. */
  readonly sessionExpirySeconds: number;
  readonly datacenter: string;
  /**
   * Whether this server carries the MQTT duties now: always with its own embedded broker; only
   * while it leads when servers share an external broker (so nothing is published twice).
   */
  readonly active: () => boolean;
  readonly source: SyncSource;
  readonly writer: Writer;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly deviceKeys: ReadonlyMap<string, DeviceKey>;
  readonly kvMaxValueBytes: number;
  /** How often an idle changes topic gets a change-less batch (ms). */
  readonly progressMs: number;
  /** Credentials for the broker (the embedded broker's internal secret when ACLs are on). */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** With ACLs on: whether a sync request's token may read its whole scope. */
  readonly mayRead?: (token: string | undefined, scope: SyncScope) => boolean;
  /** Where agents' announcements (`agents/<id>`) and devices' signs of life go (the fleet table). */
  readonly fleet?: FleetReporter;
  /** With ACLs on the embedded broker: whether an agent's announcement counts (see MqttAccess.mayAnnounce). */
  readonly mayAnnounce?: (agent: string) => boolean;
}

/** Largest device message accepted (bytes); larger ones are refused as malformed. */
const MAX_DEVICE_MESSAGE_BYTES = 1024 * 1024;
/** Most sync requests waiting to be answered; more are dropped (the replica retries). */
const MAX_PENDING_REQUESTS = 64;
/** Most retained topics collected when republishing (beyond it stale ones may stay). */
const MAX_RETAINED_TOPICS = 1_000_000;
/** How long retained messages are collected after subscribing (ms). */
const RETAINED_SCAN_MS = 500;
/** Most retained publishes in flight at once (republishing, or one batch's topics). */
const PUBLISH_CONCURRENCY = 256;
/** Services read for republishing between two turns of the event loop. */
const SERVICES_PER_TURN = 64;
/** Retained publishes issued between two turns of the event loop. */
const YIELD_EVERY = 256;
/** A retained topic's payload, or how to encode it when it is published. */
type Payload = Buffer | (() => Buffer);
/** Most MQTT-fed checks with a heartbeat deadline. */
const MAX_HEARTBEAT_DEADLINES = 100_000;

/** `bytes` as a Buffer over the same memory (the encoders return arrays nobody else holds). */
const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

const ONLINE = JSON.stringify({ status: 'online' });
const OFFLINE = JSON.stringify({ status: 'offline' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SCOPE_ALL = { prefixes: [''], services: [] };

/**
 * The server's MQTT bridge. While active it publishes every KV and health change — one batch per
 * index on the `changes` topic, and the latest value of each key and instance on retained topics —
 * answers replicas' sync requests from the change feed (or with a snapshot), applies devices'
 * JWT-signed KV writes (exactly once per request id) and TTL-check heartbeats, and acks them
 * (over MQTT 5 with a reason code, the device's echoed request id and Correlation Data, and an
 * expiry). Refused device messages are counted by reason and logged without their token.
 */
export class MqttBridge {
  private client: MqttClient | undefined;
  private readonly t: Topics;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private requests: Array<() => Promise<void>> = [];
  private serving = false;
  private readonly deadlines = new Map<string, NodeJS.Timeout>();
  /** The protocol level of the current connection (4: MQTT 3.1.1, 5: MQTT 5). */
  private level: ProtocolLevel;
  /** Whether republishRetained holds its temporary subscriptions to the retained topics. */
  private scanning = false;

  constructor(private readonly o: MqttBridgeOptions) {
    this.t = topics(o.datacenter);
    this.level = firstProtocolLevel(o.protocol);
  }

  /** Connects (retrying in the background if the broker is not up yet) and starts the duties. */
  async start(): Promise<void> {
    this.open(this.level);
    this.loop = this.publishLoop();
  }

  /**
   * Opens the client connection at `level`. Under `auto`, a broker that refuses MQTT 5 gets a new
   * connection at 3.1.1 (once; the refused client is ended). At level 5 the session outlives a
   * dropped connection by sessionExpirySeconds; when a reconnect resumes it, the retained topics'
   * scan subscriptions it may still hold (a drop during republishRetained) are taken back.
   */
  private open(level: ProtocolLevel): void {
    this.level = level;
    // Presence: "online" retained while connected; the broker publishes the will if we vanish.
    const presence = this.t.server(this.o.clientId);
    const client = mqtt.connect(this.o.url, {
      clientId: this.o.clientId,
      ...sessionOptions(level, this.o.sessionExpirySeconds),
      reconnectPeriod: 1000,
      protocolVersion: level,
      connectTimeout: 5000,
      will: { topic: presence, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
      ...(this.o.credentials ? { username: this.o.credentials.username, password: this.o.credentials.password } : {}),
    });
    this.client = client;
    client.on('error', (err) => {
      const code = (err as Error & { code?: unknown }).code;
      if (this.client === client && !this.stopped && shouldFallBack(this.o.protocol, level, code)) {
        this.o.logger.warn('the MQTT broker refused MQTT 5; connecting with MQTT 3.1.1', { broker: this.o.url });
        client.end(true);
        this.open(4);
        return;
      }
      this.o.logger.debug('mqtt bridge error', { error: err.message });
    });
    client.on('connect', (connack: IConnackPacket) => {
      this.o.logger.info('mqtt bridge connected', {
        broker: this.o.url,
        protocol: level === 5 ? '5' : '3.1.1',
        sessionPresent: connack.sessionPresent,
      });
      if (connack.sessionPresent && !this.scanning) client.unsubscribe(this.scanFilters(), () => undefined);
      client.publish(presence, ONLINE, { qos: 1, retain: true });
      client.subscribe(
        [this.t.syncRequest, this.t.writeFilter, this.t.checkFilter, this.t.agentFilter],
        { qos: 1 },
        (err) => {
          if (err) this.o.logger.warn('mqtt subscribe failed', { error: err.message });
        },
      );
    });
    client.on('message', (topic, payload, packet: IPublishPacket) => this.onMessage(topic, payload, packet.properties));
  }

  /** The filters republishRetained subscribes to while it collects the retained topics. */
  private scanFilters(): string[] {
    return [`${this.t.root}kv/#`, `${this.t.root}health/#`];
  }

  /** Stops publishing and disconnects. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.deadlines.values()) clearTimeout(t);
    this.deadlines.clear();
    await this.loop;
    // A clean stop sends no will: say offline ourselves (bounded: the broker may be gone).
    const c = this.client;
    if (c?.connected)
      await Promise.race([
        c.publishAsync(this.t.server(this.o.clientId), OFFLINE, { qos: 1, retain: true }).catch(() => undefined),
        sleep(1000),
      ]);
    await c?.endAsync(true).catch(() => undefined);
  }

  private connected(): boolean {
    return !!this.client?.connected;
  }

  // ---- publishing ----------------------------------------------------------------------------

  private async publishLoop(): Promise<void> {
    while (!this.stopped) {
      if (!this.o.active() || !this.connected()) {
        await sleep(200);
        continue;
      }
      // Follow the feed from now on, before republishing, so no change falls between the two;
      // replicas behind the first batch see its prev and resume.
      const stream = new SyncStream(this.o.source, SCOPE_ALL, this.o.source.feed.latest, {
        snapshots: false,
        filters: ALL_FILTERS,
      });
      let pending: Promise<SyncMessage[]> | undefined;
      try {
        await this.republishRetained();
        while (!this.stopped && this.o.active() && this.connected()) {
          // What is ready now goes out without a progress timer and a race for it (under a
          // burst of writes, a batch is ready at every turn).
          if (!pending) {
            const ready = stream.poll();
            if (ready.length > 0) {
              for (const m of ready) if (m.k === 'batch') await this.publishBatch(m.batch);
              continue;
            }
          }
          pending ??= stream.next();
          // The progress timer is cleared when a batch comes first: left running, each batch
          // kept a timer and its promise alive for progressMs (thousands under a write burst).
          let timer: ReturnType<typeof setTimeout> | undefined;
          const tick = new Promise<'tick'>((r) => {
            timer = setTimeout(() => r('tick'), this.o.progressMs);
          });
          let got: SyncMessage[] | 'tick';
          try {
            got = await Promise.race([pending, tick]);
          } finally {
            clearTimeout(timer);
          }
          if (got === 'tick') {
            const p = stream.progress();
            if (p?.k === 'batch') await this.publishBatch(p.batch);
            continue;
          }
          pending = undefined;
          for (const m of got) if (m.k === 'batch') await this.publishBatch(m.batch);
        }
      } catch (err) {
        this.o.logger.warn('mqtt publish failed; restarting the change stream', { error: (err as Error).message });
        await sleep(200);
      } finally {
        stream.close();
      }
    }
  }

  /**
   * Makes the retained per-key and per-instance topics match the state at one index (what was
   * changed or deleted while no server published is otherwise stale): collects the retained
   * topics the broker holds, publishes every key and instance, clears the rest.
   */
  private async republishRetained(): Promise<void> {
    const c = this.client as MqttClient;
    const held = new Set<string>();
    const filters = this.scanFilters();
    const onRetained = (topic: string, payload: Buffer, packet: { retain?: boolean }): void => {
      if (packet.retain && payload.byteLength > 0 && held.size < MAX_RETAINED_TOPICS) held.add(topic);
    };
    c.on('message', onRetained);
    this.scanning = true;
    try {
      await c.subscribeAsync(filters, { qos: 1 });
      // The broker sends retained messages right after granting the subscription.
      await sleep(RETAINED_SCAN_MS);
    } finally {
      c.removeListener('message', onRetained);
      await c.unsubscribeAsync(filters).catch(() => undefined);
      this.scanning = false;
    }
    const snap = this.o.source.read((tx) => ({
      index: readAppliedIndex(tx),
      kv: listEntries(tx, '').value,
      services: [...listServices(tx).value.keys()],
    }));
    // Payloads are encoded as they are published, and services are read a few at a time between
    // turns of the event loop (100,000 instances at once would hold it for seconds). A service read
    // later than `snap` is labelled with the index it was read at; whatever changes meanwhile
    // also comes on the change stream, which started before and is published after this.
    const sends: Array<[string, Payload]> = [];
    for (const { key, ...entry } of snap.kv)
      sends.push([this.t.kv(key), () => Buffer.from(encodeRetained(snap.index, entry))]);
    let instances = 0;
    for (let i = 0; i < snap.services.length; i++) {
      if (i % SERVICES_PER_TURN === SERVICES_PER_TURN - 1) await new Promise((resolve) => setImmediate(resolve));
      if (this.stopped) return;
      const name = snap.services[i] as string;
      const read = this.o.source.read((tx) => ({ at: readAppliedIndex(tx), entries: serviceHealth(tx, name).value }));
      instances += read.entries.length;
      for (const h of read.entries)
        sends.push([
          this.t.health(h.service.Service, h.node.Node, h.service.ID),
          () => Buffer.from(encodeRetained(read.at, h)),
        ]);
    }
    for (const [topic] of sends) held.delete(topic);
    for (const topic of held) sends.push([topic, Buffer.alloc(0)]);
    await this.publishRetainedTopics(sends, () => this.stopped);
    this.o.logger.info('mqtt retained topics republished', {
      index: snap.index,
      keys: snap.kv.length,
      instances,
      cleared: held.size,
    });
  }

  /**
   * Publishes one batch on `changes`, then the latest value of each key and instance it touched
   * on their retained topics, in the batch's order (so the last change of a topic is the one
   * retained). At most 1 + PUBLISH_CONCURRENCY publishes are in flight. Resolves when every
   * message was handed over; the caller awaits it before the next batch, which keeps batches (and
   * the retained values) in index order.
   */
  private async publishBatch(batch: SyncBatch): Promise<void> {
    const encoded = encodeBatchForBroker(batch);
    const message = asBuffer(encoded.message);
    const retained: Array<[string, Buffer]> = [];
    for (let i = 0; i < batch.changes.length; i++) {
      const ch = batch.changes[i] as SyncBatch['changes'][number];
      const payload = encoded.retained[i];
      const value = payload ? asBuffer(payload) : Buffer.alloc(0);
      if (ch.t === 'kv') retained.push([this.t.kv(ch.key), value]);
      else if (ch.t === 'kv-tree') for (const k of ch.keys) retained.push([this.t.kv(k), Buffer.alloc(0)]);
      else retained.push([this.t.health(ch.service, ch.node, ch.id), value]);
    }
    const changes = this.publish(this.t.changes, message, false);
    // In-process, aedes takes one step more to deliver a retained message than one without
    // retain, and a subscriber of both topics drops a message numbered below one it already got
    // (see InProcessPublisher.publish): the retained topics are issued once `changes` went out,
    // so the order subscribers see never rests on that step count. A client connection's packets
    // are taken by the broker in the order sent, so that path sends them all at once.
    if (this.o.inProcess) await changes;
    await Promise.all([changes, this.publishRetainedTopics(retained, () => false)]);
    this.o.metrics.mqttBatches.inc();
  }

  /**
   * Publishes retained messages in the given order with at most PUBLISH_CONCURRENCY in flight
   * (each one is issued after the ones before it, so a topic listed twice keeps the later value).
   * A topic the embedded broker refuses as too deep (a KV key of about 100 levels or more) is
   * skipped with a warning: it can have no retained topic, and the change still went out on
   * `changes`; failing the batch would restart the stream and hit the same key forever.
   * Stops issuing once `stop()` says so or a publish failed; rejects with the first failure.
   */
  private async publishRetainedTopics(
    sends: ReadonlyArray<readonly [string, Payload]>,
    stop: () => boolean,
  ): Promise<void> {
    const skipTooDeep = (topic: string) => (err: unknown) => {
      if (!(err instanceof TooLargeError)) throw err;
      this.o.logger.warn('retained topic skipped', { topic: topic.slice(0, 200), error: err.message });
    };
    // A batch's few topics (the usual case) are all issued at once, in order, as the lanes below
    // would issue them, without the lanes' promises.
    if (sends.length <= Math.min(PUBLISH_CONCURRENCY, YIELD_EVERY)) {
      const issued: Array<Promise<unknown>> = [];
      for (const [topic, payloadOf] of sends) {
        if (stop()) break;
        const payload = typeof payloadOf === 'function' ? payloadOf() : payloadOf;
        issued.push(this.publish(topic, payload, true).catch(skipTooDeep(topic)));
      }
      await Promise.all(issued);
      return;
    }
    let next = 0;
    let failed = false;
    // In-process publishes complete in microtasks, so the lanes would never let timers and
    // sockets in: every YIELD_EVERY publishes all lanes wait for one turn of the event loop.
    let gate: Promise<void> | undefined;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < sends.length && !failed && !stop(); i = next++) {
        if (i > 0 && i % YIELD_EVERY === 0 && !gate)
          gate = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
            gate = undefined;
          });
        if (gate) await gate;
        const [topic, payloadOf] = sends[i] as readonly [string, Payload];
        const payload = typeof payloadOf === 'function' ? payloadOf() : payloadOf;
        await this.publish(topic, payload, true)
          .catch(skipTooDeep(topic))
          .catch((err: unknown) => {
            failed = true;
            throw err;
          });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUBLISH_CONCURRENCY, sends.length) }, lane));
  }

  /** One of the server's QoS 1 publishes: in-process to the embedded broker, else through the client. */
  private publish(topic: string, payload: Buffer, retain: boolean): Promise<unknown> {
    if (this.o.inProcess) return this.o.inProcess.publish(topic, payload, { qos: 1, retain });
    return (this.client as MqttClient).publishAsync(topic, payload, { qos: 1, retain });
  }

  // ---- incoming --------------------------------------------------------------------------------

  private onMessage(topic: string, payload: Buffer, properties: PublishProperties | undefined): void {
    if (!this.o.active()) return;
    if (topic === this.t.syncRequest) {
      if (this.requests.length >= MAX_PENDING_REQUESTS) {
        this.o.metrics.mqttRejected.inc({ reason: 'overloaded' });
        return;
      }
      this.requests.push(() => this.answer(payload));
      void this.serve();
      return;
    }
    let device: string;
    try {
      device = this.t.deviceOf(topic);
    } catch {
      // A topic level with a broken %-escape: nobody to ack, but count it.
      this.o.metrics.mqttRejected.inc({ reason: 'malformed' });
      this.o.logger.warn('device message refused', {
        reason: 'malformed',
        detail: 'the device name in the topic is not validly escaped',
      });
      return;
    }
    // A device's MQTT 5 request id, Correlation Data and Response Topic (absent on 3.1.1).
    const echo = this.level === 5 ? requestEcho(properties, this.t.ack(device)) : {};
    if (topic === this.t.write(device)) void this.onWrite(device, payload, echo);
    else if (topic === this.t.check(device)) void this.onHeartbeat(device, payload, echo);
    else if (topic === this.t.agent(device)) this.onAnnounce(device, payload);
  }

  /** An agent's announcement over MQTT (JSON, as PUT /v1/edge/agents/<id> takes it). */
  private onAnnounce(agent: string, payload: Buffer): void {
    if (!this.o.fleet) return;
    if (this.o.mayAnnounce && !this.o.mayAnnounce(agent)) {
      this.o.metrics.mqttRejected.inc({ reason: 'unauthorized' });
      this.o.logger.debug('agent announcement not recorded: its token lacks node:write on its name', { agent });
      return;
    }
    try {
      this.o.fleet.report(parseReport(JSON.parse(payload.toString('utf8')) as unknown, agent, 'mqtt'));
    } catch (err) {
      this.o.metrics.mqttRejected.inc({ reason: 'malformed' });
      this.o.logger.warn('agent announcement refused', { agent, detail: (err as Error).message });
    }
  }

  /** A device showed it is alive (a verified write or heartbeat): the fleet table hears of it. */
  private deviceSeen(device: string): void {
    if (this.o.fleet && isFleetName(device)) this.o.fleet.report(deviceReport(device, this.o.datacenter));
  }

  private async serve(): Promise<void> {
    if (this.serving) return;
    this.serving = true;
    try {
      for (let job = this.requests.shift(); job; job = this.requests.shift())
        await job().catch((err: unknown) =>
          this.o.logger.warn('sync request failed', { error: (err as Error).message }),
        );
    } finally {
      this.serving = false;
    }
  }

  private async answer(payload: Buffer): Promise<void> {
    let m: SyncMessage;
    try {
      m = decodeSyncMessage(payload);
    } catch (err) {
      this.o.metrics.mqttRejected.inc({ reason: 'malformed' });
      this.o.logger.warn('malformed sync request', { error: (err as Error).message });
      return;
    }
    if (m.k !== 'req') return;
    const req = m.req;
    const scope = normalizeScope(req.scope);
    if (this.o.mayRead && !this.o.mayRead(req.token, scope)) {
      this.o.metrics.mqttRejected.inc({ reason: 'unauthorized' });
      this.o.logger.warn('sync request refused: its token may not read the scope', { agent: req.agent });
      return;
    }
    const { messages, index } = catchUp(this.o.source, scope, req.after);
    this.o.metrics.mqttSyncRequests.inc({ kind: messages.some((x) => x.k === 'chunk') ? 'snapshot' : 'resume' });
    const c = this.client as MqttClient;
    const to = this.t.syncResponse(req.agent);
    for (const msg of messages) await c.publishAsync(to, Buffer.from(encodeSyncMessage(msg)), { qos: 1 });
    await c.publishAsync(to, Buffer.from(encodeSyncMessage({ k: 'done', nonce: req.nonce, index })), { qos: 1 });
  }

  /**
   * Publishes an ack on `ack/<device>`. Over MQTT 3.1.1 it is the JSON body alone, as it always
   * was. Over MQTT 5 the body also holds `reasonCode`, and the publish goes to the device's own
   * Response Topic when it gave one (see requestEcho) with the reason code and the echoed
   * `request-id` as user properties, the echoed Correlation Data, and a Message Expiry Interval.
   */
  private async ack(device: string, body: Record<string, unknown>, reply: AckReply): Promise<void> {
    const c = this.client;
    if (!c) return;
    if (this.level === 4) {
      await c.publishAsync(this.t.ack(device), JSON.stringify(body), { qos: 1 }).catch(() => undefined);
      return;
    }
    const topic = reply.echo.responseTopic ?? this.t.ack(device);
    const { correlationData, ...properties } = ackProperties(reply.echo, reply.reasonCode, reply.expirySeconds);
    await c
      .publishAsync(topic, JSON.stringify({ ...body, reasonCode: reply.reasonCode }), {
        qos: 1,
        properties: { ...properties, ...(correlationData ? { correlationData: asBuffer(correlationData) } : {}) },
      })
      .catch(() => undefined);
  }

  private token(payload: Buffer): string | undefined {
    if (payload.byteLength === 0 || payload.byteLength > MAX_DEVICE_MESSAGE_BYTES) return undefined;
    return payload.toString('utf8').trim();
  }

  private reject(
    device: string,
    kind: string,
    reason: RejectReason,
    detail: string,
    echo: RequestEcho,
    rid?: string,
  ): Promise<void> {
    this.o.metrics.mqttRejected.inc({ reason });
    this.o.logger.warn(`device ${kind} refused`, { device, reason, detail });
    return this.ack(
      device,
      { rid: rid ?? null, ok: false, error: `${reason}: ${detail}` },
      { echo, reasonCode: refusalCode(reason), expirySeconds: ACK_EXPIRY_SECONDS },
    );
  }

  private async onWrite(device: string, payload: Buffer, echo: RequestEcho): Promise<void> {
    const token = this.token(payload);
    if (!token) return this.reject(device, 'write', 'malformed', 'empty or oversized payload', echo);
    const v = await verifyDeviceWrite(token, this.o.deviceKeys, this.o.clock.now(), this.o.kvMaxValueBytes);
    if (!v.ok) return this.reject(device, 'write', v.reason, v.detail, echo, v.rid);
    this.deviceSeen(device);
    const w = v.message;
    try {
      const command: TxnCommand = {
        type: 'txn',
        datacenter: this.o.datacenter,
        ops: [toTxnOp(w)],
        now: this.o.clock.now(),
        idempotencyKey: `device:${v.kid}:${w.rid}`,
      };
      const { index, value } = await this.o.writer.submit<TxnOutcome>(command);
      const result = value.ok;
      this.o.metrics.mqttWrites.inc({ result: value.replayed ? 'replayed' : String(result) });
      // A write that was evaluated succeeded as a request, its cas condition failed or not.
      await this.ack(
        device,
        {
          rid: w.rid,
          ok: true,
          result,
          index: value.replayed?.index ?? index,
          ...(value.replayed ? { replayed: true } : {}),
          ...(value.ok ? {} : { error: value.errors[0]?.What }),
        },
        { echo, reasonCode: REASON.success, expirySeconds: ACK_EXPIRY_SECONDS },
      );
    } catch (err) {
      this.o.logger.warn('device write failed', { device, rid: w.rid, error: (err as Error).message });
      await this.ack(
        device,
        { rid: w.rid, ok: false, error: (err as Error).message },
        { echo, reasonCode: failureCode(err), expirySeconds: ACK_EXPIRY_SECONDS },
      );
    }
  }

  private async onHeartbeat(device: string, payload: Buffer, echo: RequestEcho): Promise<void> {
    const token = this.token(payload);
    if (!token) return this.reject(device, 'heartbeat', 'malformed', 'empty or oversized payload', echo);
    const v = await verifyDeviceHeartbeat(token, this.o.deviceKeys, this.o.clock.now(), parseDuration);
    if (!v.ok) return this.reject(device, 'heartbeat', v.reason, v.detail, echo, v.rid);
    const h = v.message;
    // A heartbeat's ack is stale once its TTL passed: the broker drops it then rather than deliver it.
    const expirySeconds = heartbeatAckExpirySeconds(h.ttlMs);
    try {
      const index = await this.setCheck(h.node, h.check, h.status, h.output);
      if (index === undefined)
        return this.ack(
          device,
          { rid: h.rid, ok: false, error: `node ${JSON.stringify(h.node)} is not registered` },
          { echo, reasonCode: REASON.implementationSpecific, expirySeconds },
        );
      this.o.metrics.mqttHeartbeats.inc();
      this.deviceSeen(device);
      this.armDeadline(h.node, h.check, h.ttlMs);
      await this.ack(device, { rid: h.rid, ok: true, index }, { echo, reasonCode: REASON.success, expirySeconds });
    } catch (err) {
      await this.ack(
        device,
        { rid: h.rid, ok: false, error: (err as Error).message },
        { echo, reasonCode: failureCode(err), expirySeconds },
      );
    }
  }

  /** Writes a check's status, keeping its name, notes and service. Undefined when the node is unknown. */
  private async setCheck(
    node: string,
    checkId: string,
    status: CheckInput['Status'],
    output: string,
  ): Promise<number | undefined> {
    const { known, existing } = this.o.source.read((tx) => ({
      known: tx.get(NODES_TABLE, node) !== undefined,
      existing: tx.get<CatalogCheck>(CHECKS_TABLE, childKey(node, checkId)),
    }));
    if (!known) return undefined;
    const check: CheckInput = {
      CheckID: checkId,
      Name: existing?.Name ?? checkId,
      Status: status,
      Notes: existing?.Notes ?? '',
      Output: output,
      ServiceID: existing?.ServiceID ?? '',
      Type: 'ttl',
    };
    const command: CatalogRegisterCommand = {
      type: 'catalog.register',
      datacenter: this.o.datacenter,
      node: { ID: '', Node: node, Address: '', TaggedAddresses: {}, Meta: {} },
      skipNodeUpdate: true,
      checks: [check],
      now: this.o.clock.now(),
    };
    return (await this.o.writer.submit(command)).index;
  }

  /** After `ttlMs` without another heartbeat, the check turns critical (0: no deadline). */
  private armDeadline(node: string, checkId: string, ttlMs: number): void {
    const key = `${node}/${checkId}`;
    const old = this.deadlines.get(key);
    if (old) clearTimeout(old);
    this.deadlines.delete(key);
    if (ttlMs === 0 || this.deadlines.size >= MAX_HEARTBEAT_DEADLINES) return;
    const timer = setTimeout(() => {
      this.deadlines.delete(key);
      if (this.stopped || !this.o.active()) return;
      this.o.metrics.mqttTtlExpired.inc();
      this.o.logger.info('mqtt heartbeat TTL expired', { node, check: checkId });
      this.setCheck(node, checkId, 'critical', `TTL expired: no heartbeat over MQTT for ${ttlMs / 1000}s`).catch(
        (err: unknown) =>
          this.o.logger.warn('marking an expired check critical failed', {
            node,
            check: checkId,
            error: (err as Error).message,
          }),
      );
    }, ttlMs);
    timer.unref();
    this.deadlines.set(key, timer);
  }
}

/** How an ack answers its request over MQTT 5 (unused over 3.1.1). */
interface AckReply {
  readonly echo: RequestEcho;
  readonly reasonCode: number;
  /** Message Expiry Interval of the ack (seconds). */
  readonly expirySeconds: number;
}

/** A device write as a one-operation transaction. */
function toTxnOp(w: DeviceWrite): TxnOp {
  const verb = w.op;
  return { kind: 'kv', verb, key: w.key, value: w.value, flags: String(w.flags), index: w.cas, session: '' };
}
