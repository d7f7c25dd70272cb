import { type BodyReader, readBody } from '../../core/api/body.js';
import type { LocalizedRequest } from '../../core/api/context.js';
import { CLIENT_ADDRESS_HEADER, FORWARDED_HEADER } from '../../core/api/local-defaults.js';
import type { RouteFacts } from '../../core/api/route-table.js';
import { KonsulError, ShuttingDownError } from '../../core/errors.js';
import type { Logger } from '../../core/ports/logger.js';
import { parseDuration } from '../../core/util/duration.js';
import type { peerFetch } from '../peer-http.js';
import {
  ForwardCancel,
  ForwardFailedError,
  type ForwardedAnswer,
  type ForwardedRequest,
  type PeerInfo,
} from '../transport.js';
import { LEADER_ANSWER_MS, type LeaderWatch, type ToLeader } from './leader-watch.js';
import { type ClusterState, sleep } from './state.js';
import type { Tracer } from '../../core/ports/tracing.js';

/** What forwarding needs besides the shared cluster state. */
export interface LeaderForwarderOptions {
  readonly state: ClusterState;
  /** Calls to other servers' APIs (HTTP, or HTTPS when the API is served over TLS). */
  readonly peerFetch: ReturnType<typeof peerFetch>;
  /** Reads request bodies to forward straight from the runtime (see BodyReader). */
  readonly bodyReader?: BodyReader;
  /** How long a forwarded request waits for a leader to appear (ms). */
  readonly leaderWaitMs: number;
  readonly logger: Logger;
  /**
   * Carries writes to the leader on the raft transport's connection (RaftTransport.forward);
   * absent, or when it could not send one, writes go over HTTP like reads.
   */
  readonly transport?: {
    forward(to: string, r: ForwardedRequest, cancel: ForwardCancel): Promise<ForwardedAnswer>;
  };
  /** Cancels forwarded requests whose leader changed or whose time ran out (shared with the committer). */
  readonly watch: LeaderWatch;
  /** Opens a client span per request handed to the leader, whose traceparent the leader continues. */
  readonly tracer?: Tracer;
  /** Resolves once this server has applied the leader's read point (a ReadIndex round; ClusterView.barrier). */
  readonly readBarrier: () => Promise<void>;
  /** ACLs are on: a write run here (RouteFacts.proposedHere) waits for a ReadIndex round first. */
  readonly aclEnabled: boolean;
}

/** Largest request body a follower buffers to forward (the largest API body is a 16 MiB restore). */
const MAX_FORWARD_BODY = 32 * 1024 * 1024;

/** Headers about one HTTP connection (RFC 9110 §7.6.1), plus Host and Content-Length, which the relay sets itself. */
export const HOP_BY_HOP: readonly string[] = [
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-connection',
  'expect',
  'content-length',
];

/** Request headers a server does not pass on: the hop-by-hop ones and those it sets itself. */
export const NOT_FORWARDED: ReadonlySet<string> = new Set([...HOP_BY_HOP, CLIENT_ADDRESS_HEADER, FORWARDED_HEADER]);

/** The leader's answer headers a follower passes on (not the hop-by-hop ones), as pairs. */
function answerHeadersOf(from: Iterable<readonly [string, string]>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of from) if (!HOP_BY_HOP.includes(k.toLowerCase())) out.push([k, v]);
  return out;
}

const noLeader = (text: string): Response =>
  new Response(text, { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });

/**
 * Relays a follower's writes to the leader (on the raft transport, else its HTTP API) and the
 * answer back, and lets followers answer reads after a ReadIndex round (ClusterView.forward).
 * Requests in flight are watched by the LeaderWatch (cancelled when the leader changes).
 */
export class LeaderForwarder {
  constructor(private readonly o: LeaderForwarderOptions) {}

  /**
   * Forwards `req` when the leader must answer it and this server does not lead (writes, and
   * reads of leaderState routes, KV acquires): returns the leader's answer, or a 500 "No cluster leader" when
   * none appears within leaderWaitMs or the leader cannot be reached. Other reads, and writes of
   * proposedHere routes (after a ReadIndex round with ACLs on), are answered here (see readHere;
   * such a write's command goes to the leader through the committer). Undefined: answer locally.
   * Throws ShuttingDownError once stopped, TooLargeError (413) for a body over 32 MiB.
   */
  async forward(
    req: Request,
    route: RouteFacts,
    localize?: (req: Request) => Promise<LocalizedRequest>,
  ): Promise<Response | undefined> {
    const { state } = this.o;
    const url = new URL(req.url);
    if (route.answeredBy !== 'leader') return undefined;
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (read && url.searchParams.has('stale')) return undefined;
    if (state.stopped) throw new ShuttingDownError('cluster');
    const deadline = Date.now() + this.o.leaderWaitMs;
    if (read && !route.leaderState) return this.readHere(req, deadline, !url.searchParams.has('consistent'));
    // A lock acquire goes to the leader, as every write does in Consul: the leader checks it against
    // the lock delays it started when it applied them (LocalLockDelays) and stamps it by its clock.
    // A follower's own view may start a delay late (when it catches up) or lack one it has not applied.
    const proposedHere = route.proposedHere && !url.searchParams.has('acquire');
    if (!read && proposedHere) return this.o.aclEnabled ? this.readHere(req, deadline, true) : undefined;
    const found = await this.awaitLeader(
      req,
      deadline,
      (l) => l.name !== state.self.name && !req.headers.has(FORWARDED_HEADER),
    );
    if (found === 'self') return undefined;
    if (!found) return noLeader('No cluster leader\n');
    const leader = found;
    // Defaults that mean "this server" (a session's node, the caller's address) are resolved here.
    const local = await localize?.(req);
    // The body is forwarded whole (a too large one is refused here, 413).
    const hasBody = !read;
    const whole = hasBody ? (local?.body ?? (await readBody(req, MAX_FORWARD_BODY, this.o.bodyReader))) : undefined;
    // Connection-level headers describe the client's connection, not ours to the leader (a kept
    // Transfer-Encoding next to the body's new Content-Length would make the leader answer 400).
    const own = Object.entries(local?.headers ?? {}).map(([k, v]): [string, string] => [k.toLowerCase(), v]);
    const headers: Array<[string, string]> = [];
    req.headers.forEach((v, k) => {
      if (!NOT_FORWARDED.has(k) && !own.some(([o]) => o === k)) headers.push([k, v]);
    });
    headers.push(...own, [FORWARDED_HEADER, state.self.name]);
    // The leader's spans continue this one (the request's own traceparent is its parent here).
    const span = this.o.tracer?.enabled
      ? this.o.tracer.startSpan('forward to leader', 'client', { attributes: { 'konsul.leader': leader.name } })
      : undefined;
    const traceparent = span?.traceparent();
    if (traceparent) {
      const at = headers.findIndex(([k]) => k === 'traceparent');
      if (at >= 0) headers.splice(at, 1);
      headers.push(['traceparent', traceparent]);
    }
    // Give up when the leader changes under us (the old one may be paused or cut off), after a
    // bound (blocking queries get their wait on top), or, for a blocking query, when the client
    // goes away (asking a Node request for its signal is costly, so other requests do not).
    const wait = parseDuration(url.searchParams.get('wait') ?? '') ?? 5 * 60_000;
    const blocking = url.searchParams.has('index');
    const inFlight: ToLeader = {
      leader: leader.name,
      cancel: new ForwardCancel(),
      deadline: Date.now() + (blocking ? Math.min(wait, 10 * 60_000) * (17 / 16) : 0) + LEADER_ANSWER_MS,
      // A leadership transfer moves the leader by design: wait for the old leader's answer.
      movesLeader: route.movesLeader,
    };
    const clientSignal = blocking ? req.signal : undefined;
    const onClientAbort = () => inFlight.cancel.abort();
    clientSignal?.addEventListener('abort', onClientAbort);
    const unwatch = this.o.watch.add(inFlight);
    try {
      if (hasBody && this.o.transport) {
        const sent = await this.overTransport(leader.name, req.method, url, local?.search, headers, whole, inFlight);
        if (sent) return sent;
      }
      const aborter = new AbortController();
      inFlight.cancel.onAbort(() => aborter.abort());
      const init = {
        method: req.method,
        headers: new Headers(headers),
        ...(whole && whole.byteLength > 0 ? { body: whole } : {}),
        signal: aborter.signal,
      };
      const res = await this.o.peerFetch(leader.httpAddr, `${url.pathname}${local?.search ?? url.search}`, init);
      const body = await res.arrayBuffer();
      span?.setAttribute('http.response.status_code', res.status);
      return new Response(body, { status: res.status, headers: answerHeadersOf(res.headers) });
    } catch (err) {
      span?.fail((err as Error).message);
      this.o.logger.warn('forwarding to the leader failed', { leader: leader.name, error: (err as Error).message });
      // A refused connection never reached the leader: nothing was applied. Otherwise we cannot know.
      const e = err as { code?: string; cause?: { code?: string } };
      const refused = (e.cause?.code ?? e.code) === 'ECONNREFUSED';
      const why = refused
        ? 'the leader is unreachable; the request was not applied'
        : 'the leader did not answer; the outcome of a write is unknown';
      return noLeader(`No cluster leader: ${why}\n`);
    } finally {
      span?.end();
      unwatch();
      clientSignal?.removeEventListener('abort', onClientAbort);
    }
  }

  /**
   * Waits, checking every 50 ms until `deadline` or the client goes away, until this server
   * leads ('self') or the leader it knows is one `usable` accepts (that leader); undefined when
   * neither happens in time.
   */
  private async awaitLeader(
    req: Request,
    deadline: number,
    usable: (leader: PeerInfo) => boolean,
  ): Promise<'self' | PeerInfo | undefined> {
    const { state } = this.o;
    for (;;) {
      if (state.isLeader()) return 'self';
      const leader = state.leaderInfo();
      if (leader && usable(leader)) return leader;
      if (Date.now() >= deadline || req.signal.aborted) return undefined;
      await sleep(50);
    }
  }

  /**
   * Lets this server answer a request from its replicated state itself: on the leader at once; on
   * a follower, once a leader is known (waiting up to `deadline`), and with `barrier`, after a
   * ReadIndex round with it (§6.4: the leader's commit index, confirmed by a heartbeat round,
   * applied here; ?consistent reads make that round in their handler). Returns undefined (answer
   * here), or a 500 "No cluster leader" when no leader appears or confirms the read point; throws
   * DiskFullError (507) while this server's disk is full.
   */
  private async readHere(req: Request, deadline: number, barrier: boolean): Promise<Response | undefined> {
    // With its disk full this server applies nothing more, even when it still thinks it leads:
    // only ?stale reads (answered before this) may see its frozen state.
    const full = this.o.state.driver?.diskFullError();
    if (full) throw full;
    const found = await this.awaitLeader(req, deadline, () => true);
    if (!found) return noLeader('No cluster leader\n');
    if (!barrier) return undefined;
    // A leader answers a default read from its state at once (Consul's default mode), except while
    // it hands the leadership over: then it confirms with a heartbeat round, as a follower would.
    if (found === 'self' && !this.o.state.driver?.transferringLeadership()) return undefined;
    try {
      await this.o.readBarrier();
    } catch (err) {
      if (err instanceof KonsulError && err.code === 'no_leader') return noLeader(`${err.message}\n`);
      throw err;
    }
    return undefined;
  }

  /**
   * Sends a write on the raft transport and returns the leader's answer; undefined when it could
   * not be sent there (then HTTP carries it). Throws when it was sent and got no answer.
   */
  private async overTransport(
    leader: string,
    method: string,
    url: URL,
    search: string | undefined,
    headers: Array<[string, string]>,
    body: Uint8Array | undefined,
    inFlight: ToLeader,
  ): Promise<Response | undefined> {
    const transport = this.o.transport as NonNullable<LeaderForwarderOptions['transport']>;
    const r: ForwardedRequest = {
      method,
      path: `${url.pathname}${search ?? url.search}`,
      headers,
      ...(body && body.byteLength > 0 ? { body } : {}),
    };
    let a: ForwardedAnswer;
    try {
      a = await transport.forward(leader, r, inFlight.cancel);
    } catch (err) {
      if (err instanceof ForwardFailedError && !err.sent) return undefined;
      throw err;
    }
    // A Response with a null-body status (204, 304) must have no body, not an empty one.
    const payload = a.body.byteLength > 0 ? (a.body as Uint8Array<ArrayBuffer>) : null;
    return new Response(payload, { status: a.status, headers: answerHeadersOf(a.headers) });
  }
}
