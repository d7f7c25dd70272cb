import { NODE_CHECK_ID } from '../../core/agent/agent.js';
import { readAutopilotConfig } from '../../core/cluster/autopilot.js';
import { listMembers } from '../../core/cluster/members.js';
import { nodeChecks, nodeServices, serviceInstances } from '../../core/catalog/queries.js';
import { CONSUL_SERVICE } from '../../core/catalog/types.js';
import { KonsulError } from '../../core/errors.js';
import type { WritePipeline } from '../../core/pipeline/write-pipeline.js';
import type { Logger } from '../../core/ports/logger.js';
import type { Clock } from '../../core/ports/clock.js';
import { fleetOverdue } from '../../core/fleet/state-machine.js';
import type { StateStore } from '../../core/ports/state-store.js';
import { quorum } from '../../core/raft/conf-change.js';
import type { NodeId } from '../../core/raft/types.js';
import { parseDuration } from '../../core/util/duration.js';
import type { RaftDriver } from '../../core/replication/driver.js';
import type { PeerInfo } from '../transport.js';
import type { AutopilotHealth } from './autopilot-health.js';
import { type ClusterState, sleep } from './state.js';

/** What the leader's duties need besides the shared cluster state. */
export interface LeaderDutiesOptions {
  readonly state: ClusterState;
  readonly store: StateStore;
  readonly writer: WritePipeline;
  readonly health: AutopilotHealth;
  readonly datacenter: string;
  readonly logger: Logger;
  /** The leader's clock: what `fleet.expire` compares members' last-seen times with. */
  readonly clock: Clock;
  /** Silence after which a fleet member is marked offline (ms). */
  readonly edgeOfflineAfterMs: number;
}

/**
 * The leader's membership work and autopilot: records every member's addresses, adds servers
 * that asked to join as learners and promotes them once caught up, removes leavers and (with
 * CleanupDeadServers) dead voters, marks unreachable members' node checks critical and keeps
 * Consul's `consul` service on every server's node, and marks silent edge agents and devices
 * offline in the fleet table. Owns the
 * queue of servers waiting to join.
 */
export class LeaderDuties {
  /** Servers that asked this leader to join, until they appear in the Raft configuration. */
  private readonly pendingJoins = new Map<NodeId, PeerInfo>();

  constructor(private readonly o: LeaderDutiesOptions) {}

  /** Queues a server that asked to join; the next rounds add it as a learner, then a voter. */
  admit(info: PeerInfo): void {
    this.pendingJoins.set(info.name, info);
  }

  /** What the leader does every half second (nothing elsewhere). One membership change at most per round. */
  async run(): Promise<void> {
    const { state, store, writer } = this.o;
    const d = state.driver;
    if (!d || !state.isLeader()) return;
    // Edge agents and devices silent too long go offline (one command, only when one is due).
    const now = this.o.clock.now();
    const silenceMs = this.o.edgeOfflineAfterMs;
    if (store.read((tx) => fleetOverdue(tx, now, silenceMs)))
      await writer.submit({ type: 'fleet.expire', now, silenceMs }).catch((err: unknown) => {
        this.o.logger.warn('fleet expiry not written', { error: (err as Error).message });
      });
    const conf = d.membership();
    const members = new Map(store.read((tx) => listMembers(tx)).map((m) => [m.name, m] as const));
    // Every member's addresses are recorded, so any server can reach it and forward to it.
    for (const name of [...conf.voters, ...conf.learners]) {
      const info = state.addressOf(name);
      const rec = members.get(name);
      if (info && (!rec || rec.raftAddr !== info.raftAddr || rec.httpAddr !== info.httpAddr)) {
        await writer.submit({ type: 'member.register', ...info });
      }
    }
    const status = d.status();
    const autopilot = store.read(readAutopilotConfig);
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
    await this.reconcileConsulService([...conf.voters, ...conf.learners]);
    await this.cleanupDeadServers();
  }

  /**
   * Every server's node carries Consul's `consul` service (port: its Raft port), as Consul's
   * leader registers it for its servers: clients list the servers with it (catalog, health and
   * DNS `consul.service.consul`). Nodes that are no longer servers lose it. A server's node is
   * registered by its own agent first; until then it is skipped.
   */
  private async reconcileConsulService(servers: readonly NodeId[]): Promise<void> {
    const { state, store, writer } = this.o;
    const register = (name: string, port: number) =>
      writer.submit({
        type: 'catalog.register',
        datacenter: this.o.datacenter,
        node: { ID: '', Node: name, Address: '', TaggedAddresses: {}, Meta: {} },
        skipNodeUpdate: true,
        now: Date.now(),
        service: {
          ID: CONSUL_SERVICE,
          Service: CONSUL_SERVICE,
          Tags: [],
          Address: '',
          TaggedAddresses: {},
          Meta: {},
          Port: port,
          Weights: { Passing: 1, Warning: 1 },
          EnableTagOverride: false,
        },
        checks: [],
      });
    for (const name of servers) {
      const raftAddr = state.addressOf(name)?.raftAddr;
      if (!raftAddr) continue;
      const port = Number(raftAddr.slice(raftAddr.lastIndexOf(':') + 1));
      const ns = store.read((tx) => nodeServices(tx, name).value);
      if (!ns.node || ns.services.some((s) => s.ID === CONSUL_SERVICE && s.Port === port)) continue;
      await register(name, port);
    }
    const listed = store.read((tx) => serviceInstances(tx, CONSUL_SERVICE).value);
    for (const { node } of listed) {
      if (servers.includes(node.Node)) continue;
      await writer.submit({
        type: 'catalog.deregister',
        node: node.Node,
        serviceID: CONSUL_SERVICE,
        now: Date.now(),
      });
    }
  }

  /**
   * Removes a server from Raft and the member records, waiting (up to 5 s) until the removal is
   * applied here. Leader only; rejects with the driver's errors (e.g. NotLeaderError).
   */
  async removeServer(name: NodeId): Promise<void> {
    const { state, writer } = this.o;
    const d = state.driver as RaftDriver;
    const conf = d.membership();
    if (conf.voters.includes(name) || conf.learners.includes(name)) {
      await retryChange(() => d.changeMembership({ type: 'removeNode', node: name }));
      for (let i = 0; i < 100 && (d.membership().voters.includes(name) || d.membership().learners.includes(name)); i++)
        await sleep(50);
    }
    if (state.isLeader()) await writer.submit({ type: 'member.remove', name }).catch(() => undefined);
  }

  /** Autopilot: removes voters unreachable for DeadServerLastContactThreshold, never below quorum. */
  private async cleanupDeadServers(): Promise<void> {
    const { state, store, logger } = this.o;
    const d = state.driver as RaftDriver;
    const cfg = store.read(readAutopilotConfig);
    if (!cfg.CleanupDeadServers) return;
    const threshold = parseDuration(cfg.DeadServerLastContactThreshold) ?? 300_000;
    const voters = d.membership().voters;
    const health = this.o.health.report().Servers;
    // With half or more of the voters failing, this may be a partition, not dead servers: wait.
    if (health.filter((s) => s.Voter && s.Healthy).length * 2 <= voters.length) return;
    for (const name of voters) {
      if (name === state.self.name) continue;
      const heard = state.raftHeardAt(name) ?? state.leaderSince;
      if (Date.now() - heard < threshold) continue;
      const remaining = voters.length - 1;
      const healthyRemaining = health.filter((s) => s.Voter && s.Healthy && s.Name !== name).length;
      if (
        remaining < Math.max(cfg.MinQuorum, 1) ||
        healthyRemaining < quorum({ voters: voters.filter((v) => v !== name), learners: [] })
      )
        continue;
      logger.warn('autopilot removing dead server', { server: name, unreachable_ms: Date.now() - heard });
      await this.removeServer(name);
      return;
    }
  }

  /** The leader marks the node health check of unreachable members critical (and back). */
  private async reconcileNodeHealth(): Promise<void> {
    const { state, store, writer } = this.o;
    for (const s of this.o.health.report().Servers) {
      if (s.Name === state.self.name) continue;
      const check = store.read((tx) => nodeChecks(tx, s.Name).find((c) => c.CheckID === NODE_CHECK_ID));
      if (!check) continue;
      const heard = state.heardAt(s.Name);
      const alive = Date.now() - heard < 10_000 || Date.now() - state.leaderSince < 10_000;
      const want = alive ? 'passing' : 'critical';
      if (check.Status === want || (alive && check.Status !== 'critical')) continue;
      await writer.submit({
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
}

/** Membership changes go one at a time: retries (up to 5 s) while the previous one is still being applied. */
async function retryChange(fn: () => Promise<void>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof KonsulError && err.code === 'conflict') || i >= 100) throw err;
      await sleep(50);
    }
  }
}
