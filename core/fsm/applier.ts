import type { StateStore } from '../ports/state-store.js';
import type { Change } from '../watch/change.js';
import type { WatchRegistry } from '../watch/watch-registry.js';
import { readAppliedIndex } from './meta.js';
import type { ApplyResult, CommittedEntry, StateMachine } from './state-machine.js';

/**
 * Applies committed entries to the state store, one atomic durable transaction per call, then
 * wakes watchers of what changed. Shared by the single-node committer and Raft.
 */
export class Applier {
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
   * Applies `entries` (contiguous, starting at appliedIndex()+1) atomically and durably.
   * Resolves with one result per entry, in order. Rejects, having applied nothing, if the
   * store fails or a handler has a bug.
   */
  async apply(entries: readonly CommittedEntry[]): Promise<ApplyResult[]> {
    const changes: Change[] = [];
    const record = (c: Change): void => {
      changes.push(c);
    };
    const results = await this.store.write((tx) => entries.map((e) => this.machine.apply(tx, e, record)), this.durability);
    this.watches.notify(changes);
    return results;
  }
}
