import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import {
  type DnsAnswer,
  type DnsOptions,
  type DnsType,
  remoteDatacenterOf,
  resolve,
  validateDnsOptions,
} from '../core/dns/resolver.js';
import type { Logger } from '../core/ports/logger.js';
import { MetricChildren, type Metrics, NO_METRICS } from '../core/ports/metrics.js';
import type { StateStore } from '../core/ports/state-store.js';
import { answerServiceQuery, responseSizeLimit, UDP_MAX } from './dns-service-answer.js';
import { toWire } from './dns-records.js';

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** Bytes a TCP client may send before we see a whole query, and concurrent TCP clients. */
const TCP_MAX_QUERY = 65535;
const TCP_MAX_CLIENTS = 256;
const TCP_IDLE_MS = 10_000;

type Answer = dnsPacket.Answer;

const SUPPORTED = new Set<DnsType>(['A', 'AAAA', 'SRV', 'TXT', 'SOA', 'ANY']);

/**
 * Answers one DNS query message. Returns the response bytes, or undefined when the input is not
 * even a DNS header (dropped). Malformed queries get FORMERR; over UDP an answer that does not
 * fit gets the TC bit with as many answers as fit, each still with its additional records (when
 * the resolver says which they are), so the client can use them or retry over TCP.
 *
 * A, AAAA and SRV questions about services take a fast path (server/dns-service-answer.ts) that
 * gives the same bytes as `answerQueryGeneral` from records encoded once per change of the service.
 */
export function answerQuery(query: Buffer, store: StateStore, options: DnsOptions, udp: boolean): Buffer | undefined {
  return answerServiceQuery(query, store, options, udp) ?? answerQueryGeneral(query, store, options, udp);
}

/** Answers a question about another datacenter (a server of that datacenter resolves it). */
export type RemoteDnsLookup = (dc: string, name: string, qtype: DnsType) => Promise<DnsAnswer>;

/**
 * `answerQuery`, and questions about another datacenter's nodes and services
 * (`<…>.service.<dc>.<domain>`) answered through `remote` (asynchronously): a datacenter no
 * server knows is NXDOMAIN, one none of whose servers answered SERVFAIL (as Consul).
 */
export function answerQueryFederated(
  query: Buffer,
  store: StateStore,
  options: DnsOptions,
  udp: boolean,
  remote: RemoteDnsLookup,
): Buffer | undefined | Promise<Buffer | undefined> {
  const name = questionName(query);
  const dc = name === undefined ? undefined : remoteDatacenterOf(name, options);
  if (dc === undefined) return answerQuery(query, store, options, udp);
  return answerQueryGeneral(query, store, options, udp, (q, qtype) =>
    remote(dc, q, qtype).catch((err: unknown): DnsAnswer => ({
      rcode: /^No path to datacenter/.test((err as Error).message) ? 'NXDOMAIN' : 'SERVFAIL',
      answers: [],
      additionals: [],
      authorities: [],
    })),
  );
}

/** The first question's name, read without decoding the whole message (undefined: none readable). */
function questionName(query: Buffer): string | undefined {
  try {
    return dnsPacket.decode(query).questions?.[0]?.name;
  } catch {
    return undefined;
  }
}

/**
 * `answerQuery` without its fast path: decodes the query with dns-packet, asks `resolve` and
 * encodes its answer, cutting it to fit as `answerQuery` says. The reference the fast path is
 * tested against; every query the fast path leaves goes here.
 */
export function answerQueryGeneral(
  query: Buffer,
  store: StateStore,
  options: DnsOptions,
  udp: boolean,
): Buffer | undefined;
export function answerQueryGeneral(
  query: Buffer,
  store: StateStore,
  options: DnsOptions,
  udp: boolean,
  lookup: (name: string, qtype: DnsType) => Promise<DnsAnswer>,
): Buffer | Promise<Buffer>;
export function answerQueryGeneral(
  query: Buffer,
  store: StateStore,
  options: DnsOptions,
  udp: boolean,
  lookup?: (name: string, qtype: DnsType) => Promise<DnsAnswer>,
): Buffer | undefined | Promise<Buffer> {
  let req: dnsPacket.DecodedPacket;
  try {
    req = dnsPacket.decode(query);
  } catch {
    if (query.length < 12) return undefined;
    // Keep the id so the client can match the error to its query.
    return dnsPacket.encode({ id: query.readUInt16BE(0), type: 'response', flags: RCODE.FORMERR, questions: [] });
  }
  const rd = req.flags !== undefined ? req.flags & dnsPacket.RECURSION_DESIRED : 0;
  const q = req.questions?.[0];
  const base = { id: req.id ?? 0, type: 'response' as const, questions: req.questions ?? [] };
  if (req.type !== 'query' || !q || (req.questions?.length ?? 0) !== 1) {
    return dnsPacket.encode({ ...base, flags: rd | RCODE.FORMERR });
  }
  const qtype = q.type as string as DnsType;
  const opt = req.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  const limit = responseSizeLimit(udp, opt?.udpPayloadSize);
  if (lookup)
    return (
      SUPPORTED.has(qtype) ? lookup(q.name, qtype) : lookup(q.name, 'SOA').then((r) => ({ ...r, answers: [] }))
    ).then((result) => encodeAnswer(base, rd, opt, limit, result));
  const result = SUPPORTED.has(qtype)
    ? store.read((tx) => resolve(tx, q.name, qtype, options))
    : store.read((tx) => ({ ...resolve(tx, q.name, 'SOA', options), answers: [] }));
  return encodeAnswer(base, rd, opt, limit, result);
}

/** Encodes `result` as the response to a query (`base`: its id and questions), cut to `limit` bytes with TC. */
function encodeAnswer(
  base: { id: number; type: 'response'; questions: dnsPacket.Question[] },
  rd: number,
  opt: { udpPayloadSize?: number } | undefined,
  limit: number,
  result: DnsAnswer,
): Buffer {
  const flags = dnsPacket.AUTHORITATIVE_ANSWER | rd | RCODE[result.rcode];
  const optOut = opt ? [{ type: 'OPT', name: '.', udpPayloadSize: UDP_MAX } as Answer] : [];
  const answers = result.answers.map(toWire);
  const additionals = result.additionals.map(toWire);
  const authorities = result.authorities.map(toWire);
  const out = dnsPacket.encode({ ...base, flags, answers, additionals: [...additionals, ...optOut], authorities });
  if (out.length <= limit) return out;
  // Too big for UDP: keep the longest prefix of the answers that fits, with the additional records
  // that belong to those answers (all of them dropped when the resolver does not say which), and
  // set TC so the client can ask again over TCP. The authority section goes first.
  const perAnswer = result.additionalsPerAnswer;
  const cut = (k: number): Buffer => {
    const kept = perAnswer ? perAnswer.slice(0, k).reduce((a, b) => a + b, 0) : 0;
    return dnsPacket.encode({
      ...base,
      flags: flags | dnsPacket.TRUNCATED_RESPONSE,
      answers: answers.slice(0, k),
      additionals: [...additionals.slice(0, kept), ...optOut],
      authorities: [],
    });
  };
  if (!perAnswer) {
    const withoutAdditionals = cut(answers.length);
    if (withoutAdditionals.length <= limit) return withoutAdditionals;
  }
  // Invariant: cut(low) fits (no answers is a header, the question and OPT), cut(high) does not.
  let low = 0;
  let high = answers.length;
  let best = cut(0);
  while (high - low > 1) {
    const mid = (low + high) >> 1;
    const attempt = cut(mid);
    if (attempt.length <= limit) [low, best] = [mid, attempt];
    else high = mid;
  }
  return best;
}

/**
 * A DNS listener, bound to UDP and TCP on the same address. Until serve() is called it answers
 * nothing: UDP queries are dropped and TCP connections closed.
 */
export interface DnsListener {
  /** "host:port" both sockets are bound to. */
  readonly address: string;
  /**
   * Starts answering queries from the catalog in `store`, counting and timing them in `metrics`
   * (konsul_dns_*), and questions about other datacenters through `remote` (absent: NXDOMAIN);
   * call once. Throws ConfigError for bad options.
   */
  serve(store: StateStore, options: DnsOptions, metrics?: Metrics, remote?: RemoteDnsLookup): void;
  /** Closes both sockets and every TCP connection. */
  close(): Promise<void>;
}

/** Answers one query message (see answerQuery), at once or later; undefined: drop it. */
type Answerer = (query: Buffer, udp: boolean) => Buffer | undefined | Promise<Buffer | undefined>;

/** Question types counted under their own name in the DNS metrics; any other is `other`. */
const QTYPE_NAMES = new Map([
  [1, 'A'],
  [28, 'AAAA'],
  [33, 'SRV'],
  [16, 'TXT'],
  [6, 'SOA'],
  [255, 'ANY'],
  [12, 'PTR'],
  [5, 'CNAME'],
]);
const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/** The first question's type as a metric label: a name of QTYPE_NAMES, `other`, or `malformed`. */
function questionType(query: Buffer): string {
  if (query.length < 12 || query.readUInt16BE(4) === 0) return 'malformed';
  let at = 12;
  for (let labels = 0; labels < 128; labels++) {
    const len = query[at];
    if (len === undefined) return 'malformed';
    if (len === 0)
      return at + 3 <= query.length ? (QTYPE_NAMES.get(query.readUInt16BE(at + 1)) ?? 'other') : 'malformed';
    if (len >= 0xc0)
      return at + 4 <= query.length ? (QTYPE_NAMES.get(query.readUInt16BE(at + 2)) ?? 'other') : 'malformed';
    at += len + 1;
  }
  return 'malformed';
}

/**
 * `answer` counted and timed: konsul_dns_queries_total by transport, question type and response
 * code (`dropped` when no answer is sent), konsul_dns_query_seconds for the time to answer.
 */
function measured(answer: Answerer, metrics: Metrics): Answerer {
  const queries = metrics.counter(
    'konsul_dns_queries_total',
    'DNS queries by transport, question type and response code (dropped: not answered)',
    ['proto', 'type', 'rcode'],
  );
  const time = metrics.histogram(
    'konsul_dns_query_seconds',
    'Time to answer one DNS query',
    [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
  );
  const series = new MetricChildren((labels) => queries.labels(labels));
  return (query, udp) => {
    const done = time.startTimer();
    const count = (out: Buffer | undefined): Buffer | undefined => {
      done();
      const rcode = out === undefined ? 'dropped' : (RCODE_NAMES[(out[3] as number) & 0x0f] ?? 'other');
      const proto = udp ? 'udp' : 'tcp';
      const type = questionType(query);
      series.get(`${proto} ${type} ${rcode}`, () => ({ proto, type, rcode })).inc();
      return out;
    };
    const out = answer(query, udp);
    return out instanceof Promise ? out.then(count) : count(out);
  };
}

/**
 * Binds DNS over UDP and TCP on host:port; serve() then makes it answer. A bad packet never
 * crashes it. With port 0 the UDP socket picks a free port and TCP takes the same one; if TCP
 * finds it taken, both try again with another (up to 20 times). Rejects with the socket's error
 * (e.g. EADDRINUSE) when the address cannot be bound.
 */
export async function bindDns(host: string, port: number, logger: Logger): Promise<DnsListener> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bindDnsOnce(host, port, logger);
    } catch (err) {
      if (port !== 0 || attempt >= 20 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

async function bindDnsOnce(host: string, port: number, logger: Logger): Promise<DnsListener> {
  let answer: Answerer | undefined;
  const udp = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  udp.on('message', (msg, rinfo) => {
    if (!answer) return;
    const send = (out: Buffer | undefined): void => {
      if (out) udp.send(out, rinfo.port, rinfo.address);
    };
    const failed = (err: unknown): void => logger.warn('dns query failed', { error: (err as Error).message });
    try {
      const out = answer(msg, true);
      if (out instanceof Promise) out.then(send, failed);
      else send(out);
    } catch (err) {
      failed(err);
    }
  });
  await new Promise<void>((resolveBind, reject) => {
    udp.once('error', reject);
    udp.bind(port, host, () => {
      udp.off('error', reject);
      resolveBind();
    });
  });
  // Errors after the bind are logged (a failed bind is the caller's to report).
  udp.on('error', (err) => logger.warn('dns udp error', { error: err.message }));
  const boundPort = udp.address().port;
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((s) => {
    const serving = answer;
    if (!serving || sockets.size >= TCP_MAX_CLIENTS) {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.setTimeout(TCP_IDLE_MS, () => s.destroy());
    s.once('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > TCP_MAX_QUERY + 2) return s.destroy();
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        // Answers about other datacenters come later, maybe after the next ones (RFC 7766 §7 allows it).
        const send = (out: Buffer | undefined): void => {
          if (!out) return void s.destroy();
          const head = Buffer.alloc(2);
          head.writeUInt16BE(out.length);
          s.write(Buffer.concat([head, out]));
        };
        const failed = (err: unknown): void => {
          logger.warn('dns query failed', { error: (err as Error).message });
          s.destroy();
        };
        try {
          const out = serving(msg, false);
          if (out instanceof Promise) out.then(send, failed);
          else send(out);
        } catch (err) {
          return failed(err);
        }
      }
    });
  });
  try {
    await new Promise<void>((resolveListen, reject) => {
      tcp.once('error', reject);
      tcp.listen(boundPort, host, () => {
        tcp.off('error', reject);
        resolveListen();
      });
    });
  } catch (err) {
    await new Promise<void>((r) => udp.close(() => r()));
    throw err;
  }
  return {
    address: `${host}:${boundPort}`,
    serve: (store, options, metrics = NO_METRICS, remote) => {
      validateDnsOptions(options);
      answer = measured(
        (query, overUdp) =>
          remote
            ? answerQueryFederated(query, store, options, overUdp, remote)
            : answerQuery(query, store, options, overUdp),
        metrics,
      );
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
    },
  };
}
