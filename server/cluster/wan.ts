import { type BodyReader, readBody } from '../../core/api/body.js';
import {
  dcNotAvailable,
  type FederationPort,
  FORWARDED_DC_HEADER,
  noPathToDatacenter,
} from '../../core/api/federation.js';
import type { Clock } from '../../core/ports/clock.js';
import type { DnsAnswer, DnsType } from '../../core/dns/resolver.js';
import type { Logger } from '../../core/ports/logger.js';
import type { peerFetch, peerStream } from '../peer-http.js';
import { NOT_FORWARDED } from './forwarder.js';

/** A server as the WAN knows it: its name, datacenter and HTTP API address. */
export interface WanServer {
  readonly Name: string;
  readonly Datacenter: string;
  readonly HttpAddr: string;
}

/** What one server tells another in a WAN ping, and answers with: itself, its leader, whom it knows. */
export interface WanPing {
  readonly Self: WanServer;
  /** Name of the leader of the sender's datacenter, when it knows one. */
  readonly Leader?: string;
  readonly Known: readonly WanServer[];
}

/** What the pool needs. */
export interface WanPoolOptions {
  /** This server (its HTTP address is known once it listens). */
  readonly self: () => WanServer;
  /** `--join-wan` addresses (host:port of other datacenters' servers' HTTP APIs), pinged every round. */
  readonly seeds: readonly string[];
  /** This datacenter's servers, and its leader's name when known. */
  readonly local: () => { readonly servers: readonly WanServer[]; readonly leader: string | undefined };
  readonly call: ReturnType<typeof peerFetch>;
  readonly stream: ReturnType<typeof peerStream>;
  readonly bodyReader?: BodyReader;
  /** Sent with every ping (X-Konsul-Join-Token); pings must carry it to be answered. Never logged. */
  readonly joinToken: string | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Time between ping rounds (ms). */
  readonly intervalMs: number;
}

/** Most servers the pool keeps (every datacenter together); servers heard of past it are ignored. */
const MAX_SERVERS = 512;
/** Most servers one ping lists. */
const MAX_KNOWN_IN_PING = 256;
/** A ping unanswered for this long counts as failed (ms). */
const PING_TIMEOUT_MS = 2000;
/** How long a server-to-server call may take (ms). */
const INTERNAL_TIMEOUT_MS = 5000;
/** Consecutive failed pings after which a server is not sent requests. */
const FAILED_AFTER = 3;
/** A server failing this long is forgotten (seeds are pinged all the same). */
const FORGET_AFTER_MS = 72 * 3600 * 1000;
/** Largest request body sent to another datacenter (the largest API body is a 16 MiB restore). */
const MAX_FORWARD_BODY = 32 * 1024 * 1024;
/** Headers not passed on: those a relay to the leader drops, and the datacenter marker this server sets. */
const NOT_SENT = new Set([...NOT_FORWARDED, FORWARDED_DC_HEADER]);
/** Answer headers not passed back. */
const NOT_RETURNED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

interface Member extends WanServer {
  /** Round-trip time, smoothed (ms); undefined until a ping answered. */
  rttMs?: number;
  /** Last answered ping (ms; 0: never). */
  lastSeen: number;
  /** Pings failed in a row. */
  failures: number;
  /** When it began failing (ms; 0: it is not). */
  failingSince: number;
}

const isServer = (v: unknown): v is WanServer =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as WanServer).Name === 'string' &&
  typeof (v as WanServer).Datacenter === 'string' &&
  typeof (v as WanServer).HttpAddr === 'string' &&
  (v as WanServer).Name.length <= 128 &&
  (v as WanServer).Datacenter.length <= 64 &&
  (v as WanServer).HttpAddr.length <= 256;

/**
 * The WAN pool of a federated server: the servers of every datacenter it has heard of, kept by
 * pinging them (POST /v1/internal/wan/ping) every `intervalMs` — the `--join-wan` seeds, every
 * known server of other datacenters, and this datacenter's own servers, so what one server learns
 * spreads to the others. Each answered ping measures the round-trip time; a server failing
 * FAILED_AFTER pings in a row gets no requests until it answers again. Requests for another
 * datacenter (`?dc=`) go to its leader when known, else its nearest server.
 */
export class WanPool implements FederationPort {
  private readonly members = new Map<string, Member>();
  /** Each datacenter's leader, as its servers said. */
  private readonly leaders = new Map<string, string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private round: Promise<void> | undefined;

  constructor(private readonly o: WanPoolOptions) {}

  /** Starts the ping rounds (the first at once). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.pingRound(), this.o.intervalMs);
    void this.pingRound();
  }

  /** Stops the rounds and waits for one in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.round;
  }

  datacenters(): readonly string[] {
    const self = this.o.self().Datacenter;
    const rtts = new Map<string, number[]>();
    for (const m of this.members.values()) {
      if (m.Datacenter === self) continue;
      const list = rtts.get(m.Datacenter) ?? [];
      if (m.failures < FAILED_AFTER && m.rttMs !== undefined) list.push(m.rttMs);
      rtts.set(m.Datacenter, list);
    }
    const median = (l: number[]) => (l.length === 0 ? Infinity : (l.sort((a, b) => a - b)[l.length >> 1] as number));
    const others = [...rtts.entries()]
      .map(([dc, l]) => ({ dc, rtt: median(l) }))
      .sort((a, b) => a.rtt - b.rtt || (a.dc < b.dc ? -1 : a.dc > b.dc ? 1 : 0));
    return [self, ...others.map((e) => e.dc)];
  }

  /**
   * The servers of `dc` requests may go to, not failing: its leader first, then by round-trip
   * time (those only heard of, not pinged yet, last).
   */
  private candidates(dc: string): Member[] {
    const leader = this.leaders.get(dc);
    return [...this.members.values()]
      .filter((m) => m.Datacenter === dc && m.failures < FAILED_AFTER)
      .sort(
        (a, b) =>
          Number(b.Name === leader) - Number(a.Name === leader) || (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity),
      );
  }

  async forward(dc: string, req: Request): Promise<Response> {
    if (![...this.members.values()].some((m) => m.Datacenter === dc)) throw noPathToDatacenter(dc);
    const targets = this.candidates(dc);
    if (targets.length === 0) throw dcNotAvailable(dc);
    const url = new URL(req.url);
    const read = req.method === 'GET' || req.method === 'HEAD';
    const body = read ? undefined : await readBody(req, MAX_FORWARD_BODY, this.o.bodyReader);
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => {
      if (!NOT_SENT.has(k)) headers[k] = v;
    });
    headers[FORWARDED_DC_HEADER] = this.o.self().Datacenter;
    // A server that cannot be reached is skipped; one that answered, whatever it said, is the answer.
    for (const target of targets.slice(0, 3)) {
      let res: Response;
      try {
        res = await this.o.stream(target.HttpAddr, `${url.pathname}${url.search}`, {
          method: req.method,
          headers,
          ...(body && body.byteLength > 0 ? { body } : {}),
          signal: req.signal,
        });
      } catch (err) {
        if (req.signal.aborted) throw err;
        this.failed(target);
        this.o.logger.debug('request for another datacenter not sent', {
          datacenter: dc,
          server: target.Name,
          error: (err as Error).message,
        });
        continue;
      }
      const out = new Headers();
      res.headers.forEach((v, k) => {
        if (!NOT_RETURNED.has(k)) out.set(k, v);
      });
      return new Response(res.body, { status: res.status, headers: out });
    }
    throw dcNotAvailable(dc);
  }

  async internal(dc: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
    if (![...this.members.values()].some((m) => m.Datacenter === dc)) throw noPathToDatacenter(dc);
    for (const target of this.candidates(dc).slice(0, 3)) {
      try {
        const res = await this.o.call(target.HttpAddr, path, {
          method: body === undefined ? 'GET' : 'POST',
          headers: {
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
            ...(this.o.joinToken ? { 'X-Konsul-Join-Token': this.o.joinToken } : {}),
          },
          ...(body === undefined ? {} : { body: new TextEncoder().encode(JSON.stringify(body)) }),
          signal: AbortSignal.timeout(INTERNAL_TIMEOUT_MS),
        });
        return { status: res.status, body: await res.text() };
      } catch {
        this.failed(target);
      }
    }
    throw dcNotAvailable(dc);
  }

  /**
   * Asks a server of `dc` to resolve a DNS question about its datacenter (GET /v1/internal/dns).
   * Rejects as forward does, and when the answer is not 200.
   */
  async dnsAnswer(dc: string, qname: string, qtype: DnsType): Promise<DnsAnswer> {
    const q = new URLSearchParams({ name: qname, type: qtype });
    const res = await this.internal(dc, `/v1/internal/dns?${q.toString()}`);
    if (res.status !== 200) throw dcNotAvailable(dc);
    return JSON.parse(res.body) as DnsAnswer;
  }

  /**
   * Answers a ping from another server (the internal route): records the sender as heard of and
   * learns whom it knows; returns this server's own ping. The sender is pinged back in the next
   * round, which measures the way back.
   */
  answer(ping: WanPing): WanPing {
    this.learn(ping);
    return this.ownPing();
  }

  private ownPing(): WanPing {
    const self = this.o.self();
    const local = this.o.local();
    const known = new Map<string, WanServer>();
    for (const s of local.servers) known.set(`${s.Datacenter}/${s.Name}`, s);
    for (const m of this.members.values())
      if (m.failures < FAILED_AFTER) known.set(`${m.Datacenter}/${m.Name}`, pick(m));
    return {
      Self: self,
      ...(local.leader !== undefined ? { Leader: local.leader } : {}),
      Known: [...known.values()].slice(0, MAX_KNOWN_IN_PING),
    };
  }

  /** Takes what a ping or an answer says: the sender, its datacenter's leader, the servers it knows. */
  private learn(p: WanPing): Member | undefined {
    const self = this.o.self();
    if (!isServer(p.Self)) return undefined;
    if (typeof p.Leader === 'string' && p.Leader.length <= 128) this.leaders.set(p.Self.Datacenter, p.Leader);
    const sender = this.add(p.Self);
    for (const s of Array.isArray(p.Known) ? p.Known.slice(0, MAX_KNOWN_IN_PING) : [])
      if (isServer(s) && !(s.Name === self.Name && s.Datacenter === self.Datacenter)) this.add(s);
    return sender;
  }

  private add(s: WanServer): Member | undefined {
    const key = `${s.Datacenter}/${s.Name}`;
    const old = this.members.get(key);
    if (old) {
      if (old.HttpAddr !== s.HttpAddr) this.members.set(key, { ...old, HttpAddr: s.HttpAddr });
      return this.members.get(key);
    }
    if (this.members.size >= MAX_SERVERS) return undefined;
    const m: Member = { ...pick(s), lastSeen: 0, failures: 0, failingSince: 0 };
    this.members.set(key, m);
    return m;
  }

  private failed(m: Member): void {
    m.failures++;
    if (m.failingSince === 0) m.failingSince = this.o.clock.now();
  }

  /** One round: pings every seed and every known server but this one, all at once. */
  private pingRound(): Promise<void> {
    this.round ??= (async () => {
      const self = this.o.self();
      // Not federated (no seed, no other datacenter heard of): nothing to ping, not even this datacenter's servers.
      if (this.o.seeds.length === 0 && ![...this.members.values()].some((m) => m.Datacenter !== self.Datacenter))
        return;
      const local = this.o.local();
      for (const s of local.servers) if (s.Name !== self.Name) this.add(s);
      const now = this.o.clock.now();
      for (const [key, m] of this.members)
        if (m.failingSince > 0 && now - m.failingSince > FORGET_AFTER_MS) this.members.delete(key);
      const byAddr = new Map<string, Member | undefined>();
      for (const seed of this.o.seeds) byAddr.set(seed, undefined);
      for (const m of this.members.values()) byAddr.set(m.HttpAddr, m);
      byAddr.delete(self.HttpAddr);
      await Promise.all([...byAddr].map(([addr, m]) => this.pingOne(addr, m)));
    })().finally(() => (this.round = undefined));
    return this.round;
  }

  private async pingOne(addr: string, known: Member | undefined): Promise<void> {
    const started = this.o.clock.now();
    try {
      const res = await this.o.call(addr, '/v1/internal/wan/ping', {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...(this.o.joinToken ? { 'X-Konsul-Join-Token': this.o.joinToken } : {}),
        },
        body: new TextEncoder().encode(JSON.stringify(this.ownPing())),
        signal: AbortSignal.timeout(PING_TIMEOUT_MS),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`answered ${res.status}: ${text.slice(0, 200)}`);
      const m = this.learn(JSON.parse(text) as WanPing);
      if (!m) return;
      const rtt = this.o.clock.now() - started;
      m.rttMs = m.rttMs === undefined ? rtt : m.rttMs * 0.7 + rtt * 0.3;
      if (m.failures >= FAILED_AFTER)
        this.o.logger.info('a server of another datacenter answers again', {
          server: m.Name,
          datacenter: m.Datacenter,
        });
      m.lastSeen = this.o.clock.now();
      m.failures = 0;
      m.failingSince = 0;
    } catch (err) {
      if (!known) {
        this.o.logger.debug('WAN seed did not answer', { addr, error: (err as Error).message });
        return;
      }
      this.failed(known);
      if (known.failures === FAILED_AFTER)
        this.o.logger.warn('a server of another datacenter stopped answering', {
          server: known.Name,
          datacenter: known.Datacenter,
          error: (err as Error).message,
        });
    }
  }
}

function pick(s: WanServer): WanServer {
  return { Name: s.Name, Datacenter: s.Datacenter, HttpAddr: s.HttpAddr };
}
