import { KonsulError, OverloadedError, ShuttingDownError, StorageError } from '../errors.js';
import type { Applier } from '../fsm/applier.js';
import type { ApplyResult, CommittedEntry } from '../fsm/state-machine.js';
import type { Committer } from './committer.js';

/** Bounds of the single-node committer; each must be a positive integer. */
export interface CommitterLimits {
  /** Proposals waiting to be committed; more are refused with OverloadedError. */
  readonly maxPendingProposals: number;
  /** Entries per commit transaction. */
  readonly maxBatchEntries: number;
  /** Encoded bytes per commit transaction (a single larger entry still forms its own batch). */
  readonly maxBatchBytes: number;
}

/** Defaults suited to a small server. */
export const DEFAULT_COMMITTER_LIMITS: CommitterLimits = {
  maxPendingProposals: 16_384,
  maxBatchEntries: 1_024,
  maxBatchBytes: 8 * 1024 * 1024,
};

interface Pending {
  readonly data: Uint8Array;
  readonly resolve: (r: ApplyResult) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Commits proposals on a single node with group commit: proposals that arrive while a batch is
 * being made durable are committed together in the next transaction. Indexes are assigned in
 * arrival order and are contiguous with the store's applied index.
 */
export class SingleNodeCommitter implements Committer {
  private readonly queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private closed = false;
  /** Last index handed out; undefined until read from the store (and after a failed commit). */
  private lastIndex: number | undefined;

  constructor(
    private readonly applier: Applier,
    private readonly limits: CommitterLimits = DEFAULT_COMMITTER_LIMITS,
  ) {
    for (const [name, v] of Object.entries(limits)) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer`);
    }
  }

  propose(data: Uint8Array): Promise<ApplyResult> {
    if (this.closed) return Promise.reject(new ShuttingDownError('write pipeline'));
    if (this.queue.length >= this.limits.maxPendingProposals) {
      return Promise.reject(new OverloadedError(`too many pending writes (limit ${this.limits.maxPendingProposals})`));
    }
    return new Promise<ApplyResult>((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.draining;
  }

  private async drain(): Promise<void> {
    // Let proposals made in the same turn join the first batch.
    await Promise.resolve();
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        const first = (this.lastIndex ??= this.applier.appliedIndex()) + 1;
        const entries: CommittedEntry[] = batch.map((p, i) => ({ index: first + i, data: p.data }));
        try {
          const results = await this.applier.apply(entries);
          this.lastIndex = first + entries.length - 1;
          results.forEach((r, i) => batch[i]?.resolve(r));
        } catch (err) {
          this.lastIndex = undefined;
          const failure = err instanceof KonsulError ? err : new StorageError('commit failed', err);
          for (const p of batch) p.reject(failure);
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private takeBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && n < this.limits.maxBatchEntries) {
      const size = (this.queue[n] as Pending).data.byteLength;
      if (n > 0 && bytes + size > this.limits.maxBatchBytes) break;
      bytes += size;
      n++;
    }
    return this.queue.splice(0, n);
  }
}
