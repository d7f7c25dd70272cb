import type { Logger } from '../core/ports/logger.js';
import { type CounterMetric, type Metrics, NO_METRICS } from '../core/ports/metrics.js';
import { SnapshotAssembler, type SyncMessage } from '../core/sync/codec.js';
import type { Replica, ReplicaDelta } from '../core/sync/replica.js';

/** What applying a message did: nothing new, progress, or a gap the sender must fill. */
export type SinkOutcome = 'applied' | 'partial' | 'duplicate' | 'gap' | 'ignored';

/**
 * Applies sync messages to the replica (snapshot chunks are assembled first) and hands every
 * change to `persist`. Shared by the HTTP and MQTT sync clients.
 */
export class ReplicaSink {
  private readonly assembler = new SnapshotAssembler();
  /** When the last message arrived (ms, agent clock). */
  lastMessageAt = 0;
  /** The highest Raft index the servers have shown (sync messages, and answers through seen()). */
  serverIndex = 0;
  private readonly outcomes: CounterMetric;

  constructor(
    private readonly replica: Replica,
    private readonly persist: (delta: ReplicaDelta) => Promise<void>,
    private readonly logger: Logger,
    private readonly now: () => number,
    metrics: Metrics = NO_METRICS,
  ) {
    this.outcomes = metrics.counter('konsul_edge_sync_messages_total', 'Sync messages received, by outcome', [
      'outcome',
    ]);
    for (const outcome of ['applied', 'partial', 'duplicate', 'gap', 'ignored']) this.outcomes.inc({ outcome }, 0);
  }

  /** Notes an index the servers answered with (X-Consul-Index): the servers are at least there. */
  seen(index: number): void {
    if (Number.isSafeInteger(index) && index > this.serverIndex) this.serverIndex = index;
  }

  /** Applies one message; resolves after the replica changed in memory (persistence is queued). */
  async apply(m: SyncMessage): Promise<SinkOutcome> {
    const outcome = await this.applyOne(m);
    this.outcomes.inc({ outcome });
    return outcome;
  }

  private async applyOne(m: SyncMessage): Promise<SinkOutcome> {
    this.lastMessageAt = this.now();
    this.seen(m.k === 'chunk' ? m.chunk.index : m.k === 'batch' ? m.batch.index : m.k === 'done' ? m.index : 0);
    if (m.k === 'chunk') {
      const snap = this.assembler.add(m.chunk);
      if (!snap) return 'partial';
      const delta = await this.replica.applySnapshot(snap);
      this.logger.info('replica snapshot applied', {
        index: snap.index,
        keys: snap.kv.length,
        instances: snap.health.length,
      });
      void this.persist(delta);
      return 'applied';
    }
    if (m.k === 'batch') {
      const r = await this.replica.applyBatch(m.batch);
      if (!r.applied) return r.reason;
      void this.persist(r.delta);
      return 'applied';
    }
    return 'ignored';
  }
}
