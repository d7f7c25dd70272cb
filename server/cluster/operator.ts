import type { MemberInfo, OperatorPort, RaftServerInfo } from '../../core/api/context.js';
import type { LeaderChange, LeaderHistory } from '../../core/cluster/leader-history.js';
import { KonsulError, NoLeaderError, RefusedError } from '../../core/errors.js';
import type { Logger } from '../../core/ports/logger.js';
import { NotLeaderError } from '../../core/raft/errors.js';
import type { NodeId } from '../../core/raft/types.js';
import type { RaftDriver } from '../../core/replication/driver.js';
import type { RaftTransport } from '../transport.js';
import type { AutopilotHealth, AutopilotReport } from './autopilot-health.js';
import type { Formation } from './formation.js';
import type { LeaderDuties } from './leader-duties.js';
import { type ClusterState, sleep } from './state.js';

/** What the operator API needs besides the shared cluster state. */
export interface ClusterOperatorOptions {
  readonly state: ClusterState;
  readonly transport: RaftTransport;
  readonly formation: Formation;
  readonly duties: LeaderDuties;
  readonly health: AutopilotHealth;
  /** The leader changes this server observed (the cluster records them). */
  readonly history: LeaderHistory;
  readonly datacenter: string;
  readonly version: string;
  readonly logger: Logger;
  /** Called when this server has left the cluster (it should then stop). */
  readonly onLeft: () => void;
}

/**
 * The operator API of a server (OperatorPort): /v1/agent/join, leave and members, and
 * /v1/operator/raft (configuration, peer removal, leadership transfer, leader history) and
 * autopilot health. Holds no state of its own: it reads the shared state and the leader history,
 * and asks formation and the leader's duties.
 */
export class ClusterOperator implements OperatorPort {
  constructor(private readonly o: ClusterOperatorOptions) {}

  async join(addr: string): Promise<void> {
    await this.o.formation.join(addr);
  }

  async leave(): Promise<void> {
    const { state } = this.o;
    const name = state.self.name;
    if (state.isLeader()) {
      await this.o.duties.removeServer(name);
    } else {
      const leader = state.leaderInfo();
      if (!leader) throw new NoLeaderError();
      const reply = await this.o.transport.request(leader.raftAddr, { type: 'leave', name }, 15_000);
      if (reply.type !== 'result' || !reply.ok) throw new NoLeaderError('No cluster leader: leave was not accepted');
    }
    this.o.logger.info('left the cluster');
    setTimeout(() => this.o.onLeft(), 100);
  }

  members(): MemberInfo[] {
    const { state } = this.o;
    const conf = state.driver?.membership() ?? { voters: [], learners: [] };
    const names = new Set<NodeId>([...conf.voters, ...conf.learners, ...state.knownNames()]);
    return [...names].sort().map((name) => {
      const info = state.addressOf(name);
      const [host, port] = splitAddr(info?.raftAddr ?? ':0');
      const member = conf.voters.includes(name) || conf.learners.includes(name);
      const heard = name === state.self.name ? Date.now() : state.heardAt(name);
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
    const { state } = this.o;
    const d = state.driver;
    const conf = d?.membership() ?? { voters: [], learners: [] };
    const lead = d?.status().lead;
    const servers = [...conf.voters, ...conf.learners].sort().map((name) => ({
      ID: name,
      Node: name,
      Address: state.addressOf(name)?.raftAddr ?? '',
      Leader: name === lead,
      ProtocolVersion: '3',
      Voter: conf.voters.includes(name),
    }));
    return { Servers: servers, Index: d?.status().applied ?? 0 };
  }

  async removePeer(by: { id?: string; address?: string }): Promise<void> {
    const { state } = this.o;
    if (!state.isLeader()) throw new NotLeaderError(state.driver?.status().lead);
    const conf = (state.driver as RaftDriver).membership();
    const all = [...conf.voters, ...conf.learners];
    const name = by.id ?? all.find((n) => state.addressOf(n)?.raftAddr === by.address);
    // Consul's texts (Operator.RaftRemovePeerByID/ByAddress), answered 500 as Consul does.
    if (!name || !all.includes(name)) {
      const which = by.id !== undefined ? `id ${JSON.stringify(by.id)}` : `address ${JSON.stringify(by.address)}`;
      throw new RefusedError(`${which} was not found in the Raft configuration`);
    }
    await this.o.duties.removeServer(name);
  }

  async transferLeader(id?: string): Promise<void> {
    const { state } = this.o;
    const d = state.driver;
    if (!d || !state.isLeader()) throw new NotLeaderError(d?.status().lead);
    const status = d.status();
    const target =
      id ??
      d
        .membership()
        .voters.filter((v) => v !== state.self.name)
        .sort((a, b) => (status.match[b] ?? 0) - (status.match[a] ?? 0))[0];
    // Consul's servers refuse these in the RPC (500).
    if (!target) throw new RefusedError('no other voter to transfer leadership to');
    if (!d.membership().voters.includes(target)) throw new RefusedError(`${target} is not a voter`);
    await d.transferLeader(target);
    for (let i = 0; i < 60 && d.status().lead !== target; i++) await sleep(50);
    if (d.status().lead !== target) throw new KonsulError('no_leader', `leadership did not move to ${target}`);
  }

  autopilotHealth(): AutopilotReport {
    return this.o.health.report();
  }

  leaderHistory(): LeaderChange[] {
    return this.o.history.changes();
  }
}

/** "host:port" (IPv6 hosts in brackets) as [host without brackets, port]; port 0 when absent. */
function splitAddr(addr: string): [string, number] {
  const at = addr.lastIndexOf(':');
  return [addr.slice(0, at).replace(/^\[|\]$/g, ''), Number(addr.slice(at + 1)) || 0];
}
