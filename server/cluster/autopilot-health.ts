import type { ServerHealthInfo } from '../../core/api/context.js';
import { readAutopilotConfig } from '../../core/cluster/autopilot.js';
import type { StateStore } from '../../core/ports/state-store.js';
import { quorum } from '../../core/raft/conf-change.js';
import type { NodeId } from '../../core/raft/types.js';
import { parseDuration } from '../../core/util/duration.js';
import type { ClusterState } from './state.js';

/** Autopilot's verdict on the cluster, in Consul's /v1/operator/autopilot/health shape. */
export interface AutopilotReport {
  readonly Healthy: boolean;
  readonly FailureTolerance: number;
  readonly Servers: ServerHealthInfo[];
}

/**
 * Judges each server in the Raft configuration healthy or not (recent raft contact, within
 * MaxTrailingLogs of the commit index) and remembers since when each has been healthy. Read by
 * the operator API and by the leader's dead-server cleanup and node-health reconciliation.
 */
export class AutopilotHealth {
  /** When each server last became healthy (ms since epoch); absent while it is not. */
  private readonly stableSince = new Map<NodeId, number>();

  constructor(
    private readonly state: ClusterState,
    private readonly store: StateStore,
    private readonly version: string,
  ) {}

  /** Every member's health now; Healthy when a quorum of voters is healthy and every server is. */
  report(): AutopilotReport {
    const d = this.state.driver;
    const conf = d?.membership() ?? { voters: [], learners: [] };
    const status = d?.status();
    const cfg = this.store.read(readAutopilotConfig);
    const contactLimit = Math.max(parseDuration(cfg.LastContactThreshold) ?? 200, 200);
    const now = Date.now();
    const servers = [...conf.voters, ...conf.learners].sort().map((name) => {
      const self = name === this.state.self.name;
      const heard = self ? now : this.state.raftHeardAt(name);
      const contact = heard === undefined ? Infinity : now - heard;
      const match = self ? (status?.lastIndex ?? 0) : (status?.match[name] ?? 0);
      const healthy = contact <= contactLimit * 5 && (status?.commit ?? 0) - match <= cfg.MaxTrailingLogs;
      if (!healthy) this.stableSince.delete(name);
      else if (!this.stableSince.has(name)) this.stableSince.set(name, now);
      return {
        ID: name,
        Name: name,
        Address: this.state.addressOf(name)?.raftAddr ?? '',
        SerfStatus: healthy ? 'alive' : 'failed',
        Version: this.version,
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
