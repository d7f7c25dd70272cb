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
