import type { Message } from '../raft/types.js';

/**
 * How a Raft node's messages leave it. Delivery is best effort: messages may be dropped,
 * duplicated, delayed or reordered, and Raft retransmits what matters. `send` never throws and
 * never calls back into the sender synchronously; messages for one peer should keep their order
 * where the medium allows (a TCP connection, the simulator's network).
 * Incoming messages are handed to the receiving driver (RaftDriver.receive) by the transport's owner.
 */
export interface Transport {
  send(messages: readonly Message[]): void;
}
