import type { StateStore, WriteTxn } from '../ports/state-store.js';
import type { ApplyListener, Change, IndexedChange } from '../watch/change.js';
import type { WatchRegistry } from '../watch/watch-registry.js';
import { readAppliedIndex } from './meta.js';
import type { ApplyResult, CommittedEntry, StateMachine } from './state-machine.js';

/** Entries applied inside a caller's transaction: their results, and what to announce once it commits. */
export interface StagedApply {
  readonly results: ApplyResult[];
  readonly publish: () => void;
}

/**
 * Applies committed entries to the state store, one atomic durable transaction per call, then
 * wakes watchers of what changed and tells listeners. Shared by the single-node committer and Raft.
 */
export class Applier {
  private readonly listeners = new Set<ApplyListener>();

  /**
   * With `durability` 'committed' (under Raft, whose log is durable and replayed after a crash)
   * applying does not wait for a flush; the single-node committer needs 'durable'.
   */
  constructor(
    private readonly store: StateStore,
    private readonly machine: StateMachine,
    private readonly watches: WatchRegistry,
    private readonly durability: 'durable' | 'committed' = 'durable',
  ) {}

  /** The index of the last applied entry, as persisted. */
  appliedIndex(): number {
    return this.store.read(readAppliedIndex);
  }

  /**
   * Applies `entries` (contiguous, starting at appliedIndex()+1) atomically, in its own
   * transaction (durable or committed, as constructed). Resolves with one result per entry, in
   * order. Rejects, having applied nothing, if the store fails or a handler has a bug.
   */
  async apply(entries: readonly CommittedEntry[]): Promise<ApplyResult[]> {
    const staged = await this.store.write((tx) => this.stage(tx, entries), this.durability);
    staged.publish();
    return staged.results;
  }

  /**
   * Applies `entries` (contiguous, starting at appliedIndex()+1) inside the caller's write
   * transaction, so one commit can also carry other writes (Raft's log). The caller must call
   * `publish` once that transaction has committed (it wakes watchers and tells listeners), and
   * must not call it if the transaction failed.
   */
  stage(tx: WriteTxn, entries: readonly CommittedEntry[]): StagedApply {
    const changes: Change[] = [];
    const indexed: IndexedChange[] = [];
    const results = entries.map((e) =>
      this.machine.apply(tx, e, (change) => {
        changes.push(change);
        indexed.push({ index: e.index, change });
      }),
    );
    const last = entries[entries.length - 1];
    return {
      results,
      publish: () => {
        this.watches.notify(changes);
        if (last) for (const l of this.listeners) l.applied(indexed, last.index);
      },
    };
  }

  /**
   * Reports that the state was replaced wholesale at `index` (snapshot installed): every
   * blocking query wakes and listeners learn that earlier changes no longer apply.
   */
  replaced(index: number): void {
    this.watches.wakeAll();
    for (const l of this.listeners) l.replaced(index);
  }

  /** Adds a listener; returns a function that removes it. */
  listen(listener: ApplyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
