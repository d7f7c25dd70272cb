import type { Logger } from '../core/ports/logger.js';
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

  constructor(
    private readonly replica: Replica,
    private readonly persist: (delta: ReplicaDelta) => Promise<void>,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** Applies one message; resolves after the replica changed in memory (persistence is queued). */
  async apply(m: SyncMessage): Promise<SinkOutcome> {
    this.lastMessageAt = this.now();
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
