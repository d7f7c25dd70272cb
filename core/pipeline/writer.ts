import type { CommandInput } from '../fsm/command.js';

/** The result of a write: the index it was committed at and the command's result value. */
export interface WriteResult<T> {
  readonly index: number;
  readonly value: T;
}

/**
 * Where the API's writes go. `submit` resolves with the command's result once it is committed
 * and applied; rejects with the command's own KonsulError when it failed when applied (state
 * unchanged), or with the reason it could not be committed. On a server this is the
 * WritePipeline (Raft); an edge agent's writer refuses, because every write there goes upstream
 * before a route handler runs (the route table sends it).
 */
export interface Writer {
  submit<T, C extends CommandInput = CommandInput>(command: C): Promise<WriteResult<T>>;
}
