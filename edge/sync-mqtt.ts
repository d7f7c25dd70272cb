import mqtt, { type IConnackPacket, type MqttClient } from 'mqtt';
import type { HealthEntry } from '../core/catalog/queries.js';
import type { KvRecord } from '../core/kv/types.js';
import type { Logger } from '../core/ports/logger.js';
import type { Rng } from '../core/ports/rng.js';
import { decodeRetained, decodeSyncMessage, encodeSyncMessage, type SyncMessage } from '../core/sync/codec.js';
import {
  firstProtocolLevel,
  type MqttProtocol,
  type ProtocolLevel,
  sessionOptions,
  shouldFallBack,
} from '../core/sync/mqtt5.js';
import type { Replica } from '../core/sync/replica.js';
import { topics, type Topics } from '../core/sync/topics.js';
import { randomUuid } from '../core/util/uuid.js';
import type { ReplicaSink } from './sink.js';

/** Most change batches buffered while a request is being answered. */
const MAX_BUFFERED = 10_000;
/** Most retained keys and instances taken when seeding from the broker. */
const MAX_RETAINED = 1_000_000;
/** Most server presences tracked. */
const MAX_SERVERS = 1024;
/** How long to wait for a server to answer a request before asking again (ms). */
const REQUEST_TIMEOUT_MS = 5000;

/**
 * Follows the servers over MQTT. It subscribes to the ordered `changes` topic and its own
 * response topic, then asks (`sync/req`) for what it misses after its index (or a snapshot).
 * Batches that arrive meanwhile wait, then apply when they follow on (SyncBatch.prev); a gap
 * triggers a new request. When no server answers and the replica is empty, it starts from the
 * retained per-key and per-instance topics on the broker (the latest values, without an index),
 * and asks again until a server answers.
 *
 * Over MQTT 5 its session outlives a dropped connection by `sessionExpirySeconds`: the broker
 * keeps its subscriptions and queues the `changes` batches meanwhile, which arrive after the
 * reconnect and wait like any batch until the request is answered (duplicates are skipped).
 */
export class MqttSync {
  private client: MqttClient | undefined;
  private readonly t: Topics;
  private state: 'idle' | 'requesting' | 'live' = 'idle';
  private nonce = '';
  private buffer: SyncMessage[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private retainedLoaded = false;
  private chain: Promise<void> = Promise.resolve();
  /** Whether the link counts as up: broker connected and at least one server present. */
  connected = false;
  private brokerUp = false;
  /** Servers whose retained presence says online (bounded). */
  private readonly online = new Set<string>();
  /** Whether the pending request went out while no server was online (then ask again when one appears). */
  private askedAlone = false;
  /** The protocol level of the current connection (4: MQTT 3.1.1, 5: MQTT 5). */
  private level: ProtocolLevel;
  /** Whether loadRetained holds its temporary subscriptions to the retained topics. */
  private loadingRetained = false;

  constructor(
    private readonly o: {
      url: string;
      /** The MQTT version to speak (see core/sync/mqtt5.ts). */
      protocol: MqttProtocol;
      /** Session Expiry Interval of an MQTT 5 session (seconds). */
      sessionExpirySeconds: number;
      /** Message Expiry Interval of an announcement over MQTT 5 (seconds; the next one is due by then). */
      announceExpirySeconds: number;
      agentId: string;
      /** ACL token: the broker password and the proof that the agent may read its scope. */
      token?: string | undefined;
      datacenter: string;
      prefixes: readonly string[];
      services: readonly string[];
      replica: Replica;
      sink: ReplicaSink;
      logger: Logger;
      rng: Rng;
      onLink: (up: boolean) => void;
    },
  ) {
    this.t = topics(o.datacenter);
    this.level = firstProtocolLevel(o.protocol);
  }

  /** Connects (retrying in the background) and follows the servers. */
  start(): void {
    this.open(this.level);
  }

  /**
   * Opens the connection at `level`. Under `auto`, a broker that refuses MQTT 5 (a server's
   * embedded aedes broker) gets a new connection at 3.1.1, once. When a reconnect resumes an MQTT 5
   * session, the retained topics' subscriptions it may still hold (a drop during loadRetained) are
   * taken back.
   */
  private open(level: ProtocolLevel): void {
    this.level = level;
    // With a token, the broker (embedded, ACLs on) authenticates the agent by it.
    const client = mqtt.connect(this.o.url, {
      clientId: `konsul-edge-${this.o.agentId}`,
      ...sessionOptions(level, this.o.sessionExpirySeconds),
      reconnectPeriod: 1000,
      protocolVersion: level,
      connectTimeout: 5000,
      ...(this.o.token ? { username: this.o.agentId, password: this.o.token } : {}),
    });
    this.client = client;
    client.on('error', (err) => {
      const code = (err as Error & { code?: unknown }).code;
      if (this.client === client && shouldFallBack(this.o.protocol, level, code)) {
        this.o.logger.info('the MQTT broker refused MQTT 5; connecting with MQTT 3.1.1', { broker: this.o.url });
        client.end(true);
        this.open(4);
        return;
      }
      this.o.logger.debug('mqtt error', { error: err.message });
    });
    client.on('connect', (connack: IConnackPacket) => {
      this.o.logger.info('mqtt connected', {
        broker: this.o.url,
        protocol: level === 5 ? '5' : '3.1.1',
        sessionPresent: connack.sessionPresent,
      });
      this.brokerUp = true;
      if (connack.sessionPresent && !this.loadingRetained) client.unsubscribe(this.retainedFilters(), () => undefined);
      client.subscribe(
        [this.t.changes, this.t.syncResponse(this.o.agentId), this.t.serverFilter],
        { qos: 1 },
        (err) => {
          if (err) this.o.logger.warn('mqtt subscribe failed', { error: err.message });
          else this.request();
        },
      );
    });
    client.on('close', () => {
      this.brokerUp = false;
      this.online.clear();
      this.setLink(false);
    });
    client.on('message', (topic, payload) => {
      if (topic.startsWith(this.serversPrefix)) return this.onPresence(topic, payload);
      // Messages are handled one at a time, in arrival order.
      this.chain = this.chain
        .then(() => this.onMessage(topic, payload))
        .catch((err: unknown) => this.o.logger.warn('mqtt sync message failed', { error: (err as Error).message }));
    });
  }

  /**
   * Publishes the agent's announcement (JSON) on `agents/<id>` when the broker is connected; false
   * when not. Over MQTT 5 it expires after announceExpirySeconds: a broker never delivers it after
   * the next one was due (a late one would show the agent alive when it may not be).
   */
  announce(json: string): boolean {
    if (!this.client || !this.brokerUp) return false;
    this.client.publish(this.t.agent(this.o.agentId), json, {
      qos: 0,
      ...(this.level === 5 ? { properties: { messageExpiryInterval: Math.max(1, this.o.announceExpirySeconds) } } : {}),
    });
    return true;
  }

  /** The filters loadRetained subscribes to while it reads the retained topics of the scope. */
  private retainedFilters(): string[] {
    return [...this.o.prefixes.map((p) => this.t.kvFilter(p)), ...this.o.services.map((s) => this.t.healthFilter(s))];
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.client?.endAsync(true).catch(() => undefined);
    await this.chain;
  }

  private get serversPrefix(): string {
    return this.t.serverFilter.slice(0, -1);
  }

  /** A server's retained presence (or its will): the link is up while any server is online. */
  private onPresence(topic: string, payload: Buffer): void {
    const id = topic.slice(this.serversPrefix.length);
    let status: unknown;
    try {
      status = (JSON.parse(payload.toString('utf8')) as { status?: unknown }).status;
    } catch {
      status = undefined;
    }
    const wasEmpty = this.online.size === 0;
    if (status === 'online') {
      if (this.online.size < MAX_SERVERS) this.online.add(id);
    } else {
      this.online.delete(id);
    }
    this.setLink(this.brokerUp && this.online.size > 0);
    // A server just came back: ask at once instead of waiting for the next retry.
    if (wasEmpty && this.online.size > 0 && (this.state === 'idle' || (this.state === 'requesting' && this.askedAlone)))
      this.request();
  }

  private setLink(up: boolean): void {
    if (up === this.connected) return;
    this.connected = up;
    this.o.onLink(up);
    if (!up) {
      this.state = 'idle';
      this.o.logger.warn('lost the servers over MQTT; serving the local replica', { index: this.o.replica.lastIndex });
    }
  }

  /** Asks for everything after the replica's index (a snapshot when it has none). */
  private request(): void {
    const c = this.client;
    if (!c?.connected) return;
    this.state = 'requesting';
    this.askedAlone = this.online.size === 0;
    this.nonce = randomUuid(this.o.rng);
    const after = this.o.replica.lastIndex;
    const m: SyncMessage = {
      k: 'req',
      req: {
        agent: this.o.agentId,
        nonce: this.nonce,
        after: after > 0 ? after : null,
        scope: { prefixes: [...this.o.prefixes], services: [...this.o.services] },
        ...(this.o.token ? { token: this.o.token } : {}),
      },
    };
    c.publish(this.t.syncRequest, Buffer.from(encodeSyncMessage(m)), { qos: 1 });
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.state !== 'requesting') return;
      this.o.logger.warn('no server answered the sync request; asking again', { after });
      if (this.o.replica.lastIndex === 0 && !this.retainedLoaded) void this.loadRetained();
      this.request();
    }, REQUEST_TIMEOUT_MS);
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    if (topic !== this.t.changes && topic !== this.t.syncResponse(this.o.agentId)) return;
    let m: SyncMessage;
    try {
      m = decodeSyncMessage(payload);
    } catch (err) {
      this.o.logger.warn('malformed sync message ignored', { topic, error: (err as Error).message });
      return;
    }
    if (topic === this.t.changes) {
      this.o.sink.lastMessageAt = Date.now();
      if (this.state !== 'live') {
        if (this.buffer.length < MAX_BUFFERED) this.buffer.push(m);
        return;
      }
      if ((await this.o.sink.apply(m)) === 'gap') this.request();
      return;
    }
    // Our response topic: snapshot chunks or batches, then done.
    if (m.k === 'done') {
      if (m.nonce !== this.nonce) return;
      if (this.timer) clearTimeout(this.timer);
      await this.o.replica.advanceTo(m.index);
      this.state = 'live';
      const waiting = this.buffer;
      this.buffer = [];
      for (const b of waiting) {
        if ((await this.o.sink.apply(b)) === 'gap') {
          this.request();
          return;
        }
      }
      this.o.logger.info('replica in sync over MQTT', { index: this.o.replica.lastIndex });
      return;
    }
    if (this.state === 'requesting') await this.o.sink.apply(m);
  }

  /**
   * Reads the retained per-key and per-instance topics of the scope (servers down, empty
   * replica): the latest published values, applied without an index so a server's snapshot
   * replaces them as soon as one answers.
   */
  private async loadRetained(): Promise<void> {
    const c = this.client;
    if (!c?.connected) return;
    this.retainedLoaded = true;
    const filters = this.retainedFilters();
    const kv: Array<[string, KvRecord]> = [];
    const health: HealthEntry[] = [];
    let skipped = 0;
    const onRetained = (topic: string, payload: Buffer, packet: { retain?: boolean }): void => {
      if (!packet.retain || payload.byteLength === 0) return;
      try {
        const key = this.t.kvKeyOf(topic);
        if (key !== undefined) {
          if (this.o.prefixes.some((p) => key.startsWith(p)) && kv.length < MAX_RETAINED)
            kv.push([key, decodeRetained(payload, 'kv').entry]);
        } else if (health.length < MAX_RETAINED) {
          const entry = decodeRetained(payload, 'health').entry;
          if (this.o.services.includes(entry.service.Service)) health.push(entry);
        }
      } catch {
        // A payload that does not decode (or a badly escaped topic) is not ours; skip it.
        skipped++;
      }
    };
    c.on('message', onRetained);
    this.loadingRetained = true;
    try {
      await c.subscribeAsync(filters, { qos: 1 });
      // Retained messages arrive right after the subscription is granted.
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      c.removeListener('message', onRetained);
      await c.unsubscribeAsync(filters).catch(() => undefined);
      this.loadingRetained = false;
    }
    if (this.o.replica.lastIndex > 0) return;
    await this.o.replica.applyLoose(kv, health);
    this.o.logger.info('replica seeded from retained MQTT topics (no server answered)', {
      keys: kv.length,
      instances: health.length,
      skipped,
    });
  }
}
