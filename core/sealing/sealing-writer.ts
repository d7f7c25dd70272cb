import type { CommandInput } from '../fsm/command.js';
import type { KvCommand } from '../kv/commands.js';
import type { Writer, WriteResult } from '../pipeline/writer.js';
import type { TxnCommand, TxnOp } from '../txn/types.js';
import type { Secrets } from './secrets.js';

const VALUE_COMMANDS = new Set(['kv.set', 'kv.cas', 'kv.lock', 'kv.unlock']);

/**
 * A Writer that seals KV values before they are proposed (docs/SECRETS.md): every value of a
 * `kv.set`, `kv.cas`, `kv.lock`, `kv.unlock` and of a transaction's KV operations that
 * `secrets.sealsWrite` selects is replaced by its envelope under the primary key, so the Raft log,
 * the state, snapshots, the change feed and edge replicas only ever carry ciphertext. Every write
 * path of a server goes through it (KV and txn routes, MQTT device writes). Other commands pass
 * unchanged. Rejects with MissingKeyError when this server lacks the primary key.
 */
export class SealingWriter implements Writer {
  constructor(
    private readonly inner: Writer,
    private readonly secrets: Secrets,
  ) {}

  async submit<T, C extends CommandInput = CommandInput>(command: C): Promise<WriteResult<T>> {
    return this.inner.submit<T>(await this.sealCommand(command));
  }

  private async sealCommand(command: CommandInput): Promise<CommandInput> {
    if (this.secrets.keyring === undefined) return command;
    if (VALUE_COMMANDS.has(command.type)) {
      const c = command as Extract<KvCommand, { value: Uint8Array }>;
      if (!this.secrets.sealsWrite(c.key, c.value)) return command;
      const sealed: KvCommand = { ...c, value: await this.secrets.seal(c.key, c.value) };
      return sealed;
    }
    if (command.type === 'txn') {
      const c = command as TxnCommand;
      if (!c.ops.some((op) => this.sealsOp(op))) return command;
      const ops = await Promise.all(
        c.ops.map(async (op): Promise<TxnOp> => {
          if (!this.sealsOp(op) || op.kind !== 'kv') return op;
          return { ...op, value: await this.secrets.seal(op.key, op.value) };
        }),
      );
      const sealed: TxnCommand = { ...c, ops };
      return sealed;
    }
    return command;
  }

  private sealsOp(op: TxnOp): boolean {
    if (op.kind !== 'kv') return false;
    if (op.verb !== 'set' && op.verb !== 'cas' && op.verb !== 'lock' && op.verb !== 'unlock') return false;
    return this.secrets.sealsWrite(op.key, op.value);
  }
}
