import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  createServer as createH2cServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Readable } from 'node:stream';
import { getRequestListener, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import { bodyTooLarge, checkDeclaredLength } from '../../core/api/body.js';
import { BadRequestError, ConfigError } from '../../core/errors.js';

/** What the listener knows about a request besides the Web Request. */
export interface HttpClient {
  readonly remoteAddress: string;
  /**
   * Reads the body straight from Node's request stream (a BodyReader for one request):
   * undefined once the body was read by other means.
   */
  readBody(maxBytes: number): Promise<Uint8Array> | undefined;
  /**
   * A signal that aborts when the response closes (the client went away, or the answer was sent);
   * made on first call, one per request. Cheaper than the Web Request's `signal`.
   */
  gone(): AbortSignal;
  /**
   * Sets a header of the response before it is written (Node merges it with the handler's);
   * false once the response has begun.
   */
  setHeader(name: string, value: string): boolean;
}

/**
 * Collects a Node request's body, rejecting with a 413 as soon as more than `maxBytes` arrived
 * (or before reading, when its Content-Length says so; a 400 when that is not a length).
 */
function readIncoming(
  incoming: Readable & { readonly headers: { readonly 'content-length'?: string } },
  maxBytes: number,
): Promise<Uint8Array> | undefined {
  if (incoming.readableDidRead || incoming.readableEnded) return undefined;
  try {
    checkDeclaredLength(incoming.headers['content-length'], maxBytes);
  } catch (err) {
    return Promise.reject(err as Error);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const stop = (): void => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > maxBytes) {
        stop();
        // Read and drop the rest, so the 413 can be answered on a connection that stays usable.
        incoming.resume();
        reject(bodyTooLarge(total, maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    };
    const onError = (err: Error): void => {
      stop();
      reject(new BadRequestError(`the request body could not be read: ${err.message}`));
    };
    const onClose = (): void => {
      stop();
      reject(new BadRequestError('the request body could not be read: the connection closed before it ended'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/** A listening HTTP server. */
export interface HttpListener {
  /** The bound address, "host:port" (the real port when 0 was asked for). */
  readonly address: string;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to `graceMs`, then cuts
   * the remaining connections. Resolves when the socket is closed.
   */
  close(graceMs: number): Promise<void>;
  /** Replaces the certificate, key and CA of an HTTPS listener for new connections (no-op for HTTP). */
  reloadTls(tls: HttpTls): void;
  /** What the listener holds right now (for metrics and benchmarks). */
  stats(): HttpListenerStats;
}

/** Counts of what an HTTP listener holds, and what it refused since it started. */
export interface HttpListenerStats {
  /** Open client connections (HTTP/1.1 and HTTP/2, plain and TLS). */
  readonly connections: number;
  /** Open HTTP/2 sessions (each is one of `connections`). */
  readonly http2Sessions: number;
  /** HTTP/2 streams in flight across all sessions. */
  readonly http2Streams: number;
  /** Connections refused at the connection limit (HTTP/1.1: answered 503; HTTP/2 and TLS: closed). */
  readonly refusedConnections: number;
  /** Failed accepts (EMFILE: the process is out of file descriptors). */
  readonly acceptErrors: number;
}

/** PEM material for an HTTPS listener; `ca` + `verifyIncoming` require client certificates. */
export interface HttpTls {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string | undefined;
  readonly verifyIncoming: boolean;
}

/** Bounds of an HTTP listener; see DEFAULT_HTTP_LIMITS. */
export interface HttpLimits {
  /** Open connections (1..1,000,000); the next one is answered 503 + Retry-After (HTTP/1.1) or closed. */
  readonly maxConnections: number;
  /** Concurrent streams per HTTP/2 connection (1..2^31-1); more are refused with RST_STREAM REFUSED_STREAM. */
  readonly http2MaxStreams: number;
  /** Memory nghttp2 may hold per HTTP/2 session, MiB (>= 1); beyond it new streams are refused. */
  readonly http2MaxSessionMemoryMb: number;
}

/** Default listener bounds: room for 15,000 waiting HTTP/1.1 clients under a 20,000 descriptor limit. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: 18_000,
  http2MaxStreams: 8192,
  http2MaxSessionMemoryMb: 256,
};

/** The first bytes of the HTTP/2 connection preface; no HTTP/1.x method starts with them. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

const REFUSED_H1 =
  'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\n' +
  'Connection: close\r\nContent-Length: 36\r\n\r\ntoo many connections, retry shortly\n';

/**
 * Serves a Web `fetch` handler on host:port over HTTP/1.1 and HTTP/2 (with the client's address
 * and a direct body reader). Plain listeners serve HTTP/1.1 and HTTP/2 with prior knowledge (h2c:
 * the connection preface decides); TLS listeners negotiate h2 or http/1.1 by ALPN. Connections
 * beyond `limits.maxConnections` get a 503 with Retry-After (HTTP/1.1) or are closed. Rejects
 * with ConfigError when the address cannot be bound (in use, not local, no permission).
 */
export async function listenHttp(
  fetch: (req: Request, client: HttpClient) => Response | Promise<Response>,
  host: string,
  port: number,
  tls?: HttpTls,
  limits: HttpLimits = DEFAULT_HTTP_LIMITS,
): Promise<HttpListener> {
  if (!Number.isSafeInteger(limits.maxConnections) || limits.maxConnections < 1)
    throw new RangeError('maxConnections must be a positive integer');
  if (
    !Number.isSafeInteger(limits.http2MaxStreams) ||
    limits.http2MaxStreams < 1 ||
    limits.http2MaxStreams > 2 ** 31 - 1
  )
    throw new RangeError('http2MaxStreams must be in 1..2^31-1');
  const handler = (req: Request, env: HttpBindings | Http2Bindings) => {
    const incoming = env.incoming;
    let gone: AbortController | undefined;
    return fetch(req, {
      remoteAddress: incoming?.socket?.remoteAddress ?? '',
      readBody: (maxBytes) => (incoming ? readIncoming(incoming, maxBytes) : undefined),
      gone: () => {
        if (!gone) {
          const controller = (gone = new AbortController());
          const outgoing = env.outgoing as { once(e: 'close', f: () => void): void; destroyed?: boolean } | undefined;
          if (!outgoing || outgoing.destroyed) controller.abort();
          else outgoing.once('close', () => controller.abort());
        }
        return gone.signal;
      },
      setHeader: (name, value) => {
        const outgoing = env.outgoing as
          { headersSent?: boolean; setHeader(n: string, v: string): unknown } | undefined;
        if (!outgoing || outgoing.headersSent) return false;
        outgoing.setHeader(name, value);
        return true;
      },
    });
  };
  const honoListener = getRequestListener(handler);
  let connections = 0;
  let refusedConnections = 0;
  let acceptErrors = 0;
  let stopping = false;
  /** HTTP/1.1 sockets with the number of their requests in flight (closed once idle while stopping). */
  const h1Sockets = new Map<Socket, number>();
  const sessions = new Set<Http2Session>();
  /** Every accepted socket, refused ones included (cut when the grace period of close() ends). */
  const allSockets = new Set<Socket>();

  const onRequest = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    if (req.httpVersionMajor === 1) {
      const socket = req.socket as Socket;
      h1Sockets.set(socket, (h1Sockets.get(socket) ?? 0) + 1);
      res.once('close', () => {
        const n = (h1Sockets.get(socket) ?? 1) - 1;
        if (!h1Sockets.has(socket)) return;
        h1Sockets.set(socket, n);
        if (stopping && n === 0) socket.end();
      });
      if (stopping) (res as ServerResponse).shouldKeepAlive = false;
    }
    void honoListener(req as IncomingMessage, res as ServerResponse);
  };
  const h2Options = {
    settings: { maxConcurrentStreams: limits.http2MaxStreams },
    maxSessionMemory: limits.http2MaxSessionMemoryMb,
  };
  const onSession = (session: Http2Session): void => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', () => undefined);
    if (stopping) session.close();
  };
  /** Counts a connection; false (and the caller refuses it) beyond the limit. */
  const admit = (socket: Socket): boolean => {
    socket.on('error', () => socket.destroy());
    allSockets.add(socket);
    socket.once('close', () => allSockets.delete(socket));
    if (connections >= limits.maxConnections || stopping) {
      refusedConnections++;
      return false;
    }
    connections++;
    socket.once('close', () => {
      connections--;
      h1Sockets.delete(socket);
    });
    return true;
  };

  let server: NetServer;
  let h2Server: Http2Server | Http2SecureServer;
  if (tls) {
    const secure = createSecureServer(
      {
        allowHTTP1: true,
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca ? { ca: tls.ca } : {}),
        requestCert: tls.verifyIncoming,
        rejectUnauthorized: tls.verifyIncoming,
        ...h2Options,
      },
      onRequest,
    );
    secure.on('connection', (socket: Socket) => {
      if (!admit(socket)) socket.destroy();
      // As node:http servers do: no Nagle delay (with delayed ACKs a response's last segment
      // could wait 40 ms or more).
      else socket.setNoDelay(true);
    });
    h2Server = secure;
    server = secure;
  } else {
    const h1 = createHttp1Server(onRequest);
    const h2 = createH2cServer(h2Options, onRequest);
    h2Server = h2;
    // noDelay, as node:http servers set it: without it the last segment of an answer waits for
    // the client's delayed ACK (Nagle), which put tens to hundreds of ms on some answers.
    server = createNetServer({ noDelay: true }, (socket) => {
      const admitted = admit(socket);
      sniffProtocol(socket, (isH2) => {
        if (!admitted) {
          if (isH2) socket.destroy();
          else {
            socket.end(REFUSED_H1);
            // A client that keeps its half of the connection open is cut after a second.
            socket.setTimeout(1000, () => socket.destroy());
          }
        } else if (isH2) h2.emit('connection', socket);
        else {
          h1Sockets.set(socket, 0);
          h1.emit('connection', socket);
          // The parser reads the socket's handle directly; the bytes put back flow through 'data'.
          socket.resume();
        }
      });
    });
  }
  h2Server.on('session', onSession);
  let http2Streams = 0;
  h2Server.on('stream', (stream: ServerHttp2Stream) => {
    http2Streams++;
    stream.once('close', () => http2Streams--);
  });
  h2Server.on('sessionError', () => undefined);

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new ConfigError(`cannot listen on ${host}:${port}: ${err.code ?? err.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      // Failed accepts (EMFILE) must not crash the process: count them, libuv keeps accepting.
      server.on('error', () => acceptErrors++);
      resolve();
    });
  });
  const info = server.address() as AddressInfo;
  const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  return {
    address: `${shownHost}:${info.port}`,
    reloadTls: (next) => {
      if (tls)
        (server as Http2SecureServer).setSecureContext({
          cert: next.cert,
          key: next.key,
          ...(next.ca ? { ca: next.ca } : {}),
        });
    },
    stats: () => {
      return { connections, http2Sessions: sessions.size, http2Streams, refusedConnections, acceptErrors };
    },
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        stopping = true;
        const cut = setTimeout(() => {
          for (const s of sessions) s.destroy();
          for (const socket of allSockets) socket.destroy();
        }, graceMs);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        for (const s of sessions) s.close();
        for (const [socket, inFlight] of h1Sockets) if (inFlight === 0) socket.end();
      }),
  };
}

/**
 * Reads a connection's first bytes and tells whether they begin the HTTP/2 preface; the bytes
 * are put back (unshift) for the server that gets the socket. Decides as soon as the bytes
 * read differ from the preface or cover it.
 */
function sniffProtocol(socket: Socket, decide: (isH2: boolean) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    const matches = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (matches && n < H2_PREFACE.length) return;
    socket.off('data', onData);
    socket.pause();
    socket.unshift(seen);
    decide(matches);
  };
  socket.on('data', onData);
}
