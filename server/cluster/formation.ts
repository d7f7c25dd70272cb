import { KonsulError } from '../../core/errors.js';
import type { Logger } from '../../core/ports/logger.js';
import { bootstrapState } from '../../core/raft/raw-node.js';
import type { NodeId } from '../../core/raft/types.js';
import type { LogStorage } from '../../core/replication/storage.js';
import type { ControlMessage, RaftTransport } from '../transport.js';
import type { LeaderDuties } from './leader-duties.js';
import type { ClusterState } from './state.js';

/** What formation needs besides the shared cluster state. */
export interface FormationOptions {
  readonly state: ClusterState;
  readonly transport: RaftTransport;
  readonly storage: LogStorage;
  readonly logger: Logger;
  /** Bootstrap a single-node cluster when there is no state (dev mode). */
  readonly single: boolean;
  /** Servers to gather before bootstrapping a new cluster (0: never bootstrap; join one instead). */
  readonly bootstrapExpect: number;
  /** Raft addresses of servers to contact (retried every discovery round until one answers). */
  readonly joins: readonly string[];
  /** The leader's duties, which take in servers that ask to join and remove those that leave. */
  readonly duties: LeaderDuties;
  /** (Re)starts the Raft driver from what storage holds, after a bootstrap. */
  readonly startDriver: () => void;
}

/**
 * How a server finds its cluster: bootstraps a single-node cluster (dev) or, with
 * --bootstrap-expect N, a new one once N servers agree on who they are; otherwise asks the
 * servers it knows (--join, /v1/agent/join, member records) and joins the existing cluster through
 * its leader. Also answers other servers' control requests (discover, join, leave). Owns the
 * addresses still to contact and the last discovery answer of each server.
 */
export class Formation {
  private readonly joins: Set<string>;
  private readonly lastReplies = new Map<string, ControlMessage>();

  constructor(private readonly o: FormationOptions) {
    this.joins = new Set(o.joins.filter((a) => a !== o.state.self.raftAddr));
  }

  /** Bootstraps a single-node cluster when asked to (dev mode) and storage holds no state yet. */
  async bootstrapIfSingle(): Promise<void> {
    if (!this.o.storage.hasState() && this.o.single) await this.bootstrap([this.o.state.self.name]);
  }

  /** One discovery round: ask every known address who is there; bootstrap or join when due. */
  async discover(): Promise<void> {
    const { state, transport } = this.o;
    state.learnRecordedMembers();
    const targets = new Set<string>(this.joins);
    for (const p of state.knownPeers()) if (p.name !== state.self.name) targets.add(p.raftAddr);
    const replies = await Promise.allSettled(
      [...targets].map(
        async (addr) => [addr, await transport.request(addr, { type: 'discover', from: state.self })] as const,
      ),
    );
    let existing: (ControlMessage & { type: 'helloAck' }) | undefined;
    for (const r of replies) {
      if (r.status !== 'fulfilled') continue;
      const [addr, reply] = r.value;
      if (reply.type !== 'helloAck') continue;
      this.lastReplies.set(reply.name, reply);
      state.seen(reply.name);
      if (this.joins.has(addr)) this.joins.delete(addr);
      state.learn({ name: reply.name, raftAddr: reply.raftAddr, httpAddr: reply.httpAddr });
      for (const p of reply.peers) state.learn(p);
      if (reply.bootstrapped) existing = reply;
    }
    if (state.inCluster() || this.o.storage.hasState()) return;
    if (existing) {
      await this.requestJoin(existing.leader ?? existing.raftAddr);
      return;
    }
    const expect = this.o.bootstrapExpect;
    const known = state.knownNames();
    if (expect > 1 && known.length === expect) {
      const mine = [...known].sort().join(',');
      const agreed = known.every((name) => {
        if (name === state.self.name) return true;
        const reply = this.lastReplies.get(name);
        return (
          reply?.type === 'helloAck' &&
          [...new Set([reply.name, ...reply.peers.map((p) => p.name)])].sort().join(',') === mine
        );
      });
      if (agreed) {
        await state.driver?.close();
        await this.bootstrap(state.knownNames());
        this.o.startDriver();
      }
    }
  }

  /**
   * Joins the cluster of the server at raft address `addr` (/v1/agent/join): remembers it for
   * discovery and runs a round now. Rejects with KonsulError 'no_leader' when it cannot be reached.
   */
  async join(addr: string): Promise<void> {
    const { state, transport } = this.o;
    if (addr === state.self.raftAddr) return;
    this.joins.add(addr);
    const reply = await transport.request(addr, { type: 'discover', from: state.self }).catch((err: unknown) => {
      throw new KonsulError('no_leader', `cannot reach ${addr}: ${(err as Error).message}`);
    });
    if (reply.type !== 'helloAck') throw new KonsulError('no_leader', `unexpected answer from ${addr}`);
    await this.discover();
  }

  /** Answers another server's control request (the transport authenticated it already). */
  async onControl(c: ControlMessage): Promise<ControlMessage> {
    const { state } = this.o;
    switch (c.type) {
      case 'discover': {
        state.learn(c.from);
        state.seen(c.from.name);
        const leader = state.leaderInfo();
        return {
          type: 'helloAck',
          ...state.self,
          peers: state.knownPeers(),
          bootstrapped: this.o.storage.hasState(),
          ...(leader ? { leader: leader.raftAddr } : {}),
        };
      }
      case 'join': {
        const info = { name: c.name, raftAddr: c.raftAddr, httpAddr: c.httpAddr };
        if (!state.isLeader()) return this.notLeader();
        state.learn(info);
        this.o.duties.admit(info);
        this.o.logger.info('server asked to join', { server: c.name, raft: c.raftAddr });
        return { type: 'result', ok: true };
      }
      case 'leave': {
        if (!state.isLeader()) return this.notLeader();
        await this.o.duties.removeServer(c.name);
        return { type: 'result', ok: true };
      }
      default:
        return { type: 'refused', reason: `unexpected request ${c.type}` };
    }
  }

  /** The answer of a follower to a leader-only request: not done, and where the leader is. */
  private notLeader(): ControlMessage {
    const leader = this.o.state.leaderInfo();
    return { type: 'result', ok: false, ...(leader ? { leader: leader.raftAddr } : {}) };
  }

  private async requestJoin(addr: string): Promise<void> {
    const { name, raftAddr, httpAddr } = this.o.state.self;
    const { transport } = this.o;
    const reply = await transport.request(addr, { type: 'join', name, raftAddr, httpAddr });
    if (reply.type === 'result' && !reply.ok && reply.leader && reply.leader !== addr) {
      await transport.request(reply.leader, { type: 'join', name, raftAddr, httpAddr });
    }
  }

  private async bootstrap(voters: NodeId[]): Promise<void> {
    const boot = bootstrapState(voters);
    await this.o.storage.persist(
      { hardState: boot.hardState, entries: boot.entries, snapshot: undefined, sync: true },
      () => undefined,
    );
    this.o.logger.info('bootstrapped a new cluster', { voters: voters.join(',') });
  }
}
