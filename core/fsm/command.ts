import { pack, unpack } from '../util/msgpack.js';
import { CorruptError, TooLargeError } from '../errors.js';

/**
 * A state-changing command, replicated as msgpack bytes. `type` names its handler
 * ("kv.set", …); the other fields belong to that handler and are validated when applied.
 */
export interface Command {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** Largest encoded command accepted (bytes): a 512 KiB value plus generous room for fields. */
export const MAX_COMMAND_BYTES = 4 * 1024 * 1024;

/** Any typed command record that can be encoded (a Command, or a handler's own command type). */
export type CommandInput = { readonly type: string };

/** Encodes a command to msgpack. Throws TooLargeError above MAX_COMMAND_BYTES. */
export function encodeCommand<C extends CommandInput>(command: C): Uint8Array {
  const bytes = pack(command);
  if (bytes.byteLength > MAX_COMMAND_BYTES) {
    throw new TooLargeError(`command of ${bytes.byteLength} bytes exceeds ${MAX_COMMAND_BYTES}`);
  }
  return bytes;
}

/** Decodes msgpack bytes into a command record. Throws CorruptError if it is not one. */
export function decodeCommand(bytes: Uint8Array): Command {
  let value: unknown;
  try {
    value = unpack(bytes);
  } catch (err) {
    throw new CorruptError(`undecodable command: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CorruptError('command is not a map');
  }
  const type = (value as Record<string, unknown>)['type'];
  if (typeof type !== 'string' || type.length === 0) {
    throw new CorruptError('command has no type');
  }
  return value as Command;
}

/** Field readers used by command validators; each throws CorruptError naming the field. */
export const field = {
  string(cmd: Command, name: string): string {
    const v = cmd[name];
    if (typeof v !== 'string') throw new CorruptError(`${cmd.type}: field ${name} must be a string`);
    return v;
  },
  bytes(cmd: Command, name: string): Uint8Array {
    const v = cmd[name];
    if (!(v instanceof Uint8Array)) throw new CorruptError(`${cmd.type}: field ${name} must be bytes`);
    return v;
  },
  index(cmd: Command, name: string): number {
    const v = cmd[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new CorruptError(`${cmd.type}: field ${name} must be a non-negative integer`);
    }
    return v;
  },
};
