/**
 * How a node's messages leave it (for Raft: `Transport<Message>`). Delivery is best effort:
 * messages may be dropped, duplicated, delayed or reordered, and the protocol retransmits what
 * matters. `send` never throws and never calls back into the sender synchronously; messages for
 * one peer should keep their order where the medium allows (a TCP connection, the simulator's
 * network). Incoming messages are handed to the receiver (RaftDriver.receive) by the transport's owner.
 */
export interface Transport<M> {
  send(messages: readonly M[]): void;
}
