import type { Transport } from '../core/ports/transport.js';
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { decode, encode } from '@msgpack/msgpack';
import { decodeMessageFrame, encodeMessageFrame } from '../core/codec/message.js';
import { CorruptFrameError, FRAME_HEADER_BYTES } from '../core/hotpaths/frame.js';
import type { HotPaths } from '../core/ports/hot-paths.js';
import type { Logger } from '../core/ports/logger.js';
import type { Message, NodeId } from '../core/raft/types.js';

/** Frame kind of control messages (hello, join, leave), beside entries (1) and Raft messages (2). */
const CONTROL_KIND = 3;
/** Largest frame accepted from a peer (bytes); a larger declared length closes the connection. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Control messages exchanged between servers. */
export type ControlMessage =
  | { type: 'hello'; name: string; raftAddr: string; httpAddr: string; token?: string }
  | { type: 'discover'; from: PeerInfo }
  | {
      type: 'helloAck';
      name: string;
      raftAddr: string;
      httpAddr: string;
      peers: PeerInfo[];
      bootstrapped: boolean;
      leader?: string;
    }
  | { type: 'join'; name: string; raftAddr: string; httpAddr: string }
  | { type: 'leave'; name: string }
  | { type: 'result'; ok: boolean; error?: string; leader?: string }
  | { type: 'refused'; reason: string };

/** A server's name and addresses. */
export interface PeerInfo {
  readonly name: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
}

/** TLS material for mutual authentication between servers (PEM file paths). */
export interface TransportTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** Options of RaftTransport; every queue bound is a positive integer. */
export interface TransportOptions {
  /** This server (its raftAddr may be set after listen() via setSelf). */
  self: PeerInfo;
  readonly host: string;
  readonly port: number;
  readonly hp: HotPaths;
  readonly logger: Logger;
  readonly tls?: TransportTls;
  /** Shared secret every connecting server must present (never logged). */
  readonly joinToken?: string;
  /** Messages queued per peer while disconnected or slow; older ones are dropped beyond it. */
  readonly maxQueueMessages: number;
  /** Called for each Raft message received from an authenticated peer. */
  onMessage(m: Message): void;
  /** Answers a control request from an authenticated peer. */
  onControl(c: ControlMessage): Promise<ControlMessage>;
}

function frameControl(hp: HotPaths, c: ControlMessage): Uint8Array {
  const body = encode(c);
  const f = hp.frameBuffer(FRAME_HEADER_BYTES + body.length);
  f.bytes.set(body, FRAME_HEADER_BYTES);
  return hp.sealFrame(f, CONTROL_KIND, body.length);
}

function sameSecret(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Splits a byte stream into frames. Calls `onFrame(kind, frameBytes)` for each whole frame;
 * throws CorruptFrameError for an oversized or corrupted one (the caller closes the connection).
 */
class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(
    private readonly hp: HotPaths,
    private readonly onFrame: (kind: number, frame: Uint8Array) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let offset = 0;
    while (this.buf.length - offset >= FRAME_HEADER_BYTES) {
      const payload = this.buf.readUInt32LE(offset + 4);
      if (payload > MAX_FRAME_BYTES)
        throw new CorruptFrameError(`frame of ${payload} bytes exceeds ${MAX_FRAME_BYTES}`, offset + 4);
      const end = offset + FRAME_HEADER_BYTES + payload;
      if (end > this.buf.length) break;
      const frame = new Uint8Array(this.buf.buffer, this.buf.byteOffset + offset, end - offset);
      this.hp.openFrame(frame, 0);
      this.onFrame(this.buf[offset] as number, frame);
      offset = end;
    }
    this.buf = offset === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(offset);
  }
}

/** An outbound connection to one peer with a bounded queue and reconnection with backoff. */
class Peer {
  private socket: net.Socket | undefined;
  private queue: Uint8Array[] = [];
  private connecting = false;
  private draining = false;
  private backoffMs = 100;
  private retryTimer: NodeJS.Timeout | undefined;
  dropped = 0;
  lastConnected = 0;

  constructor(
    readonly name: NodeId,
    public addr: string,
    private readonly t: RaftTransport,
  ) {}

  /** Queues a frame (dropping the oldest over the bound); flush() or connecting sends it. */
  enqueue(frame: Uint8Array): void {
    if (this.queue.length >= this.t.options.maxQueueMessages) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(frame);
  }

  /** Writes everything queued in one corked batch, or connects first. */
  flush(): void {
    const s = this.socket; // set only once connected
    if (!s) {
      this.connect();
      return;
    }
    if (this.queue.length === 0 || this.draining) return;
    // Bound what sits in the socket's own buffer too: wait for it to drain.
    if (s.writableLength > 16 * 1024 * 1024) {
      this.draining = true;
      s.once('drain', () => {
        this.draining = false;
        this.flush();
      });
      return;
    }
    s.cork();
    for (const f of this.queue) s.write(f);
    s.uncork();
    this.queue = [];
  }

  private connect(): void {
    if (this.connecting || this.socket || this.retryTimer || this.t.closed) return;
    this.connecting = true;
    const s = this.t.dial(this.addr);
    s.setNoDelay(true);
    s.once(this.t.options.tls ? 'secureConnect' : 'connect', () => {
      s.write(frameControl(this.t.options.hp, this.t.hello()));
      this.socket = s;
      this.connecting = false;
      this.backoffMs = 100;
      this.lastConnected = Date.now();
      this.flush();
    });
    // Our outbound connections carry no replies; a refusal closes them.
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.once('close', () => {
      this.socket = undefined;
      this.connecting = false;
      this.draining = false;
      // Messages to an unreachable peer are stale by the time it is back: drop them (Raft
      // notices the gap and resends what is still needed, or a snapshot).
      this.dropped += this.queue.length;
      this.queue = [];
      if (this.t.closed) return;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.connect();
      }, this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 5000);
    });
  }

  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.socket?.destroy();
    this.queue = [];
  }
}

/**
 * Raft messages and control requests between servers over TCP (or TLS with mutual
 * authentication): CRC32C-checked frames, one persistent outbound connection per peer with a
 * bounded queue, reconnection with exponential backoff. Every connection starts with a hello;
 * with a join token, a hello without the same token is refused and logged. Tests may block
 * peers to simulate partitions (`blocked`).
 */
export class RaftTransport implements Transport<Message> {
  readonly options: TransportOptions;
  private server: net.Server | undefined;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly sockets = new Set<net.Socket>();
  private tlsContext: { cert: Buffer; key: Buffer; ca: Buffer } | undefined;
  /** Peers whose messages are dropped both ways (fault injection for tests). */
  readonly blocked = new Set<NodeId>();
  closed = false;
  /** Last time a message arrived from each peer (ms since epoch). */
  readonly lastHeard = new Map<NodeId, number>();

  constructor(options: TransportOptions) {
    this.options = options;
    if (options.tls) {
      this.tlsContext = {
        cert: readFileSync(options.tls.cert),
        key: readFileSync(options.tls.key),
        ca: readFileSync(options.tls.ca),
      };
    }
  }

  /** Starts listening; resolves with the bound "host:port". */
  async listen(): Promise<string> {
    const onSocket = (s: net.Socket) => this.accept(s);
    this.server = this.tlsContext
      ? tls.createServer({ ...this.tlsContext, requestCert: true, rejectUnauthorized: true }, onSocket)
      : net.createServer(onSocket);
    const server = this.server;
    // TLS handshake failures (peers without a valid certificate) are refused and logged.
    server.on('tlsClientError', (err: Error, s: net.Socket) => {
      this.options.logger.warn('raft connection refused: TLS handshake failed', {
        remote: s.remoteAddress ?? '?',
        error: err.message,
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as net.AddressInfo;
    return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Sets this server's identity once its addresses are known. */
  setSelf(self: PeerInfo): void {
    this.options.self = self;
  }

  /** The hello this server sends first on every connection. */
  hello(): ControlMessage {
    const { self, joinToken } = this.options;
    return {
      type: 'hello',
      name: self.name,
      raftAddr: self.raftAddr,
      httpAddr: self.httpAddr,
      ...(joinToken ? { token: joinToken } : {}),
    };
  }

  /** Opens a raw connection to "host:port" (TLS when configured). */
  dial(addr: string): net.Socket {
    const at = addr.lastIndexOf(':');
    const host = addr.slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(addr.slice(at + 1));
    if (this.tlsContext)
      return tls.connect({
        host,
        port,
        ...this.tlsContext,
        servername: host === '127.0.0.1' ? undefined : host,
        checkServerIdentity: () => undefined,
      });
    return net.connect({ host, port });
  }

  /** Records or updates where a peer listens. */
  setAddress(name: NodeId, addr: string): void {
    if (name === this.options.self.name) return;
    const p = this.peers.get(name);
    if (!p) this.peers.set(name, new Peer(name, addr, this));
    else if (p.addr !== addr) {
      p.close();
      this.peers.set(name, new Peer(name, addr, this));
    }
  }

  /** Whether an address is known for `name`. */
  knows(name: NodeId): boolean {
    return this.peers.has(name);
  }

  /** Sends Raft messages (best effort: Raft retries what is lost). */
  send(messages: readonly Message[]): void {
    const touched = new Set<Peer>();
    for (const m of messages) {
      if (this.blocked.has(m.to)) continue;
      const p = this.peers.get(m.to);
      if (!p) continue;
      p.enqueue(encodeMessageFrame(this.options.hp, m));
      touched.add(p);
    }
    // One write per peer for the whole batch.
    for (const p of touched) p.flush();
  }

  /** Sends one control request to "host:port" and resolves with the reply (rejects on timeout or refusal). */
  request(addr: string, c: ControlMessage, timeoutMs = 3000): Promise<ControlMessage> {
    return new Promise((resolve, reject) => {
      const s = this.dial(addr);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no answer from ${addr}`));
      }, timeoutMs);
      const done = (err: Error | undefined, reply?: ControlMessage) => {
        clearTimeout(timer);
        s.destroy();
        if (err) reject(err);
        else resolve(reply as ControlMessage);
      };
      const reader = new FrameReader(this.options.hp, (kind, frame) => {
        if (kind !== CONTROL_KIND) return;
        const reply = decode(frame.subarray(FRAME_HEADER_BYTES)) as ControlMessage;
        done(reply.type === 'refused' ? new Error(`refused by ${addr}: ${reply.reason}`) : undefined, reply);
      });
      s.once(this.tlsContext ? 'secureConnect' : 'connect', () => {
        s.write(frameControl(this.options.hp, this.hello()));
        s.write(frameControl(this.options.hp, c));
      });
      s.on('data', (d: Buffer) => {
        try {
          reader.push(d);
        } catch (err) {
          done(err as Error);
        }
      });
      s.on('error', (err) => done(err));
      s.once('close', () => done(new Error(`connection to ${addr} closed`)));
    });
  }

  private accept(s: net.Socket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    this.sockets.add(s);
    s.setNoDelay(true);
    s.once('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
    let peer: string | undefined;
    const { logger, hp } = this.options;
    const reader = new FrameReader(hp, (kind, frame) => {
      if (kind === CONTROL_KIND) {
        const c = decode(frame.subarray(FRAME_HEADER_BYTES)) as ControlMessage;
        if (peer === undefined) {
          if (c.type !== 'hello') throw new CorruptFrameError('connection must start with hello', 0);
          if (this.options.joinToken !== undefined && !sameSecret(c.token, this.options.joinToken)) {
            logger.warn('raft connection refused: join token missing or wrong', {
              peer: c.name,
              remote: s.remoteAddress ?? '?',
            });
            s.end(frameControl(hp, { type: 'refused', reason: 'join token missing or wrong' }));
            return;
          }
          peer = c.name;
          return;
        }
        void this.options.onControl(c).then(
          (reply) => s.writable && s.write(frameControl(hp, reply)),
          (err: unknown) =>
            s.writable && s.write(frameControl(hp, { type: 'result', ok: false, error: (err as Error).message })),
        );
        return;
      }
      if (peer === undefined) throw new CorruptFrameError('connection must start with hello', 0);
      if (kind !== 2) throw new CorruptFrameError(`unexpected frame kind ${kind}`, 0);
      const { message } = decodeMessageFrame(hp, frame);
      if (this.blocked.has(message.from)) return;
      this.lastHeard.set(message.from, Date.now());
      this.options.onMessage(message);
    });
    s.on('data', (d: Buffer) => {
      try {
        reader.push(d);
      } catch (err) {
        logger.warn('raft connection closed: bad frame', { peer: peer ?? '?', error: (err as Error).message });
        s.destroy();
      }
    });
  }

  /** Counters for metrics and status. */
  stats(): { peers: number; dropped: number } {
    let dropped = 0;
    for (const p of this.peers.values()) dropped += p.dropped;
    return { peers: this.peers.size, dropped };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.peers.values()) p.close();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
