import { listMembers } from '../../core/cluster/members.js';
import type { StateStore } from '../../core/ports/state-store.js';
import type { NodeId } from '../../core/raft/types.js';
import type { RaftDriver } from '../../core/replication/driver.js';
import type { PeerInfo, RaftTransport } from '../transport.js';

/**
 * What the cluster's roles share: this server, the peers it knows with the last time each was
 * seen, and the Raft driver (replaced when formation bootstraps a new cluster). Each role keeps
 * the rest of its state to itself.
 */
export class ClusterState {
  /** The running driver; undefined before start and between a bootstrap's close and restart. */
  driver: RaftDriver | undefined;
  /** True once the cluster is stopping: background work ends and forwarding is refused. */
  stopped = false;
  /** When this server last became leader (ms since epoch; 0: never). */
  leaderSince = 0;
  /** Servers known from discovery, control requests and the member records; always holds self. */
  private readonly known = new Map<NodeId, PeerInfo>();
  /** Last time each server answered us or talked to us (discovery, control or raft). */
  private readonly lastSeen = new Map<NodeId, number>();

  constructor(
    readonly self: PeerInfo,
    private readonly transport: RaftTransport,
    private readonly store: StateStore,
  ) {
    this.known.set(self.name, self);
  }

  /** Records a peer's addresses (and tells the transport where it listens). Ignores self. */
  learn(p: PeerInfo): void {
    if (p.name === this.self.name) return;
    this.known.set(p.name, p);
    this.transport.setAddress(p.name, p.raftAddr);
  }

  /** Learns every member in the replicated member records that is not known yet. */
  learnRecordedMembers(): void {
    for (const m of this.store.read((tx) => listMembers(tx))) {
      if (!this.known.has(m.name)) this.learn({ name: m.name, raftAddr: m.raftAddr, httpAddr: m.httpAddr });
    }
  }

  /** Notes that `name` answered or talked to us just now. */
  seen(name: NodeId): void {
    this.lastSeen.set(name, Date.now());
  }

  /** The last time `name` was heard from, over raft or otherwise (ms since epoch; 0: never). */
  heardAt(name: NodeId): number {
    return Math.max(this.transport.lastHeard.get(name) ?? 0, this.lastSeen.get(name) ?? 0);
  }

  /** The last time a raft message arrived from `name` (ms since epoch), if one ever did. */
  raftHeardAt(name: NodeId): number | undefined {
    return this.transport.lastHeard.get(name);
  }

  /** Known servers (self included), in the order they were learnt. */
  knownPeers(): PeerInfo[] {
    return [...this.known.values()];
  }

  /** Names of the known servers (self included). */
  knownNames(): NodeId[] {
    return [...this.known.keys()];
  }

  /** A server's addresses from discovery or, failing that, the replicated member records. */
  addressOf(name: NodeId): PeerInfo | undefined {
    if (name === this.self.name) return this.self;
    const known = this.known.get(name);
    if (known) return known;
    const rec = this.store.read((tx) => listMembers(tx)).find((m) => m.name === name);
    return rec ? { name, raftAddr: rec.raftAddr, httpAddr: rec.httpAddr } : undefined;
  }

  /** Whether this server leads right now. */
  isLeader(): boolean {
    return this.driver?.role() === 'leader';
  }

  /** The leader's addresses, when a leader is known and its addresses are. */
  leaderInfo(): PeerInfo | undefined {
    const lead = this.driver?.leader();
    return lead === undefined ? undefined : this.addressOf(lead);
  }

  /** Whether this server is a voter or learner in the Raft configuration. */
  inCluster(): boolean {
    const conf = this.driver?.membership();
    return !!conf && (conf.voters.includes(this.self.name) || conf.learners.includes(this.self.name));
  }
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
