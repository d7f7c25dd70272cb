import { type CommandInput, encodeCommand } from '../fsm/command.js';
import type { Committer } from './committer.js';
import type { Writer, WriteResult } from './writer.js';

export type { WriteResult } from './writer.js';

/**
 * The entry point for every state change: encodes a command (msgpack), proposes it to the
 * committer and returns its result once it is committed, applied and durable.
 */
export class WritePipeline implements Writer {
  constructor(private readonly committer: Committer) {}

  /**
   * Submits `command`. Resolves with its result; rejects with the command's own KonsulError when
   * it failed when applied (state unchanged), or with the committer's errors (not applied).
   */
  async submit<T, C extends CommandInput = CommandInput>(command: C): Promise<WriteResult<T>> {
    const result = await this.committer.propose(encodeCommand(command));
    if (!result.ok) throw result.error;
    return { index: result.index, value: result.value as T };
  }
}
