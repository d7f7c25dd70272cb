import { CorruptError } from '../../core/errors.js';
import { type Command, encodeCommand, field } from '../../core/fsm/command.js';
import type { ApplyContext, StateModule } from '../../core/fsm/state-machine.js';
import type { ReadTxn } from '../../core/ports/state-store.js';

/** The simulator's state table: one register per key. */
export const SIM_KV_TABLE = 'sim_kv';

/** A client write of the simulation: put, or compare-and-set on the register's current value. */
export type RegisterCommand =
  | { readonly type: 'sim.put'; readonly id: string; readonly key: string; readonly value: string }
  | {
      readonly type: 'sim.cas';
      readonly id: string;
      readonly key: string;
      readonly expect: string | null;
      readonly value: string;
    };

/** Encodes a client write as a replicated command. */
export function encodeRegisterCommand(c: RegisterCommand): Uint8Array {
  return encodeCommand(c);
}

/** The register's value in a read view (null when unset). */
export function readRegister(tx: ReadTxn, key: string): string | null {
  return tx.get<string>(SIM_KV_TABLE, key) ?? null;
}

function expectField(cmd: Command): string | null {
  const v = cmd['expect'];
  if (v === null || typeof v === 'string') return v;
  throw new CorruptError(`${cmd.type}: field expect must be a string or null`);
}

/**
 * The simulator's state machine module: registers under string keys, written by `sim.put`
 * (result true) and `sim.cas` (result whether the current value equalled `expect`). It runs
 * through the production StateMachine, Applier, snapshot dump and restore, like the KV module.
 */
export const registerModule: StateModule = {
  tables: [SIM_KV_TABLE],
  handlers: {
    'sim.put': {
      apply(ctx: ApplyContext, cmd: Command) {
        ctx.tx.put(SIM_KV_TABLE, field.string(cmd, 'key'), field.string(cmd, 'value'));
        return true;
      },
    },
    'sim.cas': {
      apply(ctx: ApplyContext, cmd: Command) {
        const key = field.string(cmd, 'key');
        const value = field.string(cmd, 'value');
        if (readRegister(ctx.tx, key) !== expectField(cmd)) return false;
        ctx.tx.put(SIM_KV_TABLE, key, value);
        return true;
      },
    },
  },
};
