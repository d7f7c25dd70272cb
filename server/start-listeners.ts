import type { EntriesFrameCache } from '../core/codec/entries.js';
import type { HotPaths } from '../core/ports/hot-paths.js';
import type { Logger } from '../core/ports/logger.js';
import type { Message } from '../core/raft/types.js';
import {
  DEFAULT_HTTP_LIMITS,
  type HttpClient,
  type HttpListener,
  type HttpTls,
  listenHttp,
} from '../runtimes/node/http-server.js';
import type { HostPort } from '../core/util/host-port.js';
import type { ListenAddr, ServerConfig } from './config.js';
import { bindDns, type DnsListener } from './dns.js';
import { type BoundBroker, bindBroker } from './mqtt/broker.js';
import { errnoOf, listenFailed } from './start-errors.js';
import { openFileLimit } from '../runtimes/node/file-limit.js';
import type { StartupStack } from './startup-stack.js';
import {
  type ControlMessage,
  type ForwardedAnswer,
  type ForwardedRequest,
  RaftTransport,
  STARTING_ANSWER,
} from './transport.js';

/** Serves one HTTP request (the API, once it is built). */
export type HttpHandler = (req: Request, client: HttpClient) => Response | Promise<Response>;

/** Where the raft transport delivers what arrives (the cluster, once it is built). */
export interface RaftHandlers {
  onMessage(m: Message): void;
  onControl(c: ControlMessage): Promise<ControlMessage>;
}

/**
 * Every socket a server listens on, bound before anything else starts, with their handlers
 * attached later: HTTP requests wait for serveHttp() (or get 503 if the start fails first), raft
 * messages are dropped and control requests refused until attachRaft(), DNS and MQTT answer
 * nothing until their serve()/start().
 */
export interface Listeners {
  readonly http: HttpListener;
  readonly transport: RaftTransport;
  /** The raft transport's bound "host:port". */
  readonly raftAddr: string;
  readonly dns: DnsListener | undefined;
  readonly broker: BoundBroker | undefined;
  /** Hands HTTP requests (also those waiting) to `handler`. */
  serveHttp(handler: HttpHandler): void;
  /** Hands raft messages and control requests to `handlers`. */
  attachRaft(handlers: RaftHandlers): void;
  /** Hands API requests that followers forward over the raft transport to `handler`. */
  serveForwarded(handler: ForwardHandler): void;
}

/** Answers an API request a follower forwarded over the raft transport (never rejects). */
export type ForwardHandler = (from: string, remoteAddress: string, r: ForwardedRequest) => Promise<ForwardedAnswer>;

/** What binding needs besides the configuration. */
export interface BindContext {
  readonly name: string;
  readonly hotPaths: HotPaths;
  readonly logger: Logger;
  /** HTTPS material (already read and checked), or undefined for plain HTTP. */
  readonly httpTls: HttpTls | undefined;
  /** Entries frames the raft transport shares with the WAL (see EntriesFrameCache). */
  readonly entriesFrames: EntriesFrameCache;
}

const show = (a: HostPort): string => `${a.host}:${a.port}`;

/** HTTP requests that may wait for the API while the server starts; more get 503 at once. */
const MAX_WAITING_REQUESTS = 1024;

/** The answer to a request the server cannot serve: it is starting (too many waiting) or did not start. */
const unavailable = (): Response =>
  new Response('Server is not ready\n', {
    status: 503,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' },
  });

/**
 * Binds the HTTP API, the raft transport, DNS and the embedded MQTT broker (those configured),
 * in that order, pushing each onto `stack`. Rejects with StartupError naming the flag and the
 * address that cannot be bound. A --dev default DNS or MQTT address whose port is taken gives way
 * to a free port (logged).
 */
export async function bindListeners(config: ServerConfig, ctx: BindContext, stack: StartupStack): Promise<Listeners> {
  let handler: HttpHandler | undefined;
  let failed = false;
  const waiting: Array<() => void> = [];
  const http = await listenHttp(
    (req, client) => {
      if (handler) return handler(req, client);
      if (failed || waiting.length >= MAX_WAITING_REQUESTS) return unavailable();
      return new Promise<void>((resolve) => waiting.push(resolve)).then(() =>
        handler ? handler(req, client) : unavailable(),
      );
    },
    config.httpAddr.host,
    config.httpAddr.port,
    ctx.httpTls,
    {
      maxConnections: config.maxHttpConnections,
      http2MaxStreams: config.http2MaxStreams,
      http2MaxSessionMemoryMb: DEFAULT_HTTP_LIMITS.http2MaxSessionMemoryMb,
    },
  ).catch((err: unknown) => {
    throw listenFailed('--http-addr', show(config.httpAddr), err);
  });
  warnIfFewFiles(config.maxHttpConnections, ctx.logger);
  const wake = (): void => {
    for (const w of waiting.splice(0)) w();
  };
  stack.push('http listener', async () => {
    failed = true;
    wake();
    await http.close(0);
  });

  let raft: RaftHandlers | undefined;
  let forwarded: ForwardHandler | undefined;
  const transport = new RaftTransport({
    self: { name: ctx.name, raftAddr: '', httpAddr: http.address },
    host: config.raftAddr.host,
    port: config.raftAddr.port,
    hp: ctx.hotPaths,
    logger: ctx.logger.child({ component: 'raft' }),
    ...(config.raftTls ? { tls: config.raftTls } : {}),
    ...(config.joinToken ? { joinToken: config.joinToken } : {}),
    maxQueueMessages: 4096,
    entriesFrames: ctx.entriesFrames,
    onMessage: (m) => raft?.onMessage(m),
    onControl: (c) => (raft ? raft.onControl(c) : Promise.resolve({ type: 'refused', reason: 'server is starting' })),
    onForward: (from, remoteAddress, r) =>
      forwarded ? forwarded(from, remoteAddress, r) : Promise.resolve(STARTING_ANSWER),
  });
  const raftAddr = await transport.listen().catch(async (err: unknown) => {
    await transport.close();
    throw listenFailed('--raft-addr', show(config.raftAddr), err);
  });
  transport.setSelf({ name: ctx.name, raftAddr, httpAddr: http.address });
  stack.push('raft transport', () => transport.close());

  const dnsAt = config.dnsAddr;
  const dns = dnsAt
    ? await bindOrFreePort('--dns-addr', 'DNS', dnsAt, ctx.logger, (port) =>
        bindDns(dnsAt.host, port, ctx.logger.child({ component: 'dns' })),
      )
    : undefined;
  if (dns) stack.push('dns listener', () => dns.close());
  const mqttAt = config.mqttAddr;
  const broker = mqttAt
    ? await bindOrFreePort('--mqtt-addr', 'MQTT', mqttAt, ctx.logger, (port) => bindBroker(mqttAt.host, port))
    : undefined;
  if (broker) stack.push('mqtt listener', () => broker.close());

  return {
    http,
    transport,
    raftAddr,
    dns,
    broker,
    serveHttp: (h) => {
      if (failed) return;
      handler = h;
      wake();
    },
    attachRaft: (h) => {
      raft = h;
    },
    serveForwarded: (h) => {
      forwarded = h;
    },
  };
}

/** Descriptors a server needs besides HTTP connections (data dir, raft peers, DNS, MQTT, logs). */
const OTHER_FILES = 256;

/**
 * Warns when --max-http-connections cannot be reached under the process's soft open-file limit:
 * connections beyond it fail to be accepted (EMFILE) instead of getting a 503.
 */
function warnIfFewFiles(maxHttpConnections: number, logger: Logger): void {
  const limit = openFileLimit();
  const want = maxHttpConnections + OTHER_FILES;
  if (!limit || limit.soft >= want) return;
  logger.warn('the open-file limit is below --max-http-connections: connections past it will fail', {
    soft_limit: limit.soft,
    hard_limit: limit.hard,
    max_http_connections: maxHttpConnections,
    hint:
      limit.hard >= want
        ? `raise the soft limit before starting: sh -c 'ulimit -n ${want}; exec konsul server …'`
        : `the hard limit is lower too: raise it (systemd LimitNOFILE=, limits.conf) or give ` +
          `--max-http-connections ${Math.max(1, limit.hard - OTHER_FILES)} or less`,
  });
}

/**
 * Binds `addr`; when it is a --dev default (`orFreePort`) and its port is taken, binds a free
 * port instead and says so. Any other failure is a StartupError naming `flag`.
 */
async function bindOrFreePort<T extends { readonly address: string }>(
  flag: string,
  what: string,
  addr: ListenAddr,
  logger: Logger,
  bind: (port: number) => Promise<T>,
): Promise<T> {
  try {
    return await bind(addr.port);
  } catch (err) {
    if (!addr.orFreePort || errnoOf(err) !== 'EADDRINUSE') throw listenFailed(flag, show(addr), err);
  }
  const bound = await bind(0).catch((err: unknown) => {
    throw listenFailed(flag, `${addr.host}:0`, err);
  });
  logger.warn(`${what} port ${addr.port} is taken (another server?); listening on a free port instead`, {
    [what.toLowerCase()]: bound.address,
    hint: `give ${flag} to choose the address`,
  });
  return bound;
}
