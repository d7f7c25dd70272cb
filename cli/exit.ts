import { KonsulError } from '../core/errors.js';

/**
 * Ends the process with what `run` gives: its exit code; for a configuration error, the message
 * and 2; for anything else, the stack and 1.
 */
export function exitWith(run: Promise<number>): void {
  run.then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof KonsulError && err.code === 'config') {
        process.stderr.write(`konsul: ${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`konsul: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
