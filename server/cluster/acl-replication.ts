import type { FederationPort } from '../../core/api/federation.js';
import type { AclReplicationData } from '../../core/acl/replicate.js';
import type { Writer } from '../../core/pipeline/writer.js';
import type { Clock } from '../../core/ports/clock.js';
import type { Logger } from '../../core/ports/logger.js';

/** Consul's ACLReplicationStatus, as GET /v1/acl/replication answers it. */
export interface AclReplicationStatus {
  readonly Enabled: boolean;
  readonly Running: boolean;
  readonly SourceDatacenter: string;
  readonly ReplicationType: string;
  readonly ReplicatedIndex: number;
  readonly ReplicatedRoleIndex: number;
  readonly ReplicatedTokenIndex: number;
  readonly LastSuccess: string;
  readonly LastError: string;
  readonly LastErrorMessage: string;
}

/** Go's zero time, which Consul shows for a time never set. */
const NEVER = '0001-01-01T00:00:00Z';

/** What the replicator needs. */
export interface AclReplicatorOptions {
  /** The primary datacenter (holds the ACL data); replication runs only in the others. */
  readonly primary: string;
  readonly datacenter: string;
  readonly aclEnabled: boolean;
  readonly federation: FederationPort;
  readonly writer: Writer;
  readonly isLeader: () => boolean;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Time between rounds (ms). */
  readonly intervalMs: number;
}

/** A time as Consul shows it: UTC, whole seconds. */
const rfc3339 = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/**
 * ACL replication of a secondary datacenter (Consul's, with token replication on): while this
 * server leads, every `intervalMs` it fetches the primary's policies, roles and global tokens
 * (GET /v1/internal/acl/replicate on a primary server, with the join token) and, when the primary's
 * index moved, commits them here as one `acl.replicate` command. Tokens made in the primary are
 * then usable here. `status()` is GET /v1/acl/replication's answer.
 */
export class AclReplicator {
  private timer: ReturnType<typeof setInterval> | undefined;
  private round: Promise<void> | undefined;
  private replicatedIndex = 0;
  private lastSuccess = 0;
  private lastError = 0;
  private lastErrorMessage = '';

  constructor(private readonly o: AclReplicatorOptions) {}

  /** Whether this datacenter replicates (a secondary with ACLs on). */
  get enabled(): boolean {
    return this.o.aclEnabled && this.o.primary !== this.o.datacenter;
  }

  start(): void {
    if (!this.enabled || this.timer) return;
    this.timer = setInterval(() => void this.replicate(), this.o.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.round;
  }

  status(): AclReplicationStatus {
    const on = this.enabled;
    return {
      Enabled: on,
      Running: on && this.timer !== undefined && this.o.isLeader(),
      SourceDatacenter: on ? this.o.primary : '',
      ReplicationType: on ? 'tokens' : '',
      ReplicatedIndex: this.replicatedIndex,
      ReplicatedRoleIndex: this.replicatedIndex,
      ReplicatedTokenIndex: this.replicatedIndex,
      LastSuccess: this.lastSuccess ? rfc3339(this.lastSuccess) : NEVER,
      LastError: this.lastError ? rfc3339(this.lastError) : NEVER,
      LastErrorMessage: this.lastErrorMessage,
    };
  }

  /** One round (single-flight); only the leader replicates. */
  replicate(): Promise<void> {
    this.round ??= this.replicateOnce().finally(() => (this.round = undefined));
    return this.round;
  }

  private async replicateOnce(): Promise<void> {
    if (!this.o.isLeader()) return;
    try {
      const res = await this.o.federation.internal(this.o.primary, '/v1/internal/acl/replicate');
      if (res.status !== 200) throw new Error(`the primary answered ${res.status}: ${res.body.slice(0, 200)}`);
      const data = JSON.parse(res.body) as AclReplicationData;
      if (data.Index !== this.replicatedIndex) {
        const r = await this.o.writer.submit({ type: 'acl.replicate', data, now: this.o.clock.now() });
        if (this.replicatedIndex === 0 || JSON.stringify(r.value) !== '{"policies":0,"roles":0,"tokens":0}')
          this.o.logger.info('ACL data replicated from the primary datacenter', {
            primary: this.o.primary,
            index: data.Index,
            changed: JSON.stringify(r.value),
          });
        this.replicatedIndex = data.Index;
      }
      this.lastSuccess = this.o.clock.now();
    } catch (err) {
      this.lastError = this.o.clock.now();
      this.lastErrorMessage = (err as Error).message;
      this.o.logger.warn('ACL replication failed', { primary: this.o.primary, error: this.lastErrorMessage });
    }
  }
}
