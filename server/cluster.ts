import { type BodyReader, readBody } from '../core/api/body.js';
import type { peerFetch } from './peer-http.js';
import { readAutopilotConfig } from '../core/cluster/autopilot.js';
import { listMembers } from '../core/cluster/members.js';
import type { ClusterView, MemberInfo, OperatorPort, RaftServerInfo, ServerHealthInfo } from '../core/api/context.js';
import { decode, encode } from '@msgpack/msgpack';
import { NODE_CHECK_ID } from '../core/agent/agent.js';
import { nodeChecks } from '../core/catalog/queries.js';
import { BadRequestError, type ErrorCode, KonsulError, NoLeaderError, ShuttingDownError } from '../core/errors.js';
import type { ApplyResult } from '../core/fsm/state-machine.js';
import type { Committer } from '../core/pipeline/committer.js';
import type { WritePipeline } from '../core/pipeline/write-pipeline.js';
import type { Logger } from '../core/ports/logger.js';
import type { StateStore } from '../core/ports/state-store.js';
import { quorum } from '../core/raft/conf-change.js';
import { NotLeaderError } from '../core/raft/errors.js';
import { bootstrapState } from '../core/raft/raw-node.js';
import type { NodeId } from '../core/raft/types.js';
import { parseDuration } from '../core/util/duration.js';
import type { RaftDriver } from '../core/replication/driver.js';
import type { RaftStorage } from '../core/replication/storage.js';
import type { ControlMessage, PeerInfo, RaftTransport } from './transport.js';

/** Options of the cluster coordinator. */
export interface ClusterOptions {
  readonly self: PeerInfo;
  readonly datacenter: string;
  readonly version: string;
  /** Bootstrap a single-node cluster when there is no state (dev mode). */
  readonly single: boolean;
  /** Servers to gather before bootstrapping a new cluster (0: never bootstrap; join one instead). */
  readonly bootstrapExpect: number;
  /** Raft addresses of servers to contact (retried with backoff). */
  readonly joins: readonly string[];
  readonly transport: RaftTransport;
  readonly storage: RaftStorage;
  readonly store: StateStore;
  readonly logger: Logger;
  /** Creates the Raft driver from what storage holds. */
  readonly makeDriver: () => RaftDriver;
  /** How long a forwarded request waits for a leader to appear. */
  readonly leaderWaitMs: number;
  /** Called when this server has left the cluster (it should then stop). */
  readonly onLeft: () => void;
  /** Presented to the leader when forwarding internal proposals. */
  readonly joinToken?: string;
  /** Told whenever this server's Raft role changes (e.g. to start or stop leader-only timers). */
  readonly onRoleChange?: (role: string) => void;
  /** Calls to other servers' APIs (HTTP, or HTTPS when the API is served over TLS). */
  readonly peerFetch: ReturnType<typeof peerFetch>;
  /** Reads request bodies to forward straight from the runtime (see BodyReader). */
  readonly bodyReader?: BodyReader;
}

/** Largest request body a follower buffers to forward (the largest API body is a 16 MiB restore). */
const MAX_FORWARD_BODY = 32 * 1024 * 1024;

const FORWARDED = 'x-konsul-forwarded';
/** Headers about one HTTP connection (RFC 9110 §7.6.1), plus Host and Content-Length, which the relay sets itself. */
const HOP_BY_HOP = [
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
/** Paths whose writes and non-stale reads are the leader's to answer. */
const LEADER_PATHS = [
  '/v1/kv/',
  '/v1/snapshot',
  '/v1/operator/',
  '/v1/catalog/',
  '/v1/health/',
  '/v1/session/',
  '/v1/txn',
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A request being forwarded to `leader`, aborted when the leader changes or at `deadline`. */
interface InFlightForward {
  readonly leader: NodeId;
  readonly abort: AbortController;
  readonly deadline: number;
  readonly movesLeader: boolean;
}

/**
 * Forms and runs a cluster around the Raft driver: discovery and bootstrap (--bootstrap-expect),
 * joining an existing cluster (--join, /v1/agent/join), the leader's duties (registering members'
 * addresses, adding joiners as learners and promoting them once caught up, removing leavers and,
 * with autopilot, dead servers), forwarding to the leader, and the operator API.
 */
export class Cluster implements ClusterView, OperatorPort, Committer {
  driver: RaftDriver | undefined;
  writer: WritePipeline | undefined;
  private readonly known = new Map<NodeId, PeerInfo>();
  private readonly joins: Set<string>;
  private readonly pendingJoins = new Map<NodeId, PeerInfo>();
  private lastReplies = new Map<string, ControlMessage>();
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private leaderSince = 0;
  private readonly stableSince = new Map<NodeId, number>();
  /** Last time each server answered us or talked to us (discovery, control or raft). */
  private readonly lastSeen = new Map<NodeId, number>();
  /** Requests being forwarded to the leader, watched by one timer while there are any. */
  private readonly forwards = new Set<InFlightForward>();
  private forwardWatchdog: NodeJS.Timeout | undefined;

  constructor(private readonly o: ClusterOptions) {
    this.known.set(o.self.name, o.self);
    this.joins = new Set(o.joins.filter((a) => a !== o.self.raftAddr));
  }

  /** Starts Raft (bootstrapping a single-node cluster when asked) and the background loops. */
  async start(): Promise<void> {
    if (!this.o.storage.hasState() && this.o.single) await this.bootstrap([this.o.self.name]);
    this.startDriver();
    this.every(1000, () => this.discover());
    this.every(500, () => this.leaderDuties());
    void this.discover();
  }

  private every(ms: number, fn: () => Promise<void> | void): void {
    const t = setInterval(() => {
      if (this.stopped) return;
      Promise.resolve(fn()).catch((err: unknown) =>
        this.o.logger.debug('cluster task failed', { error: (err as Error).message }),
      );
    }, ms);
    this.timers.push(t);
  }

  private startDriver(): void {
    const d = this.o.makeDriver();
    d.onRoleChange((role, lead) => {
      if (role === 'leader') this.leaderSince = Date.now();
      this.o.logger.info('raft role changed', { role, leader: lead ?? null });
      this.o.onRoleChange?.(role);
    });
    d.start();
    this.driver = d;
  }

  private async bootstrap(voters: NodeId[]): Promise<void> {
    const boot = bootstrapState(voters);
    await this.o.storage.persist(
      { hardState: boot.hardState, entries: boot.entries, snapshot: undefined, sync: true },
      () => undefined,
    );
    this.o.logger.info('bootstrapped a new cluster', { voters: voters.join(',') });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.forwardWatchdog) clearInterval(this.forwardWatchdog);
    this.forwardWatchdog = undefined;
    for (const f of this.forwards) f.abort.abort();
    await this.driver?.close();
  }

  // ---- membership ----------------------------------------------------------------------------

  private inCluster(): boolean {
    const conf = this.driver?.membership();
    return !!conf && (conf.voters.includes(this.o.self.name) || conf.learners.includes(this.o.self.name));
  }

  private learn(p: PeerInfo): void {
    if (p.name === this.o.self.name) return;
    this.known.set(p.name, p);
    this.o.transport.setAddress(p.name, p.raftAddr);
  }

  /** Peers' addresses from the replicated member records and discovery. */
  private addressOf(name: NodeId): PeerInfo | undefined {
    if (name === this.o.self.name) return this.o.self;
    const rec = this.o.store.read((tx) => listMembers(tx)).find((m) => m.name === name);
    return this.known.get(name) ?? (rec ? { name, raftAddr: rec.raftAddr, httpAddr: rec.httpAddr } : undefined);
  }

  /** One discovery round: ask every known address who is there; bootstrap or join when due. */
  private async discover(): Promise<void> {
    for (const m of this.o.store.read((tx) => listMembers(tx))) {
      if (!this.known.has(m.name)) this.learn({ name: m.name, raftAddr: m.raftAddr, httpAddr: m.httpAddr });
    }
    const targets = new Set<string>(this.joins);
    for (const p of this.known.values()) if (p.name !== this.o.self.name) targets.add(p.raftAddr);
    const replies = await Promise.allSettled(
      [...targets].map(
        async (addr) => [addr, await this.o.transport.request(addr, { type: 'discover', from: this.o.self })] as const,
      ),
    );
    let existing: (ControlMessage & { type: 'helloAck' }) | undefined;
    for (const r of replies) {
      if (r.status !== 'fulfilled') continue;
      const [addr, reply] = r.value;
      if (reply.type !== 'helloAck') continue;
      this.lastReplies.set(reply.name, reply);
      this.lastSeen.set(reply.name, Date.now());
      if (this.joins.has(addr)) this.joins.delete(addr);
      this.learn({ name: reply.name, raftAddr: reply.raftAddr, httpAddr: reply.httpAddr });
      for (const p of reply.peers) this.learn(p);
      if (reply.bootstrapped) existing = reply;
    }
    if (this.inCluster() || this.o.storage.hasState()) return;
    if (existing) {
      await this.requestJoin(existing.leader ?? existing.raftAddr);
      return;
    }
    const expect = this.o.bootstrapExpect;
    if (expect > 1 && this.known.size === expect) {
      const mine = [...this.known.keys()].sort().join(',');
      const agreed = [...this.known.keys()].every((name) => {
        if (name === this.o.self.name) return true;
        const reply = this.lastReplies.get(name);
        return (
          reply?.type === 'helloAck' &&
          [...new Set([reply.name, ...reply.peers.map((p) => p.name)])].sort().join(',') === mine
        );
      });
      if (agreed) {
        await this.driver?.close();
        await this.bootstrap([...this.known.keys()]);
        this.startDriver();
      }
    }
  }

  private async requestJoin(addr: string): Promise<void> {
    const { name, raftAddr, httpAddr } = this.o.self;
    const reply = await this.o.transport.request(addr, { type: 'join', name, raftAddr, httpAddr });
    if (reply.type === 'result' && !reply.ok && reply.leader && reply.leader !== addr) {
      await this.o.transport.request(reply.leader, { type: 'join', name, raftAddr, httpAddr });
    }
  }

  /** Answers another server's control request (the transport authenticated it already). */
  async onControl(c: ControlMessage): Promise<ControlMessage> {
    switch (c.type) {
      case 'discover': {
        this.learn(c.from);
        this.lastSeen.set(c.from.name, Date.now());
        const leader = this.leaderInfo();
        return {
          type: 'helloAck',
          ...this.o.self,
          peers: [...this.known.values()],
          bootstrapped: this.o.storage.hasState(),
          ...(leader ? { leader: leader.raftAddr } : {}),
        };
      }
      case 'join': {
        const info = { name: c.name, raftAddr: c.raftAddr, httpAddr: c.httpAddr };
        if (!this.isLeader())
          return { type: 'result', ok: false, ...(this.leaderInfo() ? { leader: this.leaderInfo()?.raftAddr } : {}) };
        this.learn(info);
        this.pendingJoins.set(c.name, info);
        this.o.logger.info('server asked to join', { server: c.name, raft: c.raftAddr });
        return { type: 'result', ok: true };
      }
      case 'leave': {
        if (!this.isLeader())
          return { type: 'result', ok: false, ...(this.leaderInfo() ? { leader: this.leaderInfo()?.raftAddr } : {}) };
        await this.removeServer(c.name);
        return { type: 'result', ok: true };
      }
      default:
        return { type: 'refused', reason: `unexpected request ${c.type}` };
    }
  }

  private isLeader(): boolean {
    return this.driver?.status().role === 'leader';
  }

  private leaderInfo(): PeerInfo | undefined {
    const lead = this.driver?.status().lead;
    return lead === undefined ? undefined : this.addressOf(lead);
  }

  /** Removes a server from Raft and the member records, waiting until the removal is applied here. */
  private async removeServer(name: NodeId): Promise<void> {
    const d = this.driver as RaftDriver;
    const conf = d.membership();
    if (conf.voters.includes(name) || conf.learners.includes(name)) {
      await this.retryChange(() => d.changeMembership({ type: 'removeNode', node: name }));
      for (let i = 0; i < 100 && (d.membership().voters.includes(name) || d.membership().learners.includes(name)); i++)
        await sleep(50);
    }
    if (this.isLeader() && this.writer)
      await this.writer.submit({ type: 'member.remove', name }).catch(() => undefined);
  }

  /** Membership changes go one at a time: retry while the previous one is still being applied. */
  private async retryChange(fn: () => Promise<void>): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof KonsulError && err.code === 'conflict') || i >= 100) throw err;
        await sleep(50);
      }
    }
  }

  /** What the leader does every half second. One membership change at most per round. */
  private async leaderDuties(): Promise<void> {
    const d = this.driver;
    if (!d || !this.isLeader() || !this.writer) return;
    const conf = d.membership();
    const members = new Map(this.o.store.read((tx) => listMembers(tx)).map((m) => [m.name, m] as const));
    // Every member's addresses are recorded, so any server can reach it and forward to it.
    for (const name of [...conf.voters, ...conf.learners]) {
      const info = this.addressOf(name);
      const rec = members.get(name);
      if (info && (!rec || rec.raftAddr !== info.raftAddr || rec.httpAddr !== info.httpAddr)) {
        await this.writer.submit({ type: 'member.register', ...info });
      }
    }
    const status = d.status();
    const autopilot = this.o.store.read(readAutopilotConfig);
    // Joiners come in as learners and are promoted once they have caught up.
    for (const [name] of this.pendingJoins) {
      if (conf.voters.includes(name) || conf.learners.includes(name)) {
        this.pendingJoins.delete(name);
        continue;
      }
      await d.changeMembership({ type: 'addLearner', node: name }).catch(() => undefined);
      return;
    }
    for (const name of conf.learners) {
      const match = status.match[name] ?? 0;
      if (status.commit - match <= autopilot.MaxTrailingLogs) {
        await d.changeMembership({ type: 'addVoter', node: name }).catch(() => undefined);
        return;
      }
    }
    await this.reconcileNodeHealth();
    await this.cleanupDeadServers();
  }

  /** Autopilot: removes voters unreachable for DeadServerLastContactThreshold, never below quorum. */
  private async cleanupDeadServers(): Promise<void> {
    const d = this.driver as RaftDriver;
    const cfg = this.o.store.read(readAutopilotConfig);
    if (!cfg.CleanupDeadServers) return;
    const threshold = parseDuration(cfg.DeadServerLastContactThreshold) ?? 300_000;
    const voters = d.membership().voters;
    const health = this.autopilotHealth().Servers;
    // With half or more of the voters failing, this may be a partition, not dead servers: wait.
    if (health.filter((s) => s.Voter && s.Healthy).length * 2 <= voters.length) return;
    for (const name of voters) {
      if (name === this.o.self.name) continue;
      const heard = this.o.transport.lastHeard.get(name) ?? this.leaderSince;
      if (Date.now() - heard < threshold) continue;
      const remaining = voters.length - 1;
      const healthyRemaining = health.filter((s) => s.Voter && s.Healthy && s.Name !== name).length;
      if (
        remaining < Math.max(cfg.MinQuorum, 1) ||
        healthyRemaining < quorum({ voters: voters.filter((v) => v !== name), learners: [] })
      )
        continue;
      this.o.logger.warn('autopilot removing dead server', { server: name, unreachable_ms: Date.now() - heard });
      await this.removeServer(name);
      return;
    }
  }

  // ---- Committer ---------------------------------------------------------------------------------

  /**
   * Proposes a command: on the leader directly; on a follower it is sent to the leader's
   * /v1/internal/propose (waiting up to leaderWaitMs for a leader), so internal writers such as the
   * agent's anti-entropy work on every server.
   */
  async propose(data: Uint8Array): Promise<ApplyResult> {
    const deadline = Date.now() + this.o.leaderWaitMs;
    for (;;) {
      if (!this.driver) throw new NoLeaderError();
      if (this.isLeader()) return this.driver.propose(data);
      const leader = this.leaderInfo();
      if (leader && leader.name !== this.o.self.name) return this.proposeAt(leader, data);
      if (Date.now() >= deadline) throw new NoLeaderError();
      await sleep(50);
    }
  }

  private async proposeAt(leader: PeerInfo, data: Uint8Array): Promise<ApplyResult> {
    let res: Response;
    try {
      const init = {
        method: 'POST',
        body: data as Uint8Array<ArrayBuffer>,
        headers: {
          'Content-Type': 'application/msgpack',
          ...(this.o.joinToken ? { 'X-Konsul-Join-Token': this.o.joinToken } : {}),
        },
        signal: AbortSignal.timeout(15_000),
      };
      res = await this.o.peerFetch(leader.httpAddr, '/v1/internal/propose', init);
    } catch (err) {
      throw new NoLeaderError(`No cluster leader: ${(err as Error).message}`);
    }
    if (res.status !== 200) throw new NoLeaderError(`No cluster leader: the leader answered ${res.status}`);
    const r = decode(new Uint8Array(await res.arrayBuffer())) as {
      ok: boolean;
      index: number;
      value?: unknown;
      code?: ErrorCode;
      message?: string;
    };
    if (r.ok) return { ok: true, index: r.index, value: r.value };
    return {
      ok: false,
      index: r.index,
      error: new KonsulError(r.code ?? 'storage', r.message ?? 'failed on the leader'),
    };
  }

  /** Serves /v1/internal/propose on the leader. */
  async proposeForPeer(data: Uint8Array): Promise<Uint8Array> {
    try {
      const r = await this.propose(data);
      return encode(
        r.ok
          ? { ok: true, index: r.index, value: r.value }
          : { ok: false, index: r.index, code: r.error.code, message: r.error.message },
      );
    } catch (err) {
      const e = err instanceof KonsulError ? err : new KonsulError('storage', (err as Error).message);
      return encode({ ok: false, index: 0, code: e.code, message: e.message });
    }
  }

  /** The leader marks the node health check of unreachable members critical (and back). */
  private async reconcileNodeHealth(): Promise<void> {
    const health = this.autopilotHealth().Servers;
    for (const s of health) {
      if (s.Name === this.o.self.name) continue;
      const check = this.o.store.read((tx) => nodeChecks(tx, s.Name).find((c) => c.CheckID === NODE_CHECK_ID));
      if (!check) continue;
      const heard = Math.max(this.o.transport.lastHeard.get(s.Name) ?? 0, this.lastSeen.get(s.Name) ?? 0);
      const alive = Date.now() - heard < 10_000 || Date.now() - this.leaderSince < 10_000;
      const want = alive ? 'passing' : 'critical';
      if (check.Status === want || (alive && check.Status !== 'critical')) continue;
      await this.writer?.submit({
        type: 'catalog.register',
        datacenter: this.o.datacenter,
        node: { ID: '', Node: s.Name, Address: '', TaggedAddresses: {}, Meta: {} },
        skipNodeUpdate: true,
        now: Date.now(),
        checks: [
          {
            CheckID: NODE_CHECK_ID,
            Name: check.Name,
            Status: want,
            Notes: '',
            Output: alive ? 'Agent alive and reachable' : 'Agent not live or unreachable',
            ServiceID: '',
            Type: '',
          },
        ],
      });
    }
  }

  async close(): Promise<void> {
    await this.stop();
  }

  // ---- ClusterView -------------------------------------------------------------------------------

  leader(): string | undefined {
    return this.leaderInfo()?.raftAddr;
  }

  peers(): string[] {
    const conf = this.driver?.membership();
    return (conf?.voters ?? []).map((n) => this.addressOf(n)?.raftAddr).filter((a): a is string => a !== undefined);
  }

  lastContactMs(): number {
    const ms = this.driver?.lastContactMs() ?? Infinity;
    return Number.isFinite(ms) ? ms : 0;
  }

  async barrier(): Promise<void> {
    if (!this.driver) throw new NoLeaderError();
    await this.driver.readBarrier();
  }

  async forward(req: Request): Promise<Response | undefined> {
    const url = new URL(req.url);
    if (!LEADER_PATHS.some((p) => url.pathname.startsWith(p))) return undefined;
    if (req.method === 'GET' && url.searchParams.has('stale')) return undefined;
    if (this.stopped) throw new ShuttingDownError('cluster');
    const deadline = Date.now() + this.o.leaderWaitMs;
    for (;;) {
      if (this.isLeader()) return undefined;
      const leader = this.leaderInfo();
      if (leader && leader.name !== this.o.self.name && !req.headers.has(FORWARDED)) break;
      if (Date.now() >= deadline || req.signal.aborted) {
        return new Response('No cluster leader\n', {
          status: 500,
          headers: { 'Content-Type': 'text/plain; charset=utf-8' },
        });
      }
      await sleep(50);
    }
    const leader = this.leaderInfo() as PeerInfo;
    // The body is forwarded whole (a too large one is refused here, 413).
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const whole = hasBody ? await readBody(req, MAX_FORWARD_BODY, this.o.bodyReader) : undefined;
    const headers = new Headers(req.headers);
    headers.set(FORWARDED, this.o.self.name);
    // Connection-level headers describe the client's connection, not ours to the leader (a kept
    // Transfer-Encoding next to the body's new Content-Length would make the leader answer 400).
    for (const h of HOP_BY_HOP) headers.delete(h);
    // Give up when the leader changes under us (the old one may be paused or cut off), after a
    // bound (blocking queries get their wait on top), or, for a blocking query, when the client
    // goes away (asking a Node request for its signal is costly, so other requests do not).
    const wait = parseDuration(url.searchParams.get('wait') ?? '') ?? 5 * 60_000;
    const blocking = url.searchParams.has('index');
    const inFlight: InFlightForward = {
      leader: leader.name,
      abort: new AbortController(),
      deadline: Date.now() + (blocking ? Math.min(wait, 10 * 60_000) * (17 / 16) : 0) + 15_000,
      // A leadership transfer moves the leader by design: wait for the old leader's answer.
      movesLeader: url.pathname === '/v1/operator/raft/transfer-leader',
    };
    const clientSignal = blocking ? req.signal : undefined;
    const onClientAbort = () => inFlight.abort.abort();
    clientSignal?.addEventListener('abort', onClientAbort);
    this.forwards.add(inFlight);
    this.watchForwards();
    try {
      const init = {
        method: req.method,
        headers,
        ...(whole && whole.byteLength > 0 ? { body: whole } : {}),
        signal: inFlight.abort.signal,
      };
      const res = await this.o.peerFetch(leader.httpAddr, `${url.pathname}${url.search}`, init);
      const body = await res.arrayBuffer();
      const answerHeaders = new Headers(res.headers);
      for (const h of HOP_BY_HOP) answerHeaders.delete(h);
      return new Response(body, { status: res.status, headers: answerHeaders });
    } catch (err) {
      this.o.logger.warn('forwarding to the leader failed', { leader: leader.name, error: (err as Error).message });
      // A refused connection never reached the leader: nothing was applied. Otherwise we cannot know.
      const e = err as { code?: string; cause?: { code?: string } };
      const refused = (e.cause?.code ?? e.code) === 'ECONNREFUSED';
      const why = refused
        ? 'the leader is unreachable; the request was not applied'
        : 'the leader did not answer; the outcome of a write is unknown';
      return new Response(`No cluster leader: ${why}\n`, {
        status: 500,
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      });
    } finally {
      this.forwards.delete(inFlight);
      clientSignal?.removeEventListener('abort', onClientAbort);
    }
  }

  /** One timer for all forwarded requests: aborts those whose leader changed or whose time ran out. */
  private watchForwards(): void {
    if (this.forwardWatchdog || this.forwards.size === 0 || this.stopped) return;
    this.forwardWatchdog = setInterval(() => {
      const lead = this.leaderInfo()?.name;
      const now = Date.now();
      for (const f of this.forwards) if ((!f.movesLeader && lead !== f.leader) || now > f.deadline) f.abort.abort();
      if (this.forwards.size === 0) {
        clearInterval(this.forwardWatchdog);
        this.forwardWatchdog = undefined;
      }
    }, 100);
  }

  // ---- OperatorPort ------------------------------------------------------------------------------

  async join(addr: string): Promise<void> {
    if (addr === this.o.self.raftAddr) return;
    this.joins.add(addr);
    const reply = await this.o.transport
      .request(addr, { type: 'discover', from: this.o.self })
      .catch((err: unknown) => {
        throw new KonsulError('no_leader', `cannot reach ${addr}: ${(err as Error).message}`);
      });
    if (reply.type !== 'helloAck') throw new KonsulError('no_leader', `unexpected answer from ${addr}`);
    await this.discover();
  }

  async leave(): Promise<void> {
    const name = this.o.self.name;
    if (this.isLeader()) {
      await this.removeServer(name);
    } else {
      const leader = this.leaderInfo();
      if (!leader) throw new NoLeaderError();
      const reply = await this.o.transport.request(leader.raftAddr, { type: 'leave', name }, 15_000);
      if (reply.type !== 'result' || !reply.ok) throw new NoLeaderError('No cluster leader: leave was not accepted');
    }
    this.o.logger.info('left the cluster');
    setTimeout(() => this.o.onLeft(), 100);
  }

  members(): MemberInfo[] {
    const conf = this.driver?.membership() ?? { voters: [], learners: [] };
    const names = new Set<NodeId>([...conf.voters, ...conf.learners, ...this.known.keys()]);
    return [...names].sort().map((name) => {
      const info = this.addressOf(name);
      const [host, port] = splitAddr(info?.raftAddr ?? ':0');
      const member = conf.voters.includes(name) || conf.learners.includes(name);
      const heard =
        name === this.o.self.name
          ? Date.now()
          : Math.max(this.o.transport.lastHeard.get(name) ?? 0, this.lastSeen.get(name) ?? 0);
      const alive = Date.now() - heard < 10_000;
      return {
        Name: name,
        Addr: host,
        Port: port,
        Tags: {
          role: 'consul',
          dc: this.o.datacenter,
          vsn: '2',
          build: this.o.version,
          raft_vsn: '3',
          voter: String(conf.voters.includes(name)),
        },
        Status: !member ? 3 : alive ? 1 : 4,
      };
    });
  }

  raftConfiguration(): { Servers: RaftServerInfo[]; Index: number } {
    const d = this.driver;
    const conf = d?.membership() ?? { voters: [], learners: [] };
    const lead = d?.status().lead;
    const servers = [...conf.voters, ...conf.learners].sort().map((name) => ({
      ID: name,
      Node: name,
      Address: this.addressOf(name)?.raftAddr ?? '',
      Leader: name === lead,
      ProtocolVersion: '3',
      Voter: conf.voters.includes(name),
    }));
    return { Servers: servers, Index: d?.status().applied ?? 0 };
  }

  async removePeer(by: { id?: string; address?: string }): Promise<void> {
    if (!this.isLeader()) throw new NotLeaderError(this.driver?.status().lead);
    const conf = (this.driver as RaftDriver).membership();
    const all = [...conf.voters, ...conf.learners];
    const name = by.id ?? all.find((n) => this.addressOf(n)?.raftAddr === by.address);
    if (!name || !all.includes(name))
      throw new BadRequestError(`no server ${JSON.stringify(by.id ?? by.address)} in the Raft configuration`);
    await this.removeServer(name);
  }

  async transferLeader(id?: string): Promise<void> {
    const d = this.driver;
    if (!d || !this.isLeader()) throw new NotLeaderError(d?.status().lead);
    const status = d.status();
    const target =
      id ??
      d
        .membership()
        .voters.filter((v) => v !== this.o.self.name)
        .sort((a, b) => (status.match[b] ?? 0) - (status.match[a] ?? 0))[0];
    if (!target) throw new BadRequestError('no other voter to transfer leadership to');
    if (!d.membership().voters.includes(target)) throw new BadRequestError(`${target} is not a voter`);
    await d.transferLeader(target);
    for (let i = 0; i < 60 && d.status().lead !== target; i++) await sleep(50);
    if (d.status().lead !== target) throw new KonsulError('no_leader', `leadership did not move to ${target}`);
  }

  autopilotHealth(): { Healthy: boolean; FailureTolerance: number; Servers: ServerHealthInfo[] } {
    const d = this.driver;
    const conf = d?.membership() ?? { voters: [], learners: [] };
    const status = d?.status();
    const cfg = this.o.store.read(readAutopilotConfig);
    const contactLimit = Math.max(parseDuration(cfg.LastContactThreshold) ?? 200, 200);
    const now = Date.now();
    const servers = [...conf.voters, ...conf.learners].sort().map((name) => {
      const self = name === this.o.self.name;
      const heard = self ? now : this.o.transport.lastHeard.get(name);
      const contact = heard === undefined ? Infinity : now - heard;
      const match = self ? (status?.lastIndex ?? 0) : (status?.match[name] ?? 0);
      const healthy = contact <= contactLimit * 5 && (status?.commit ?? 0) - match <= cfg.MaxTrailingLogs;
      if (!healthy) this.stableSince.delete(name);
      else if (!this.stableSince.has(name)) this.stableSince.set(name, now);
      return {
        ID: name,
        Name: name,
        Address: this.addressOf(name)?.raftAddr ?? '',
        SerfStatus: healthy ? 'alive' : 'failed',
        Version: this.o.version,
        Leader: status?.lead === name,
        LastContact: Number.isFinite(contact) ? `${contact}ms` : 'never',
        LastTerm: status?.term ?? 0,
        LastIndex: match,
        Healthy: healthy,
        Voter: conf.voters.includes(name),
        StableSince: new Date(this.stableSince.get(name) ?? now).toISOString(),
      };
    });
    const healthyVoters = servers.filter((s) => s.Voter && s.Healthy).length;
    const q = conf.voters.length === 0 ? 1 : quorum(conf);
    return {
      Healthy: healthyVoters >= q && servers.every((s) => s.Healthy),
      FailureTolerance: Math.max(0, healthyVoters - q),
      Servers: servers,
    };
  }
}

function splitAddr(addr: string): [string, number] {
  const at = addr.lastIndexOf(':');
  return [addr.slice(0, at).replace(/^\[|\]$/g, ''), Number(addr.slice(at + 1)) || 0];
}
