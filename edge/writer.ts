import { KonsulError } from '../core/errors.js';
import type { Writer, WriteResult } from '../core/pipeline/writer.js';

/**
 * The edge agent's Writer. Every write an edge agent receives goes to the servers (or waits in
 * the outbox while they are unreachable) before any route handler runs: the route table marks
 * every write 'upstream' (edge/api.ts). A handler that submits a command here anyway is a bug in
 * that routing, so this refuses it with a 500 naming the command rather than dropping it.
 */
export class UpstreamOnlyWriter implements Writer {
  submit<T>(command: { readonly type: string }): Promise<WriteResult<T>> {
    return Promise.reject(
      new KonsulError('storage', `edge agent: ${command.type} reached the replica instead of the servers`),
    );
  }
}
