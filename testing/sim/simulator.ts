import { KonsulError } from '../../core/errors.js';
import { type Rng, randomInt } from '../../core/ports/rng.js';
import type { RaftConfig } from '../../core/raft/config.js';
import { NotLeaderError, ProposalTimeoutError } from '../../core/raft/errors.js';
import { bootstrapState } from '../../core/raft/raw-node.js';
import type { ConfChange, Message, NodeId } from '../../core/raft/types.js';
import {
  checkLinearizability,
  type Operation,
  registerModel,
  type RegisterInput,
  type RegisterOutput,
} from '../linearizability.js';
import { seededRng } from '../seeded-rng.js';
import { EventQueue } from './event-queue.js';
import { InvariantChecker, InvariantViolation } from './invariants.js';
import type { FaultRates, SimOptions, SimProfile, SimResult, SimStats } from './options.js';
import { encodeRegisterCommand, type RegisterCommand } from './register.js';
import { SimNode, type SimWorld } from './sim-node.js';

export type { FaultRates, SimOptions, SimProfile, SimResult, SimStats } from './options.js';

type SimEvent =
  | { kind: 'timer'; fn: () => void }
  | { kind: 'deliver'; msg: Message }
  | { kind: 'persisted'; node: NodeId; incarnation: number }
  | { kind: 'client'; client: number }
  | { kind: 'clientTimeout'; opId: string }
  | { kind: 'fault' }
  | { kind: 'heal'; links: readonly string[] }
  | { kind: 'restart'; node: NodeId };

interface PendingOp {
  readonly id: string;
  readonly client: number;
  readonly node: NodeId;
  readonly historyIndex: number;
  readonly kind: 'write' | 'read';
  readonly key: string;
}

const TICK_MS = 10;
const ELECTION_TICKS = 10;
const KEYS = ['x', 'y', 'z'];
const CLIENTS = 4;
const OP_TIMEOUT_MS = 600;
/** Awaits after each event: enough for a completed write's continuation and the client answer it produces. */
const SETTLE_TURNS = 6;

/**
 * A deterministic simulation of a Raft cluster running the production driver: one seed fixes
 * every choice (election timeouts, message fates, disk latencies, faults, client operations), so
 * a failing run replays exactly. Each node is a SimNode: RaftDriver, RaftStorage, Applier and
 * StateMachine over a simulated disk that loses unfinished and unsynced writes in a crash. After
 * every event the InvariantChecker verifies Raft's safety properties; at the end the network
 * heals, every node restarts, liveness is checked (a leader, converged replicas) and the
 * clients' history must be linearizable. The driver's promises settle between events, so the
 * run is asynchronous, but nothing outside the simulation decides what happens when.
 */
export class Simulator {
  readonly stats: SimStats = {
    steps: 0,
    elections: 0,
    messages: 0,
    drops: 0,
    duplicates: 0,
    delays: 0,
    partitions: 0,
    crashes: 0,
    restarts: 0,
    confChanges: 0,
    transfers: 0,
    snapshotsInstalled: 0,
    opsOk: 0,
    opsFailed: 0,
    opsUnknown: 0,
    maxCommit: 0,
  };
  private readonly rng: Rng;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly checker = new InvariantChecker();
  /** Blocked directed links ("a>b") with the number of partitions blocking each. */
  private readonly blocked = new Map<string, number>();
  private readonly history: Array<Operation<RegisterInput, RegisterOutput> & { dropped?: boolean }> = [];
  private readonly pending = new Map<string, PendingOp>();
  private readonly clientBusy = new Set<number>();
  private readonly leaderHint = new Map<number, NodeId>();
  private readonly clientFailures = new Map<number, number>();
  /** Nodes whose disk has a completion event scheduled. */
  private readonly diskBusy = new Set<NodeId>();
  /** Nodes to crash once the current event's code has run (a process dies between instructions). */
  private readonly doomed = new Set<NodeId>();
  /** Highest commit index each node announced, and the leader terms already seen sending. */
  private readonly sentCommit = new Map<NodeId, number>();
  private readonly leaderTermsSeen = new Set<string>();
  private violation: InvariantViolation | undefined;
  private readonly voters: number;
  private readonly faults: FaultRates;
  /** The Raft settings of this run (chosen by the seed). */
  readonly raftConfig: Partial<RaftConfig>;
  /** The nemesis profile of this run (chosen by the seed). */
  readonly profile: SimProfile;
  /** How many Ready writes each node may have in flight (chosen by the seed). */
  readonly pipeline: number;
  private now = 0;
  private faulty = true;
  private clientsOn = true;
  private opSeq = 0;

  constructor(private readonly options: SimOptions) {
    this.rng = seededRng(options.seed);
    const r = this.rng;
    // Each seed draws a nemesis profile: "mixed" faults; "chaos" (a lossy network, frequent
    // targeted faults); "leader-churn" (leaders cut off as they append or right after winning,
    // which builds divergent logs as in Figure 8 and §5.4.2).
    this.profile = (['mixed', 'chaos', 'leader-churn'] as const)[randomInt(r, 3)] as SimProfile;
    const chaos = this.profile === 'chaos';
    const churn = this.profile === 'leader-churn';
    this.voters = options.voters ?? (churn || r.next() < 0.5 ? 5 : 3);
    this.faults = {
      drop: chaos ? 0.15 + r.next() * 0.25 : r.next() * 0.1,
      duplicate: r.next() * 0.05,
      delay: r.next() * 0.2,
      maxDelayMs: 20 + randomInt(r, 200),
      jitterMs: r.next() < 0.5 ? 0 : randomInt(r, 40),
      faultEveryMs: chaos ? 20 + randomInt(r, 80) : 30 + randomInt(r, 300),
      crashInReady: r.next() * 0.01,
      crashAfterVote: r.next() * 0.3,
      crashAfterAppend: (chaos ? 0.02 : 0) + r.next() * 0.03,
      isolateBeforeAppend: churn ? 0.05 + r.next() * 0.2 : r.next() * 0.03,
      isolateNewLeader: churn ? 0.2 + r.next() * 0.5 : chaos ? r.next() * 0.2 : 0,
      crashBeforePersist: r.next() * 0.01,
      crashCommitInFlight: r.next() < 0.5 ? 0 : r.next() * 0.3,
      diskMs: ([1, 4, 12] as const)[randomInt(r, 3)] as number,
      diskStall: r.next() * 0.1,
      ...options.faults,
    };
    // Configuration varies per seed too: every combination must be safe.
    const checkQuorum = r.next() < 0.7;
    this.raftConfig = {
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 1,
      preVote: r.next() < 0.7,
      checkQuorum,
      readMode: options.readMode ?? (checkQuorum && r.next() < 0.3 ? 'lease' : 'safe'),
      // Often one entry per append under churn: followers then acknowledge entries one by one.
      maxMsgBytes: churn && r.next() < 0.7 ? 1 : ([1, 256, 4096][randomInt(r, 3)] as number),
      maxInflightMsgs: [1, 4, 8][randomInt(r, 3)] as number,
      maxSnapshotChunkBytes: 64,
      // From the seed (earlier seeds keep their draws): whole log in memory, a little, or only
      // what is not yet applied or durable; the rest is read back from the disk.
      maxLogBytesInMemory: ([1 << 30, 200, 1] as const)[Math.floor(options.seed / 3) % 3] as number,
    };
    this.pipeline = options.pipeline ?? (r.next() < 0.5 ? 1 : 2 + randomInt(r, 3));
    const ids = Array.from({ length: this.voters + 1 }, (_, i) => `n${i + 1}`);
    const boot = bootstrapState(ids.slice(0, this.voters));
    const world = this.world();
    ids.forEach((id, i) => {
      const node = new SimNode(
        {
          id,
          rng: seededRng(options.seed * 7919 + i + 1),
          raft: this.raftConfig,
          ...(options.plantedBugs ? { plantedBugs: options.plantedBugs } : {}),
          compactEvery: 20 + randomInt(this.rng, 40),
          // From the seed, not the RNG, so the draws of earlier seeds stay as they were.
          compactIntervalMs: (options.seed % 3) * 250,
          pipeline: this.pipeline,
          tickMs: TICK_MS,
          requestTimeoutMs: OP_TIMEOUT_MS - 100,
        },
        world,
      );
      if (i < this.voters) node.bootstrap(boot);
      this.nodes.set(id, node);
      // Nodes start at a random phase so they do not tick in lockstep.
      this.queue.push(randomInt(this.rng, TICK_MS), { kind: 'restart', node: id });
    });
    for (let c = 0; c < CLIENTS; c++) this.queue.push(randomInt(this.rng, 50), { kind: 'client', client: c });
    this.queue.push(this.nextFaultDelay(), { kind: 'fault' });
  }

  /** Runs the simulation to the end and reports. Never throws for a property violation. */
  async run(): Promise<SimResult> {
    const steps = this.options.steps ?? 3000;
    const base = { seed: this.options.seed, voters: this.voters, profile: this.profile, pipeline: this.pipeline };
    try {
      await this.runEvents(steps);
      await this.finalHeal();
      await this.runUntilConverged();
      this.checkHistory();
      return { ...base, ok: true, stats: this.finish() };
    } catch (err) {
      if (!(err instanceof InvariantViolation)) throw err;
      const failure = { invariant: err.invariant, message: err.message, step: this.stats.steps };
      return { ...base, ok: false, failure, stats: this.finish() };
    }
  }

  private finish(): SimStats {
    this.stats.elections = this.checker.elections;
    return this.stats;
  }

  /** How nodes reach the simulation: time, timers, the network, their disks, and the checkers. */
  private world(): SimWorld {
    return {
      now: () => this.now,
      schedule: (ms, fn) => this.queue.push(this.now + ms, { kind: 'timer', fn }),
      send: (from, messages) => this.onSend(from, messages),
      writeIssued: (node) => {
        this.scheduleDisk(node);
        if (this.faulty && this.rng.next() < this.faults.crashBeforePersist) this.doomed.add(node.id);
      },
      persisted: (node, entries) => this.check(() => this.checker.onPersist(node, entries)),
      stateAt: (node, index, state) => this.check(() => this.checker.onState(node, index, state)),
      applied: (node, entries) => {
        for (const e of entries) this.check(() => this.checker.onApply(node, e, this.nodes));
      },
      becameLeader: (node, term) => this.check(() => this.checker.onLeader(node, term)),
      snapshotInstalled: () => this.stats.snapshotsInstalled++,
      driverError: (node, message) => {
        this.violation ??= new InvariantViolation('driver-error', `${node.id}: ${message}`);
      },
    };
  }

  /** Runs a checker; a violation is kept and ends the run after the current event. */
  private check(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof InvariantViolation)) throw err;
      this.violation ??= err;
    }
  }

  // ---- event loop ---------------------------------------------------------------------------

  private async runEvents(limit: number): Promise<void> {
    for (let i = 0; i < limit; i++) {
      const next = this.queue.pop();
      if (!next) return;
      this.now = next.time;
      this.stats.steps++;
      const touched = this.handle(next.event);
      this.crashDoomed();
      for (let t = 0; t < SETTLE_TURNS; t++) await undefined;
      this.crashDoomed();
      if (touched) {
        this.check(() => this.checker.onStep(touched));
        this.stats.maxCommit = Math.max(this.stats.maxCommit, touched.driver?.status().commit ?? 0);
      }
      if (this.violation) throw this.violation;
    }
  }

  /** Handles one event; returns the node it concerned, if one. */
  private handle(ev: SimEvent): SimNode | undefined {
    switch (ev.kind) {
      case 'timer':
        ev.fn();
        return undefined;
      case 'deliver': {
        const node = this.nodes.get(ev.msg.to);
        node?.driver?.receive(ev.msg);
        return node;
      }
      case 'persisted':
        return this.completeWrite(ev);
      case 'client':
        if (this.clientsOn) this.startOp(ev.client);
        return undefined;
      case 'clientTimeout': {
        const op = this.pending.get(ev.opId);
        if (op) this.giveUp(op);
        return undefined;
      }
      case 'fault':
        if (!this.faulty) return undefined;
        this.injectFault();
        this.queue.push(this.now + this.nextFaultDelay(), { kind: 'fault' });
        return undefined;
      case 'heal':
        for (const link of ev.links) {
          const n = (this.blocked.get(link) ?? 0) - 1;
          if (n > 0) this.blocked.set(link, n);
          else this.blocked.delete(link);
        }
        return undefined;
      case 'restart':
        return this.restart(ev.node);
    }
  }

  /** Schedules the completion of `node`'s oldest write, unless one is scheduled already. */
  private scheduleDisk(node: SimNode): void {
    if (this.diskBusy.has(node.id) || node.disk.inFlight === 0) return;
    this.diskBusy.add(node.id);
    const ev = { kind: 'persisted' as const, node: node.id, incarnation: node.incarnation };
    // Now and then a write stalls (an fsync spike), holding up every write queued behind it.
    const stall = this.faulty && this.rng.next() < this.faults.diskStall ? randomInt(this.rng, 60) : 0;
    this.queue.push(this.now + randomInt(this.rng, this.faults.diskMs + 1) + stall, ev);
  }

  /** A disk write completes; the node may die right after, before its code sees it. */
  private completeWrite(ev: { node: NodeId; incarnation: number }): SimNode | undefined {
    const node = this.nodes.get(ev.node) as SimNode;
    if (!node.alive || node.incarnation !== ev.incarnation) return undefined;
    this.diskBusy.delete(node.id);
    node.disk.completeNext();
    if (this.faulty && this.rng.next() < this.faults.crashInReady) this.doomed.add(node.id);
    this.scheduleDisk(node);
    return node;
  }

  /** Routes a node's messages, injecting the targeted faults that depend on what it sends. */
  private onSend(from: SimNode, messages: readonly Message[]): void {
    const s = from.driver?.status();
    const appends = messages.some((m) => m.type === 'app' && (m.entries?.length ?? 0) > 0);
    const newLeader = s?.role === 'leader' && !this.leaderTermsSeen.has(`${from.id}/${s.term}`);
    if (newLeader) this.leaderTermsSeen.add(`${from.id}/${s.term}`);
    const isolate = newLeader ? this.faults.isolateNewLeader : appends ? this.faults.isolateBeforeAppend : 0;
    if (this.faulty && isolate > 0 && this.rng.next() < isolate) this.partition(new Set([from.id]), false);
    for (const m of messages) this.route(m);
    if (this.faulty && this.crashesAfterSending(from, messages, appends)) this.doomed.add(from.id);
  }

  /**
   * Targeted faults: crash right after a granted vote, after a leader's appends went out (four
   * times as often while its own writes are in flight, which a crash then loses), or after a
   * leader announced a higher commit index with writes of its own in flight.
   */
  private crashesAfterSending(from: SimNode, messages: readonly Message[], appended: boolean): boolean {
    const inFlight = from.driver?.writesInFlight ?? 0;
    const voted = messages.some((m) => m.type === 'voteResp' && !m.reject);
    const commit = Math.max(0, ...messages.map((m) => m.commit ?? 0));
    const raised = commit > (this.sentCommit.get(from.id) ?? 0);
    if (raised) this.sentCommit.set(from.id, commit);
    const r = this.rng;
    if (voted && r.next() < this.faults.crashAfterVote) return true;
    if (appended && r.next() < this.faults.crashAfterAppend * (inFlight > 0 ? 4 : 1)) return true;
    return raised && inFlight > 0 && r.next() < this.faults.crashCommitInFlight;
  }

  private route(m: Message): void {
    this.stats.messages++;
    if (this.blocked.has(`${m.from}>${m.to}`) || (this.faulty && this.rng.next() < this.faults.drop)) {
      this.stats.drops++;
      return;
    }
    const copies = this.faulty && this.rng.next() < this.faults.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicates++;
    for (let i = 0; i < copies; i++) {
      let delay = 1 + randomInt(this.rng, 3);
      if (this.faults.jitterMs > 0) delay += randomInt(this.rng, this.faults.jitterMs);
      if (this.faulty && this.rng.next() < this.faults.delay) {
        delay += randomInt(this.rng, this.faults.maxDelayMs);
        this.stats.delays++;
      }
      this.queue.push(this.now + delay, { kind: 'deliver', msg: m });
    }
  }

  // ---- faults ---------------------------------------------------------------------------------

  private nextFaultDelay(): number {
    return Math.max(1, Math.round(this.faults.faultEveryMs * (0.5 + this.rng.next())));
  }

  private injectFault(): void {
    const ids = [...this.nodes.keys()];
    const leader = this.currentLeader();
    const pick = this.rng.next();
    if (pick < 0.25) {
      // A partition (often the leader alone): symmetric split or one-way cut, healed later.
      let side: Set<NodeId>;
      if (leader && this.rng.next() < 0.5) side = new Set([leader.id]);
      else {
        const shuffled = [...ids];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = randomInt(this.rng, i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j] as NodeId, shuffled[i] as NodeId];
        }
        side = new Set(shuffled.slice(0, 1 + randomInt(this.rng, ids.length - 1)));
      }
      this.partition(side, this.rng.next() < 0.3);
    } else if (pick < 0.6) {
      // A crash, most often of the leader.
      const live = ids.filter((id) => this.nodes.get(id)?.alive);
      if (live.length === 0) return;
      const victim = leader && this.rng.next() < 0.6 ? leader.id : (live[randomInt(this.rng, live.length)] as NodeId);
      this.doomed.add(victim);
    } else if (pick < 0.75) {
      this.changeMembership();
    } else if (pick < 0.85) {
      const driver = leader?.driver;
      const voters = driver?.status().conf.voters.filter((v) => v !== leader?.id) ?? [];
      if (!driver || voters.length === 0) return;
      this.stats.transfers++;
      driver.transferLeader(voters[randomInt(this.rng, voters.length)] as NodeId).catch(() => undefined);
    } else {
      this.blocked.clear();
    }
  }

  /** Cuts `side` off from the other nodes (one way: only side → others) until a later heal. */
  private partition(side: ReadonlySet<NodeId>, oneWay: boolean): void {
    this.stats.partitions++;
    const ids = [...this.nodes.keys()];
    const links: string[] = [];
    for (const a of ids)
      for (const b of ids)
        if (side.has(a) && !side.has(b)) {
          links.push(`${a}>${b}`);
          if (!oneWay) links.push(`${b}>${a}`);
        }
    for (const link of links) this.blocked.set(link, (this.blocked.get(link) ?? 0) + 1);
    // Each partition heals on its own schedule.
    this.queue.push(this.now + 50 + randomInt(this.rng, 600), { kind: 'heal', links });
  }

  private changeMembership(): void {
    const driver = this.currentLeader()?.driver;
    if (!driver) return;
    const conf = driver.status().conf;
    const members = new Set([...conf.voters, ...conf.learners]);
    const outsiders = [...this.nodes.keys()].filter((id) => !members.has(id));
    let cc: ConfChange | undefined;
    if (conf.learners.length > 0) cc = { type: 'addVoter', node: conf.learners[0] as NodeId };
    else if (conf.voters.length > this.voters) {
      cc = { type: 'removeNode', node: conf.voters[randomInt(this.rng, conf.voters.length)] as NodeId };
    } else if (outsiders.length > 0) {
      const node = outsiders[0] as NodeId;
      cc = this.rng.next() < 0.5 ? { type: 'addLearner', node } : { type: 'addVoter', node };
    }
    if (!cc) return;
    this.stats.confChanges++;
    // Refused when a change is pending or leadership moved: a later fault tries again.
    driver.changeMembership(cc).catch(() => undefined);
  }

  /** Kills the nodes doomed by the event just handled. */
  private crashDoomed(): void {
    for (const id of this.doomed) {
      const node = this.nodes.get(id) as SimNode;
      if (!node.alive) continue;
      node.crash();
      this.stats.crashes++;
      this.diskBusy.delete(id);
      this.sentCommit.delete(id);
      // Operations waiting on this node have unknown outcomes (writes) or are abandoned (reads).
      for (const op of [...this.pending.values()]) if (op.node === id) this.giveUp(op);
      // Some crashes are quick bounces, others long outages.
      const downtime = this.rng.next() < 0.4 ? 5 + randomInt(this.rng, 40) : 50 + randomInt(this.rng, 500);
      this.queue.push(this.now + downtime, { kind: 'restart', node: id });
    }
    this.doomed.clear();
  }

  private restart(id: NodeId): SimNode | undefined {
    const node = this.nodes.get(id) as SimNode;
    if (node.alive) return undefined;
    if (node.incarnation > 0) this.stats.restarts++;
    node.start();
    this.scheduleDisk(node);
    return node;
  }

  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    let term = -1;
    for (const n of this.nodes.values()) {
      const s = n.driver?.status();
      if (s?.role === 'leader' && s.term > term) {
        best = n;
        term = s.term;
      }
    }
    return best;
  }

  // ---- clients --------------------------------------------------------------------------------

  private startOp(client: number): void {
    if (this.clientBusy.has(client)) return;
    const live = [...this.nodes.values()].filter((n) => n.alive);
    const hinted = this.nodes.get(this.leaderHint.get(client) ?? '');
    const target = hinted?.alive && this.rng.next() < 0.9 ? hinted : live[randomInt(this.rng, live.length)];
    const driver = target?.driver;
    if (!target || !driver) {
      this.queue.push(this.now + 20, { kind: 'client', client });
      return;
    }
    const key = KEYS[randomInt(this.rng, KEYS.length)] as string;
    const r = this.rng.next();
    const id = `c${client}-${this.opSeq++}`;
    let input: RegisterInput;
    let cmd: RegisterCommand | undefined;
    if (r < 0.45) {
      input = { op: 'get' };
    } else if (r < 0.8) {
      input = { op: 'put', value: id };
      cmd = { type: 'sim.put', id, key, value: id };
    } else {
      const expect = this.rng.next() < 0.7 ? target.value(key) : null;
      input = { op: 'cas', expect, value: id };
      cmd = { type: 'sim.cas', id, key, expect, value: id };
    }
    const historyIndex = this.history.length;
    this.history.push({ key, input, output: undefined, call: this.now, ret: Infinity });
    const op: PendingOp = { id, client, node: target.id, historyIndex, kind: cmd ? 'write' : 'read', key };
    this.pending.set(id, op);
    this.clientBusy.add(client);
    this.queue.push(this.now + OP_TIMEOUT_MS, { kind: 'clientTimeout', opId: id });
    const answered = (output: RegisterOutput) => this.pending.get(id) === op && this.respond(op, output);
    const failed = (err: unknown) => this.pending.get(id) === op && this.failed(op, err);
    if (cmd) {
      driver.propose(encodeRegisterCommand(cmd)).then((res) => {
        if (res.ok) answered(res.value as boolean);
        else failed(res.error);
      }, failed);
    } else {
      driver.readBarrier().then(() => answered(target.value(key)), failed);
    }
  }

  /**
   * A request failed. Refused before anything was proposed, or dropped by a leader change: it
   * certainly did not happen (the client retries, soon at a named leader). A timeout: unknown.
   */
  private failed(op: PendingOp, err: unknown): void {
    if (err instanceof ProposalTimeoutError || !(err instanceof KonsulError)) {
      this.giveUp(op);
      return;
    }
    (this.history[op.historyIndex] as { dropped?: boolean }).dropped = true;
    this.stats.opsFailed++;
    const hint = err instanceof NotLeaderError ? err.leader : undefined;
    const hinted = hint !== undefined && hint !== op.node && this.nodes.get(hint)?.alive === true;
    if (hinted) this.leaderHint.set(op.client, hint);
    else this.leaderHint.delete(op.client);
    const failures = (this.clientFailures.get(op.client) ?? 0) + 1;
    this.clientFailures.set(op.client, failures);
    this.pending.delete(op.id);
    this.clientBusy.delete(op.client);
    // Back off exponentially while refusals continue.
    const backoff = Math.min(200, (hinted ? 2 : 10) * 2 ** Math.min(failures, 8));
    if (this.clientsOn) {
      this.queue.push(this.now + backoff + randomInt(this.rng, 10), { kind: 'client', client: op.client });
    }
  }

  private respond(op: PendingOp, output: RegisterOutput): void {
    const h = this.history[op.historyIndex] as { output: RegisterOutput | undefined; ret: number };
    h.output = output;
    h.ret = this.now;
    this.stats.opsOk++;
    this.clientFailures.delete(op.client);
    this.release(op);
  }

  /** The client stops waiting: a write's outcome is unknown; a read is dropped (no effect). */
  private giveUp(op: PendingOp): void {
    if (op.kind === 'read') (this.history[op.historyIndex] as { dropped?: boolean }).dropped = true;
    else this.stats.opsUnknown++;
    this.release(op);
  }

  private release(op: PendingOp): void {
    this.pending.delete(op.id);
    this.clientBusy.delete(op.client);
    if (this.clientsOn) {
      this.queue.push(this.now + 1 + randomInt(this.rng, 30), { kind: 'client', client: op.client });
    }
  }

  // ---- the end: heal, liveness, linearizability ----------------------------------------------

  private async finalHeal(): Promise<void> {
    this.faulty = false;
    this.blocked.clear();
    for (const [id, n] of this.nodes) if (!n.alive) this.restart(id);
    for (let t = 0; t < SETTLE_TURNS; t++) await undefined;
  }

  private async runUntilConverged(): Promise<void> {
    // Let clients keep going for a while, then stop them and wait for replicas to converge.
    await this.runEvents(1500);
    this.clientsOn = false;
    for (let round = 0; round < 400; round++) {
      await this.runEvents(50);
      if (this.converged()) return;
    }
    const leader = this.currentLeader();
    const summary = [...this.nodes.values()].map((n) => {
      const s = n.driver?.status();
      return `${n.id}:${s?.role}/t${s?.term}/c${s?.commit}/a${n.driver?.applied()}`;
    });
    const what = leader ? 'replicas did not converge after heal' : 'no leader after heal';
    throw new InvariantViolation('liveness', `${what}: ${summary.join(' ')}`);
  }

  private converged(): boolean {
    const leader = this.currentLeader();
    const ls = leader?.driver?.status();
    if (!leader || !ls || ls.commit === 0) return false;
    const want = leader.state();
    for (const id of [...ls.conf.voters, ...ls.conf.learners]) {
      const n = this.nodes.get(id);
      if (!n?.driver || n.driver.applied() !== ls.commit || n.driver.writesInFlight > 0) return false;
      if (n.state() !== want) return false;
    }
    return true;
  }

  private checkHistory(): void {
    const ops = this.history.filter((h) => !h.dropped);
    const verdict = checkLinearizability(registerModel, ops);
    if (verdict.ok === true) return;
    throw new InvariantViolation(
      'linearizability',
      verdict.ok === false
        ? `history of key ${verdict.key} (${verdict.operations} operations) is not linearizable`
        : `check inconclusive for key ${verdict.key}: ${verdict.reason}`,
    );
  }
}

/** Runs one seed. */
export function runSimulation(options: SimOptions): Promise<SimResult> {
  return new Simulator(options).run();
}
