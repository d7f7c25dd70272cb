import { decode, encode } from '@msgpack/msgpack';
import { CorruptError } from '../errors.js';
import type { ConfChange, ConfState, NodeId } from './types.js';

/** Encodes a membership change as the data of a 'conf' entry. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encode({ type: cc.type, node: cc.node });
}

/** Decodes a 'conf' entry's data. Throws CorruptError when it is not a ConfChange. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  let v: unknown;
  try {
    v = decode(data);
  } catch (err) {
    throw new CorruptError(`undecodable conf change: ${(err as Error).message}`);
  }
  const cc = v as Partial<ConfChange> | null;
  if (
    !cc ||
    typeof cc.node !== 'string' ||
    cc.node.length === 0 ||
    !['addVoter', 'addLearner', 'removeNode'].includes(cc.type as string)
  ) {
    throw new CorruptError('malformed conf change');
  }
  return { type: cc.type as ConfChange['type'], node: cc.node };
}

/** The membership after applying `cc` to `conf` (idempotent: re-applying changes nothing). */
export function applyToConf(conf: ConfState, cc: ConfChange): ConfState {
  const voters = conf.voters.filter((n) => n !== cc.node);
  const learners = conf.learners.filter((n) => n !== cc.node);
  if (cc.type === 'addVoter') voters.push(cc.node);
  if (cc.type === 'addLearner') learners.push(cc.node);
  return { voters: voters.sort(), learners: learners.sort() };
}

/** Whether `id` is a voter of `conf`. */
export function isVoter(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id);
}

/** Votes needed for a majority of `conf`'s voters. */
export function quorum(conf: ConfState): number {
  return Math.floor(conf.voters.length / 2) + 1;
}
