import { type ErrorCode, KonsulError } from '../errors.js';
import type { NodeId } from './types.js';

/** A proposal or read was refused: this node is not the leader (or is transferring leadership). */
export class NotLeaderError extends KonsulError {
  /** The leader this node knows of, if any (for forwarding). */
  readonly leader: NodeId | undefined;
  constructor(leader: NodeId | undefined, why = 'not the leader') {
    super('no_leader', leader ? `${why}; leader is ${leader}` : `${why}; no leader known`);
    this.leader = leader;
  }
}

/**
 * A proposal was refused for a reason other than leadership: too much uncommitted data
 * ('overloaded'), a membership change still pending ('conflict'), or an invalid change ('bad_request').
 */
export class ProposalRefusedError extends KonsulError {
  constructor(code: Extract<ErrorCode, 'overloaded' | 'conflict' | 'bad_request'>, message: string) {
    super(code, message);
  }
}

/**
 * A proposal was lost: another entry was committed at its index (leadership changed first), so it
 * was not applied and never will be. Safe to retry.
 */
export class ProposalDroppedError extends KonsulError {
  constructor() {
    super('no_leader', 'No cluster leader: leadership changed before the write committed; it was not applied');
  }
}

/** A proposal was not seen applied in time: it may or may not have been committed. */
export class ProposalTimeoutError extends KonsulError {
  constructor() {
    super('no_leader', 'timed out waiting for the write to commit; its outcome is unknown');
  }
}
