import { type Rng, randomInt } from '../../ports/rng.js';
import type { PlantedBugs, RaftConfig } from '../../raft/config.js';
import { NotLeaderError } from '../../raft/errors.js';
import { bootstrapState } from '../../raft/raw-node.js';
import type { ConfChange, Entry, Message, NodeId } from '../../raft/types.js';
import {
  checkLinearizability,
  type Operation,
  registerModel,
  type RegisterInput,
  type RegisterOutput,
} from '../linearizability.js';
import { decodeOp, encodeOp, type KvOp, type ReadyEffects, TestRaftNode } from '../raft-node.js';
import { seededRng } from '../seeded-rng.js';
import { EventQueue } from './event-queue.js';
import { InvariantChecker, type InvariantName, InvariantViolation } from './invariants.js';

/** Probabilities and sizes of the faults a run injects; all chosen per seed unless given. */
export interface FaultRates {
  readonly drop: number;
  readonly duplicate: number;
  /** Probability that a message is delayed by up to `maxDelayMs` (which reorders messages). */
  readonly delay: number;
  readonly maxDelayMs: number;
  /** Extra random latency on every message (0 for a fast, steady network). */
  readonly jitterMs: number;
  /** Mean time between fault events (partition, crash, membership change, transfer), ms. */
  readonly faultEveryMs: number;
  /** Probability that a node crashes right after persisting a Ready (before sending or applying). */
  readonly crashInReady: number;
  /** Probability that a node crashes before persisting a Ready (a leader's early appends are out). */
  readonly crashBeforePersist: number;
  /** Probability that a node crashes just after sending a granted vote (tests vote durability). */
  readonly crashAfterVote: number;
  /** Probability that a leader crashes just after sending appends (partial replication, Figure 8). */
  readonly crashAfterAppend: number;
  /** Probability that a leader is cut off just before its appends go out (entries stay on it alone). */
  readonly isolateBeforeAppend: number;
  /** Probability that a just-elected leader is cut off before its first appends go out. */
  readonly isolateNewLeader: number;
}

/** Families of fault schedules; each seed draws one. */
export type SimProfile = 'mixed' | 'chaos' | 'leader-churn';

/** Options of one simulation run. */
export interface SimOptions {
  readonly seed: number;
  /** 3 or 5 founding voters (default: chosen by the seed). */
  readonly voters?: 3 | 5;
  /** Events to run with faults before the final heal. */
  readonly steps?: number;
  readonly plantedBugs?: PlantedBugs;
  readonly faults?: Partial<FaultRates>;
  /** Raft read mode under test. */
  readonly readMode?: 'safe' | 'lease';
  /** Writes a node may have in flight (default: chosen by the seed, 1 or 2-4). */
  readonly pipeline?: number;
}

/** Counters of what a run did. */
export interface SimStats {
  steps: number;
  elections: number;
  messages: number;
  drops: number;
  duplicates: number;
  delays: number;
  partitions: number;
  crashes: number;
  restarts: number;
  confChanges: number;
  transfers: number;
  snapshotsInstalled: number;
  opsOk: number;
  opsFailed: number;
  opsUnknown: number;
  maxCommit: number;
}

/** The outcome of a run; a failure names the broken property and the step it broke at. */
export interface SimResult {
  readonly seed: number;
  readonly voters: number;
  readonly profile: SimProfile;
  /** Writes a node may have in flight (1: each Ready persisted before the next). */
  readonly pipeline: number;
  readonly ok: boolean;
  readonly failure?: { readonly invariant: InvariantName; readonly message: string; readonly step: number };
  readonly stats: SimStats;
}

type SimEvent =
  | { kind: 'tick'; node: NodeId }
  | { kind: 'deliver'; msg: Message }
  | { kind: 'client'; client: number }
  | { kind: 'clientTimeout'; client: number; opId: string }
  | { kind: 'fault' }
  | { kind: 'heal'; links: readonly string[] }
  | { kind: 'restart'; node: NodeId }
  | { kind: 'persisted'; node: NodeId; incarnation: number };

interface PendingOp {
  readonly id: string;
  readonly client: number;
  readonly node: NodeId;
  readonly historyIndex: number;
  readonly kind: 'write' | 'read';
  /** Writes: the proposal's index and term. Reads: the confirmed read index, once known. */
  index?: number;
  term?: number;
  key: string;
}

const TICK_MS = 10;
const ELECTION_TICKS = 10;
const KEYS = ['x', 'y', 'z'];
const CLIENTS = 4;
const OP_TIMEOUT_MS = 600;

/**
 * A deterministic simulation of a Raft cluster running a KV state machine: one seed fixes every
 * choice (election timeouts, message fates, faults, client operations), so a failing run replays
 * exactly. After every event the InvariantChecker verifies Raft's safety properties; at the end
 * the network heals, every node restarts, liveness is checked (a leader, converged replicas) and
 * the clients' history must be linearizable.
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
  private readonly nodes = new Map<NodeId, TestRaftNode>();
  private readonly incarnation = new Map<NodeId, number>();
  private readonly checker = new InvariantChecker();
  /** Blocked directed links ("a>b") with the number of partitions blocking each. */
  private readonly blocked = new Map<string, number>();
  private readonly history: Array<Operation<RegisterInput, RegisterOutput> & { dropped?: boolean }> = [];
  private readonly pending = new Map<string, PendingOp>();
  private readonly clientBusy = new Set<number>();
  private readonly leaderHint = new Map<number, NodeId>();
  private readonly clientFailures = new Map<number, number>();
  private readonly voters: number;
  private readonly faults: FaultRates;
  /** The Raft settings of this run (chosen by the seed). */
  readonly raftConfig: Partial<RaftConfig>;
  /** The nemesis profile of this run (chosen by the seed). */
  readonly profile: SimProfile;
  /** How many writes each node may have in flight (chosen by the seed): 1, or a pipelined driver. */
  readonly pipeline: number;
  private now = 0;
  private faulty = true;
  private clientsOn = true;
  private opSeq = 0;
  private readSeq = 0;

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
    };
    this.pipeline = options.pipeline ?? (r.next() < 0.5 ? 1 : 2 + randomInt(r, 3));
    const ids = Array.from({ length: this.voters + 1 }, (_, i) => `n${i + 1}`);
    const founders = ids.slice(0, this.voters);
    const boot = bootstrapState(founders);
    ids.forEach((id, i) => {
      const node = new TestRaftNode({
        id,
        rng: seededRng(options.seed * 7919 + i + 1),
        raft: this.raftConfig,
        ...(options.plantedBugs ? { plantedBugs: options.plantedBugs } : {}),
        compactEvery: 20 + randomInt(this.rng, 40),
        pipeline: this.pipeline,
      });
      if (founders.includes(id)) node.bootstrap(boot);
      else node.start();
      this.nodes.set(id, node);
      this.incarnation.set(id, 1);
      // Ticks start at a per-node phase so nodes do not tick in lockstep.
      this.queue.push(randomInt(this.rng, TICK_MS), { kind: 'tick', node: id });
    });
    for (let c = 0; c < CLIENTS; c++) this.queue.push(randomInt(this.rng, 50), { kind: 'client', client: c });
    this.queue.push(this.nextFaultDelay(), { kind: 'fault' });
  }

  /** Runs the simulation to the end and reports. Never throws for a property violation. */
  run(): SimResult {
    const steps = this.options.steps ?? 3000;
    try {
      this.runEvents(steps);
      this.finalHeal();
      this.runUntilConverged();
      this.checkHistory();
      return {
        seed: this.options.seed,
        voters: this.voters,
        profile: this.profile,
        pipeline: this.pipeline,
        ok: true,
        stats: this.finish(),
      };
    } catch (err) {
      if (!(err instanceof InvariantViolation)) throw err;
      return {
        seed: this.options.seed,
        voters: this.voters,
        profile: this.profile,
        pipeline: this.pipeline,
        ok: false,
        failure: { invariant: err.invariant, message: err.message, step: this.stats.steps },
        stats: this.finish(),
      };
    }
  }

  private finish(): SimStats {
    this.stats.elections = this.checker.elections;
    return this.stats;
  }

  // ---- event loop ---------------------------------------------------------------------------

  private runEvents(limit: number): void {
    for (let i = 0; i < limit; i++) {
      const next = this.queue.pop();
      if (!next) return;
      this.now = next.time;
      this.stats.steps++;
      this.handle(next.event);
    }
  }

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case 'tick': {
        const node = this.nodes.get(ev.node) as TestRaftNode;
        node.raw?.tick();
        this.drain(node);
        this.queue.push(this.now + TICK_MS, ev);
        break;
      }
      case 'deliver': {
        const node = this.nodes.get(ev.msg.to);
        if (!node?.raw) return;
        node.raw.step(ev.msg);
        this.drain(node);
        break;
      }
      case 'client':
        if (this.clientsOn) this.startOp(ev.client);
        break;
      case 'clientTimeout':
        this.timeoutOp(ev.opId);
        break;
      case 'fault':
        if (!this.faulty) return;
        this.injectFault();
        this.queue.push(this.now + this.nextFaultDelay(), { kind: 'fault' });
        break;
      case 'heal':
        for (const link of ev.links) {
          const n = (this.blocked.get(link) ?? 0) - 1;
          if (n > 0) this.blocked.set(link, n);
          else this.blocked.delete(link);
        }
        break;
      case 'restart':
        this.restart(ev.node);
        break;
      case 'persisted':
        this.completePersist(ev);
        break;
    }
  }

  /** Processes every Ready of `node`, checking invariants and routing effects. */
  private drain(node: TestRaftNode): void {
    for (let guard = 0; guard < 1000 && node.raw?.hasReady(); guard++) {
      const draw = this.faulty ? this.rng.next() : 1;
      const crash =
        draw < this.faults.crashInReady
          ? 'afterPersist'
          : draw < this.faults.crashInReady + this.faults.crashBeforePersist
            ? 'beforePersist'
            : 'none';
      const inFlight = node.writesInFlight;
      const fx = node.processReady(crash);
      if (!fx) break;
      this.checker.onPersist(node, fx.persisted);
      if (crash !== 'none') {
        // A leader's appends may have left before its own log write was lost.
        for (const m of fx.messages) this.send(m);
        this.onCrash(node);
        return;
      }
      // A pipelined write completes a little later, in order, unless the node crashes first.
      if (node.writesInFlight > inFlight) {
        this.queue.push(this.now + randomInt(this.rng, 12), {
          kind: 'persisted',
          node: node.id,
          incarnation: this.incarnation.get(node.id) as number,
        });
      }
      if (!this.routeEffects(node, fx)) return;
    }
  }

  /** A pipelined write of `ev.node` completes: what waited for it goes out, then more Readies. */
  private completePersist(ev: { node: NodeId; incarnation: number }): void {
    const node = this.nodes.get(ev.node) as TestRaftNode;
    if (!node.raw || this.incarnation.get(node.id) !== ev.incarnation) return;
    const fx = node.completeWrite();
    if (!fx) return;
    this.checker.onPersist(node, fx.persisted);
    if (this.routeEffects(node, fx)) this.drain(node);
  }

  /** Sends, applies and answers what a Ready (or a completed write) produced; false if the node crashed. */
  private routeEffects(node: TestRaftNode, fx: ReadyEffects): boolean {
    if (fx.becameLeader) this.checker.onLeader(node);
    if (fx.snapshotInstalled) this.stats.snapshotsInstalled++;
    const appends = fx.messages.some((m) => m.type === 'app' && (m.entries?.length ?? 0) > 0);
    const isolate = fx.becameLeader ? this.faults.isolateNewLeader : appends ? this.faults.isolateBeforeAppend : 0;
    if (this.faulty && isolate > 0 && this.rng.next() < isolate) this.partition(new Set([node.id]), false);
    for (const m of fx.messages) this.send(m);
    for (const { entry, result } of fx.applied) {
      this.checker.onApply(node, entry, this.nodes);
      this.completeWrite(node, entry, result);
    }
    for (const rs of fx.readStates) {
      const op = this.pending.get(rs.context);
      if (op && op.node === node.id) op.index = rs.index;
    }
    this.completeReads(node);
    this.checker.onStep(node, this.incarnation.get(node.id) as number);
    this.stats.maxCommit = Math.max(this.stats.maxCommit, node.raw?.status().commit ?? 0);
    if (this.faulty && this.crashesAfterSending(fx.messages, node.writesInFlight)) {
      node.crash();
      this.onCrash(node, true);
      return false;
    }
    return true;
  }

  /**
   * Targeted faults: crash right after a granted vote or a leader's appends went out (four times
   * as often while the leader's own writes are still in flight, which a crash then loses).
   */
  private crashesAfterSending(messages: readonly Message[], writesInFlight: number): boolean {
    const voted = messages.some((m) => m.type === 'voteResp' && !m.reject);
    const appended = messages.some((m) => m.type === 'app' && (m.entries?.length ?? 0) > 0);
    const rate = this.faults.crashAfterAppend * (writesInFlight > 0 ? 4 : 1);
    return (voted && this.rng.next() < this.faults.crashAfterVote) || (appended && this.rng.next() < rate);
  }

  private send(m: Message): void {
    this.stats.messages++;
    if (this.blocked.has(`${m.from}>${m.to}`)) {
      this.stats.drops++;
      return;
    }
    if (this.faulty && this.rng.next() < this.faults.drop) {
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
      const node = this.nodes.get(victim) as TestRaftNode;
      node.crash();
      this.onCrash(node);
    } else if (pick < 0.75) {
      this.changeMembership();
    } else if (pick < 0.85) {
      const voters = leader?.raw?.status().conf.voters.filter((v) => v !== leader.id) ?? [];
      if (!leader?.raw || voters.length === 0) return;
      try {
        leader.raw.transferLeader(voters[randomInt(this.rng, voters.length)] as NodeId);
        this.stats.transfers++;
        this.drain(leader);
      } catch {
        // Not leader any more: nothing to transfer.
      }
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
    const leader = this.currentLeader();
    if (!leader?.raw) return;
    const conf = leader.raw.status().conf;
    const members = new Set([...conf.voters, ...conf.learners]);
    const outsiders = [...this.nodes.keys()].filter((id) => !members.has(id));
    let cc: ConfChange | undefined;
    if (conf.learners.length > 0) cc = { type: 'addVoter', node: conf.learners[0] as NodeId };
    else if (conf.voters.length > this.voters)
      cc = { type: 'removeNode', node: conf.voters[randomInt(this.rng, conf.voters.length)] as NodeId };
    else if (outsiders.length > 0) {
      const node = outsiders[0] as NodeId;
      cc = this.rng.next() < 0.5 ? { type: 'addLearner', node } : { type: 'addVoter', node };
    }
    if (!cc) return;
    try {
      leader.raw.proposeConfChange(cc);
      this.stats.confChanges++;
      this.drain(leader);
    } catch {
      // Refused (change pending, not leader): try again at a later fault.
    }
  }

  private onCrash(node: TestRaftNode, bounce = false): void {
    this.stats.crashes++;
    this.incarnation.set(node.id, (this.incarnation.get(node.id) as number) + 1);
    // Operations waiting on this node have unknown outcomes (writes) or are abandoned (reads).
    for (const op of [...this.pending.values()]) if (op.node === node.id) this.giveUp(op);
    // Some crashes are quick bounces, others long outages.
    const downtime = bounce || this.rng.next() < 0.3 ? 5 + randomInt(this.rng, 40) : 50 + randomInt(this.rng, 500);
    this.queue.push(this.now + downtime, { kind: 'restart', node: node.id });
  }

  private restart(id: NodeId): void {
    const node = this.nodes.get(id) as TestRaftNode;
    if (node.alive) return;
    node.start();
    this.stats.restarts++;
    this.drain(node);
  }

  private currentLeader(): TestRaftNode | undefined {
    let best: TestRaftNode | undefined;
    let term = -1;
    for (const n of this.nodes.values()) {
      const s = n.raw?.status();
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
    if (!target?.raw) {
      this.queue.push(this.now + 20, { kind: 'client', client });
      return;
    }
    const key = KEYS[randomInt(this.rng, KEYS.length)] as string;
    const r = this.rng.next();
    const id = `c${client}-${this.opSeq++}`;
    let input: RegisterInput;
    let kvop: KvOp | undefined;
    if (r < 0.45) {
      input = { op: 'get' };
    } else if (r < 0.8) {
      input = { op: 'put', value: id };
      kvop = { id, op: 'put', key, value: id };
    } else {
      const expect = this.guessValue(target, key);
      input = { op: 'cas', expect, value: id };
      kvop = { id, op: 'cas', key, expect, value: id };
    }
    const historyIndex = this.history.length;
    this.history.push({ key, input, output: undefined, call: this.now, ret: Infinity });
    const op: PendingOp = { id, client, node: target.id, historyIndex, kind: kvop ? 'write' : 'read', key };
    try {
      if (kvop) {
        const at = target.raw.propose(encodeOp(kvop));
        op.index = at.index;
        op.term = at.term;
      } else {
        const ctx = `read-${this.readSeq++}`;
        this.pending.set(ctx, { ...op, id: ctx });
        target.raw.readIndex(ctx);
        this.clientBusy.add(client);
        this.queue.push(this.now + OP_TIMEOUT_MS, { kind: 'clientTimeout', client, opId: ctx });
        this.drain(target);
        return;
      }
    } catch (err) {
      // Refused before anything was proposed: the operation certainly did not happen.
      (this.history[historyIndex] as { dropped?: boolean }).dropped = true;
      this.stats.opsFailed++;
      const hint = err instanceof NotLeaderError ? err.leader : undefined;
      const hinted = hint !== undefined && hint !== target.id && this.nodes.get(hint)?.alive === true;
      if (hinted) this.leaderHint.set(client, hint);
      else this.leaderHint.delete(client);
      // Retry soon at a named leader; back off exponentially while refusals continue.
      const failures = (this.clientFailures.get(client) ?? 0) + 1;
      this.clientFailures.set(client, failures);
      const backoff = Math.min(200, (hinted ? 2 : 10) * 2 ** Math.min(failures, 8));
      this.queue.push(this.now + backoff + randomInt(this.rng, 10), { kind: 'client', client });
      return;
    }
    this.clientFailures.delete(client);
    this.pending.set(id, op);
    this.clientBusy.add(client);
    this.queue.push(this.now + OP_TIMEOUT_MS, { kind: 'clientTimeout', client, opId: id });
    this.drain(target);
  }

  private guessValue(node: TestRaftNode, key: string): string | null {
    return this.rng.next() < 0.7 ? (node.kv.get(key) ?? null) : null;
  }

  private completeWrite(node: TestRaftNode, entry: Entry, result: boolean | undefined): void {
    for (const op of this.pending.values()) {
      if (op.kind !== 'write' || op.node !== node.id || op.index !== entry.index) continue;
      const applied = entry.type === 'normal' ? decodeOp(entry.data) : undefined;
      if (op.term === entry.term && applied?.id === op.id) {
        this.respond(op, result ?? true);
      } else {
        // Another entry was committed at our index: ours was never committed and never will be.
        (this.history[op.historyIndex] as { dropped?: boolean }).dropped = true;
        this.stats.opsFailed++;
        this.release(op);
      }
    }
  }

  private completeReads(node: TestRaftNode): void {
    for (const op of this.pending.values()) {
      if (op.kind !== 'read' || op.node !== node.id || op.index === undefined) continue;
      if (node.applied < op.index) continue;
      this.respond(op, node.kv.get(op.key) ?? null);
    }
  }

  private respond(op: PendingOp, output: RegisterOutput): void {
    const h = this.history[op.historyIndex] as { output: RegisterOutput | undefined; ret: number };
    h.output = output;
    h.ret = this.now;
    this.stats.opsOk++;
    this.release(op);
  }

  private timeoutOp(id: string): void {
    const op = this.pending.get(id);
    if (op) this.giveUp(op);
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
    if (this.clientsOn) this.queue.push(this.now + 1 + randomInt(this.rng, 30), { kind: 'client', client: op.client });
  }

  // ---- the end: heal, liveness, linearizability ----------------------------------------------

  private finalHeal(): void {
    this.faulty = false;
    this.blocked.clear();
    for (const [id, n] of this.nodes) if (!n.alive) this.restart(id);
  }

  private runUntilConverged(): void {
    // Let clients keep going for a while, then stop them and wait for replicas to converge.
    this.runEvents(1500);
    this.clientsOn = false;
    for (let round = 0; round < 400; round++) {
      this.runEvents(50);
      if (this.converged()) return;
    }
    const leader = this.currentLeader();
    const summary = [...this.nodes.values()].map((n) => {
      const s = n.raw?.status();
      return `${n.id}:${s?.role}/t${s?.term}/c${s?.commit}/a${n.applied}`;
    });
    throw new InvariantViolation(
      'liveness',
      leader
        ? `replicas did not converge after heal: ${summary.join(' ')}`
        : `no leader after heal: ${summary.join(' ')}`,
    );
  }

  private converged(): boolean {
    const leader = this.currentLeader();
    const ls = leader?.raw?.status();
    if (!leader || !ls || ls.commit === 0) return false;
    const members = [...ls.conf.voters, ...ls.conf.learners];
    const want = JSON.stringify([...leader.kv.entries()].sort());
    for (const id of members) {
      const n = this.nodes.get(id);
      if (!n?.raw || n.applied !== ls.commit) return false;
      if (JSON.stringify([...n.kv.entries()].sort()) !== want) return false;
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
export function runSimulation(options: SimOptions): SimResult {
  return new Simulator(options).run();
}
