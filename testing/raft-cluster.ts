import type { PlantedBugs, RaftConfig } from '../core/raft/config.js';
import { bootstrapState } from '../core/raft/raw-node.js';
import type { Message, NodeId } from '../core/raft/types.js';
import { TestRaftNode } from './raft-node.js';
import { seededRng } from './seeded-rng.js';

/** Options of a TestCluster. */
export interface TestClusterOptions {
  readonly seed?: number;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'rng' | 'plantedBugs'>>;
  readonly plantedBugs?: PlantedBugs;
  /** Extra nodes that exist but are not members at bootstrap (to be added later). */
  readonly spares?: readonly NodeId[];
  readonly compactEvery?: number;
}

/**
 * A deterministic in-memory cluster for scenario tests: messages go through a FIFO queue that
 * tests can filter (partitions, drops), and nothing happens unless a test ticks or stabilizes.
 */
export class TestCluster {
  readonly nodes = new Map<NodeId, TestRaftNode>();
  readonly queue: Message[] = [];
  private blocked = new Set<string>();
  /** Every message ever sent, for assertions. */
  readonly sent: Message[] = [];
  /** Every ReadState a node's Ready handed out during stabilize(), with the node. */
  readonly reads: Array<{ node: NodeId; index: number; context: string }> = [];

  constructor(
    readonly members: readonly NodeId[],
    options: TestClusterOptions = {},
  ) {
    const rng = seededRng(options.seed ?? 1);
    const boot = bootstrapState(members);
    for (const id of [...members, ...(options.spares ?? [])]) {
      const node = new TestRaftNode({
        id,
        rng,
        raft: { electionTicks: 10, heartbeatTicks: 1, ...options.raft },
        ...(options.plantedBugs ? { plantedBugs: options.plantedBugs } : {}),
        ...(options.compactEvery ? { compactEvery: options.compactEvery } : {}),
      });
      if (members.includes(id)) node.bootstrap(boot);
      else node.start();
      this.nodes.set(id, node);
    }
  }

  node(id: NodeId): TestRaftNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** The RawNode of a live node. */
  raw(id: NodeId) {
    const r = this.node(id).raw;
    if (!r) throw new Error(`${id} is down`);
    return r;
  }

  /** Blocks messages from `a` to `b` (and back, unless oneWay). */
  cut(a: NodeId, b: NodeId, oneWay = false): void {
    this.blocked.add(`${a}>${b}`);
    if (!oneWay) this.blocked.add(`${b}>${a}`);
  }

  /** Cuts `id` off from every other node. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  heal(): void {
    this.blocked.clear();
  }

  /** Ticks the given nodes (default: all live ones) `times` times, stabilizing after each. */
  tick(times = 1, ids: readonly NodeId[] = [...this.nodes.keys()]): void {
    for (let i = 0; i < times; i++) {
      for (const id of ids) this.nodes.get(id)?.raw?.tick();
      this.stabilize();
    }
  }

  /** Processes Ready and delivers messages until nothing is left (bounded). */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let progressed = false;
      for (const node of this.nodes.values()) {
        const fx = node.processReady();
        if (fx) {
          progressed = true;
          for (const r of fx.readStates) this.reads.push({ node: node.id, ...r });
          for (const m of fx.messages) {
            this.sent.push(m);
            this.queue.push(m);
          }
        }
      }
      while (this.queue.length > 0) {
        progressed = true;
        const m = this.queue.shift() as Message;
        if (this.blocked.has(`${m.from}>${m.to}`)) continue;
        // Messages produced while handling this one are collected on the next round.
        this.nodes.get(m.to)?.raw?.step(m);
      }
      if (!progressed) return;
    }
    throw new Error('cluster did not stabilize');
  }

  /** Makes `id` time out and campaign (other nodes are not ticked), then stabilizes. */
  campaign(id: NodeId): void {
    const raw = this.raw(id);
    for (let i = 0; i < 20 && raw.status().role !== 'leader' && raw.status().role !== 'candidate'; i++) {
      raw.tick();
      this.stabilize();
    }
    this.stabilize();
  }

  /** The live node that believes it leads in the highest term, if any. */
  leader(): NodeId | undefined {
    let best: { id: NodeId; term: number } | undefined;
    for (const [id, n] of this.nodes) {
      const s = n.raw?.status();
      if (s?.role === 'leader' && (!best || s.term > best.term)) best = { id, term: s.term };
    }
    return best?.id;
  }
}
