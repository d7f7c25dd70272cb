import type { ApplyResult } from '../fsm/state-machine.js';

/**
 * Orders proposed commands, commits them and applies them. The single-node committer stands in
 * for Raft; a Raft-backed committer implements the same contract.
 */
export interface Committer {
  /**
   * Proposes an encoded command. Resolves once it is committed, applied and durable, with its
   * index and result. Rejects with OverloadedError when the proposal queue is full,
   * ShuttingDownError after close(), NoLeaderError when no leader can take it, or StorageError.
   */
  propose(data: Uint8Array): Promise<ApplyResult>;
  /** Stops accepting proposals and waits for those already accepted to finish. */
  close(): Promise<void>;
}
