import type { Transport } from '../core/ports/transport.js';
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { pack, unpack } from '../core/util/msgpack.js';
import { EntriesFrameCache } from '../core/codec/entries.js';
import { encodeMessageFrames, MessageFrameReader } from '../core/codec/message.js';
import { CorruptFrameError, FRAME_HEADER_BYTES } from '../core/hotpaths/frame.js';
import type { HotPaths } from '../core/ports/hot-paths.js';
import type { Logger } from '../core/ports/logger.js';
import type { Message, NodeId } from '../core/raft/types.js';
import { DelayLine } from '../core/chaos/delay-line.js';
import { DROP, type LinkFaults } from '../core/chaos/link-faults.js';
import type { Clock } from '../core/ports/clock.js';

/** Frame kind of control messages (hello, join, leave), beside entries (1) and Raft messages (2). */
const CONTROL_KIND = 3;
/** Frame kind of an API request a follower forwards to the leader. */
const FORWARD_KIND = 4;
/** Frame kind of the leader's answer to a forwarded request. */
const ANSWER_KIND = 5;
/** Largest frame accepted from a peer (bytes); a larger declared length closes the connection. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Forwarded requests waiting for their answers per peer, by default; more are refused (not sent). */
const DEFAULT_MAX_FORWARDS = 4096;

/** An API request a follower relays to the leader over the transport (a write). */
export interface ForwardedRequest {
  readonly method: string;
  /** Path and query string. */
  readonly path: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body?: Uint8Array;
}

/** The leader's answer to a forwarded request. */
export interface ForwardedAnswer {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array;
}

/**
 * A forwarded request got no answer. `sent` false: it never left this server (no connection to
 * the peer, too many waiting), so it was certainly not applied; true: it was sent and the
 * connection closed or the caller gave up first, so the outcome is unknown.
 */
export class ForwardFailedError extends Error {
  constructor(
    message: string,
    readonly sent: boolean,
  ) {
    super(message);
    this.name = 'ForwardFailedError';
  }
}

/** A plain-text answer to a forwarded request. */
export function textAnswer(status: number, message: string): ForwardedAnswer {
  return { status, headers: [['content-type', 'text/plain; charset=utf-8']], body: new TextEncoder().encode(message) };
}

/**
 * The method of a "forwarded request" that is a follower's proposal: its body is an encoded
 * command for the leader to propose (ClusterCommitter), and the answer's body the encoded
 * outcome. Not an HTTP method, so no client's request can be taken for one.
 */
export const PROPOSE_METHOD = 'KONSUL-PROPOSE';

/** The answer of a server that cannot run forwarded requests yet. */
export const STARTING_ANSWER = textAnswer(
  500,
  'No cluster leader: the server is starting; the request was not applied\n',
);

/** How a forwarded request travels: `i` pairs it with its answer. */
interface ForwardFrame {
  i: number;
  m: string;
  p: string;
  h: Array<readonly [string, string]>;
  b?: Uint8Array;
}

/** How an answer travels. */
interface AnswerFrame {
  i: number;
  s: number;
  h: Array<readonly [string, string]>;
  b: Uint8Array;
}

/**
 * Corks `s` until `later` runs its uncork, unless it is corked already: what is written to it
 * meanwhile leaves in one write. Answers to forwarded requests are resolved together when the
 * leader applies a batch (process.nextTick gathers them); forwarded requests arrive one per
 * HTTP request (setImmediate gathers those of one turn of the event loop).
 */
function corkUntil(s: net.Socket, later: (fn: () => void) => unknown): void {
  if (s.writableCorked > 0) return;
  s.cork();
  later(() => s.uncork());
}

/** Encodes `value` (msgpack) as one frame of `kind`. */
function frameOf(hp: HotPaths, kind: number, value: unknown): Uint8Array {
  const body = pack(value);
  const f = hp.frameBuffer(FRAME_HEADER_BYTES + body.length);
  f.bytes.set(body, FRAME_HEADER_BYTES);
  return hp.sealFrame(f, kind, body.length);
}

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
  /**
   * Answers an API request an authenticated peer forwarded (`remoteAddress`: the connection's
   * peer address); never rejects (a failure is an answer). Absent: forwarded requests get a 500.
   */
  onForward?(from: NodeId, remoteAddress: string, r: ForwardedRequest): Promise<ForwardedAnswer>;
  /** Forwarded requests waiting for answers per peer (default 4096); more are refused unsent. */
  readonly maxForwards?: number;
  /**
   * Entries frames shared with the log storage (WalLogStorage's `entriesFrames`), so a batch of
   * entries is encoded once for the log and every follower; absent, the transport keeps its own.
   */
  readonly entriesFrames?: EntriesFrameCache;
}

function frameControl(hp: HotPaths, c: ControlMessage): Uint8Array {
  return frameOf(hp, CONTROL_KIND, c);
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

/**
 * Cancels a forwarded request (what an AbortSignal does, for a fraction of its cost per
 * request): abort() runs the one callback set with onAbort, once. One token per forwarded request.
 */
export class ForwardCancel {
  aborted = false;
  private callback: (() => void) | undefined;

  /** Aborts (idempotent): the callback set last runs, if any. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const fn = this.callback;
    this.callback = undefined;
    fn?.();
  }

  /** Sets (or, with undefined, clears) what abort() runs; runs it at once if already aborted. */
  onAbort(fn: (() => void) | undefined): void {
    if (this.aborted) fn?.();
    else this.callback = fn;
  }
}

/** An outbound connection to one peer with a bounded queue and reconnection with backoff. */
class Peer {
  private socket: net.Socket | undefined;
  /** Messages waiting to be written, each as its frames (see encodeMessageFrames). */
  private queue: Uint8Array[][] = [];
  private connecting = false;
  private draining = false;
  private backoffMs = 100;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Forwarded requests sent on the current connection and not answered yet, by id. */
  private readonly answers = new Map<number, { resolve: (a: ForwardedAnswer) => void; reject: (e: Error) => void }>();
  private nextForward = 0;
  dropped = 0;
  /** Forwarded requests answered. */
  forwarded = 0;
  lastConnected = 0;

  constructor(
    readonly name: NodeId,
    public addr: string,
    private readonly t: RaftTransport,
  ) {}

  /**
   * Queues a message as its frames, which go out together (dropping the oldest message over the
   * bound); flush() or connecting sends it.
   */
  enqueue(frames: Uint8Array[]): void {
    if (this.queue.length >= this.t.options.maxQueueMessages) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(frames);
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
    for (const frames of this.queue) for (const f of frames) s.write(f);
    // Raft messages do not wait for the forwarded requests gathered until setImmediate (corkUntil).
    while (s.writableCorked > 0) s.uncork();
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
    // Our outbound connections carry answers to forwarded requests only; a refusal closes them.
    const reader = new FrameReader(this.t.options.hp, (kind, frame) => {
      if (kind !== ANSWER_KIND) return;
      const a = unpack(frame.subarray(FRAME_HEADER_BYTES)) as AnswerFrame;
      const waiter = this.answers.get(a.i);
      if (!waiter) return;
      this.answers.delete(a.i);
      this.forwarded++;
      waiter.resolve({ status: a.s, headers: a.h, body: a.b });
    });
    s.on('data', (d: Buffer) => {
      try {
        reader.push(d);
      } catch (err) {
        this.t.options.logger.warn('raft connection closed: bad frame', {
          peer: this.name,
          error: (err as Error).message,
        });
        s.destroy();
      }
    });
    s.on('error', () => undefined);
    s.once('close', () => {
      this.socket = undefined;
      this.connecting = false;
      this.draining = false;
      for (const w of this.answers.values())
        w.reject(new ForwardFailedError(`the connection to ${this.name} closed before it answered`, true));
      this.answers.clear();
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

  /**
   * Sends a forwarded request on the open connection and resolves with the answer. Rejects with
   * ForwardFailedError: unsent when not connected, or when maxForwards wait already; sent when
   * the connection closes first or `cancel` aborts.
   */
  forward(r: ForwardedRequest, cancel: ForwardCancel): Promise<ForwardedAnswer> {
    const s = this.socket;
    if (!s || this.draining) {
      this.connect();
      return Promise.reject(new ForwardFailedError(`no connection to ${this.name}`, false));
    }
    if (this.answers.size >= (this.t.options.maxForwards ?? DEFAULT_MAX_FORWARDS))
      return Promise.reject(new ForwardFailedError(`too many requests waiting for ${this.name}`, false));
    if (cancel.aborted) return Promise.reject(new ForwardFailedError('forwarding was aborted', false));
    const id = ++this.nextForward;
    const frame: ForwardFrame = { i: id, m: r.method, p: r.path, h: [...r.headers] };
    if (r.body && r.body.length > 0) frame.b = r.body;
    return new Promise<ForwardedAnswer>((resolve, reject) => {
      cancel.onAbort(() => {
        if (!this.answers.delete(id)) return;
        reject(new ForwardFailedError(`${this.name} did not answer in time`, true));
      });
      this.answers.set(id, {
        resolve: (a) => {
          cancel.onAbort(undefined);
          resolve(a);
        },
        reject: (e) => {
          cancel.onAbort(undefined);
          reject(e);
        },
      });
      corkUntil(s, setImmediate);
      s.write(frameOf(this.t.options.hp, FORWARD_KIND, frame));
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
 * with a join token, a hello without the same token is refused and logged. Two fault layers
 * compose, neither clearing the other: tests may block peers to simulate partitions (`blocked`,
 * --test-faults), and chaos experiments add latency, loss and partitions (attachChaos).
 */
export class RaftTransport implements Transport<Message> {
  readonly options: TransportOptions;
  private server: net.Server | undefined;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly sockets = new Set<net.Socket>();
  private tlsContext: { cert: Buffer; key: Buffer; ca: Buffer } | undefined;
  /** Peers whose messages are dropped both ways (fault injection for tests). */
  readonly blocked = new Set<NodeId>();
  /** The chaos experiments' faults on the links, and the messages their latency holds (attachChaos). */
  private chaos: { readonly faults: LinkFaults; readonly delayed: DelayLine<Message> } | undefined;
  closed = false;
  /** Last time a message arrived from each peer (ms since epoch). */
  readonly lastHeard = new Map<NodeId, number>();
  private readonly entriesFrames: EntriesFrameCache;

  constructor(options: TransportOptions) {
    this.options = options;
    this.entriesFrames = options.entriesFrames ?? new EntriesFrameCache(options.hp);
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

  /**
   * Puts the chaos experiments' link faults in the path of Raft messages: outgoing messages are
   * dropped (partition, loss) or held in a DelayLine (latency; per peer in order, at most
   * maxQueueMessages × 4 held, the oldest dropped beyond) before they are queued; messages and
   * forwarded requests from a partitioned peer are dropped on arrival, and no request is forwarded
   * to one. Call once, before traffic flows.
   */
  attachChaos(faults: LinkFaults, clock: Clock): void {
    const delayed = new DelayLine<Message>(clock, this.options.maxQueueMessages * 4, (peer, ms) => {
      const p = this.peers.get(peer);
      if (!p || this.closed) return;
      for (const m of ms) p.enqueue(encodeMessageFrames(this.options.hp, m, this.entriesFrames));
      p.flush();
    });
    this.chaos = { faults, delayed };
  }

  /** Whether the link to `peer` is cut: blocked by a test or partitioned by a chaos experiment. */
  private cut(peer: NodeId): boolean {
    return this.blocked.has(peer) || (this.chaos !== undefined && this.chaos.faults.cut(peer));
  }

  /** Sends Raft messages (best effort: Raft retries what is lost). */
  send(messages: readonly Message[]): void {
    const touched = new Set<Peer>();
    // Chaos is asked only while an experiment runs or messages it delayed still wait.
    const chaos = this.chaos && (this.chaos.faults.size > 0 || this.chaos.delayed.size > 0) ? this.chaos : undefined;
    for (const m of messages) {
      if (this.blocked.has(m.to)) continue;
      const p = this.peers.get(m.to);
      if (!p) continue;
      if (chaos) {
        const delayMs = chaos.faults.outbound(m.to);
        if (delayMs === DROP) continue;
        // Behind messages still held for the peer, even without a delay of its own: never overtaking.
        if (delayMs > 0 || chaos.delayed.holds(m.to)) {
          chaos.delayed.push(m.to, m, delayMs);
          continue;
        }
      }
      p.enqueue(encodeMessageFrames(this.options.hp, m, this.entriesFrames));
      touched.add(p);
    }
    // One write per peer for the whole batch.
    for (const p of touched) p.flush();
  }

  /**
   * Forwards an API request to peer `to` on the connection Raft messages use, and resolves with
   * its answer (see Peer.forward for the ForwardFailedError cases; a blocked, partitioned or
   * unknown peer is unsent).
   */
  forward(to: NodeId, r: ForwardedRequest, cancel: ForwardCancel): Promise<ForwardedAnswer> {
    const p = this.peers.get(to);
    if (!p || this.cut(to) || this.closed)
      return Promise.reject(new ForwardFailedError(`no connection to ${to}`, false));
    return p.forward(r, cancel);
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
        const reply = unpack(frame.subarray(FRAME_HEADER_BYTES)) as ControlMessage;
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
    const messages = new MessageFrameReader(hp, this.entriesFrames);
    const reader = new FrameReader(hp, (kind, frame) => {
      if (kind === CONTROL_KIND) {
        const c = unpack(frame.subarray(FRAME_HEADER_BYTES)) as ControlMessage;
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
      if (kind === FORWARD_KIND) {
        this.answerForward(s, peer, unpack(frame.subarray(FRAME_HEADER_BYTES)) as ForwardFrame);
        return;
      }
      const message = messages.push(kind, frame);
      if (message === undefined || this.cut(message.from)) return;
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

  /** Runs a request `from` forwarded and writes the answer back on its connection `s`. */
  private answerForward(s: net.Socket, from: NodeId, f: ForwardFrame): void {
    const { hp, onForward } = this.options;
    if (this.cut(from)) return;
    const request: ForwardedRequest = { method: f.m, path: f.p, headers: f.h, ...(f.b ? { body: f.b } : {}) };
    const answering = onForward ? onForward(from, s.remoteAddress ?? '', request) : Promise.resolve(STARTING_ANSWER);
    void answering
      .catch((err: unknown) => textAnswer(500, `forwarded request failed: ${(err as Error).message}\n`))
      .then((a) => {
        if (!s.writable) return;
        corkUntil(s, process.nextTick);
        s.write(frameOf(hp, ANSWER_KIND, { i: f.i, s: a.status, h: [...a.headers], b: a.body }));
      });
  }

  /** Counters for metrics and status. */
  stats(): { peers: number; dropped: number; forwarded: number } {
    let dropped = 0;
    let forwarded = 0;
    for (const p of this.peers.values()) {
      dropped += p.dropped;
      forwarded += p.forwarded;
    }
    return { peers: this.peers.size, dropped, forwarded };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.chaos?.delayed.clear();
    for (const p of this.peers.values()) p.close();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
