import type { ApplyResult } from '../fsm/state-machine.js';
import type { TraceSpan } from '../ports/tracing.js';

/** The spans of a traced proposal: "raft replicate" until committed, then "raft apply". */
export interface ProposalTrace {
  readonly replicate: TraceSpan;
  apply: TraceSpan | undefined;
  /** The write's span (traceparent) both are children of. */
  readonly parent: string;
}

/** A proposal waiting for its entry to be applied. */
export interface ProposalWaiter {
  readonly term: number;
  /** The proposal's spans when its write is traced (the driver opens and ends them). */
  readonly trace?: ProposalTrace;
  readonly deadline: number;
  readonly resolve: (r: ApplyResult) => void;
  readonly reject: (e: unknown) => void;
}

/** A ReadIndex request waiting for its read index, then for that index to be applied. */
export interface ReadWaiter {
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  /** The leader asked for the read point (this node, when it led). */
  readonly leader?: string | undefined;
  /** Set once Raft confirmed the read (its ReadState). */
  index?: number;
}

/**
 * Requests waiting on the Raft driver, keyed by proposal index or read context, each with a
 * deadline. Every request is created with the same timeout, in time order, so the deadlines of
 * one kind come in order: a FIFO of (deadline, key) finds the expired ones without a timer per
 * request. Bounded by the driver's maxPending.
 */
export class Waiters {
  readonly proposals = new Map<number, ProposalWaiter>();
  readonly reads = new Map<string, ReadWaiter>();
  private proposalOrder: Array<[number, number]> = [];
  private readOrder: Array<[number, string]> = [];

  /** Number of proposals and reads waiting. */
  get size(): number {
    return this.proposals.size + this.reads.size;
  }

  /** Registers a proposal at `index`; a later proposal at the same index replaces it (failing it). */
  addProposal(index: number, w: ProposalWaiter, superseded: () => unknown): void {
    this.proposals.get(index)?.reject(superseded());
    this.proposals.set(index, w);
    this.proposalOrder.push([w.deadline, index]);
  }

  /** Registers a read under `context` (unique per driver). */
  addRead(context: string, w: ReadWaiter): void {
    this.reads.set(context, w);
    this.readOrder.push([w.deadline, context]);
  }

  /** Removes and returns the proposal waiting at `index`. */
  takeProposal(index: number): ProposalWaiter | undefined {
    const w = this.proposals.get(index);
    if (w) this.proposals.delete(index);
    return w;
  }

  /** Whether a read round still waits for its read point (the leader's confirmation). */
  hasUnconfirmedRead(): boolean {
    for (const r of this.reads.values()) if (r.index === undefined) return true;
    return false;
  }

  /** Resolves every confirmed read whose index is at most `applied`. */
  resolveReads(applied: number): void {
    for (const [ctx, r] of this.reads) {
      if (r.index === undefined || r.index > applied) continue;
      this.reads.delete(ctx);
      r.resolve();
    }
  }

  /**
   * Fails the reads not yet confirmed that were asked of another leader than `leader` (undefined:
   * none known now): a leader that lost its role, or lost contact, will not answer them.
   */
  failReadsNotFrom(leader: string | undefined, err: () => unknown): void {
    for (const [ctx, r] of this.reads) {
      if (r.index !== undefined || (leader !== undefined && r.leader === leader)) continue;
      this.reads.delete(ctx);
      r.reject(err());
    }
  }

  /** Fails requests whose deadline is before `now` with the error `make` gives for each kind. */
  expire(now: number, proposalError: () => unknown, readError: () => unknown): void {
    while (this.proposalOrder.length > 0 && (this.proposalOrder[0] as [number, number])[0] <= now) {
      const [deadline, index] = this.proposalOrder.shift() as [number, number];
      const w = this.proposals.get(index);
      if (w && w.deadline === deadline) {
        this.proposals.delete(index);
        w.reject(proposalError());
      }
    }
    while (this.readOrder.length > 0 && (this.readOrder[0] as [number, string])[0] <= now) {
      const [, ctx] = this.readOrder.shift() as [number, string];
      const r = this.reads.get(ctx);
      if (r) {
        this.reads.delete(ctx);
        r.reject(readError());
      }
    }
    // Entries of requests answered before their deadline stay in the FIFOs until then; trim them
    // when they outnumber the live requests, so the FIFOs stay bounded by maxPending.
    if (this.proposalOrder.length > 2 * this.proposals.size + 1024) {
      this.proposalOrder = this.liveOrder(this.proposalOrder, this.proposals);
    }
    if (this.readOrder.length > 2 * this.reads.size + 1024) {
      this.readOrder = this.liveOrder(this.readOrder, this.reads);
    }
  }

  /** Fails every waiting request with `err`. */
  failAll(err: unknown): void {
    for (const p of this.proposals.values()) p.reject(err);
    for (const r of this.reads.values()) r.reject(err);
    this.proposals.clear();
    this.reads.clear();
    this.proposalOrder = [];
    this.readOrder = [];
  }

  private liveOrder<K>(order: Array<[number, K]>, live: Map<K, { deadline: number }>): Array<[number, K]> {
    return order.filter(([deadline, key]) => live.get(key)?.deadline === deadline);
  }
}
