import { readFileSync } from 'node:fs';
import { CliError } from './errors.js';

/**
 * The bytes of the file at `path`, or a CliError "cannot read [the <what> ]<path>: <code>" ending
 * the command with `exitCode` (2 when the file was named by a flag or argument of the command).
 */
export function readFileOrFail(path: string, what: string | undefined, exitCode: 1 | 2 = 1): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new CliError(`cannot read ${what ? `the ${what} ` : ''}${path}: ${why}`, exitCode);
  }
}
