import { KonsulError } from '../core/errors.js';
import { currentHost, type ProcessHost } from '../runtimes/host.js';

/**
 * Ends the process with what `run` gives: its exit code; for a configuration error, the message
 * and 2; for anything else, the stack and 1. `host` is the process (default: this one's).
 */
export function exitWith(run: Promise<number>, host: Pick<ProcessHost, 'exit' | 'writeErr'> = currentHost()): void {
  run.then(
    (code) => host.exit(code),
    (err: unknown) => {
      if (err instanceof KonsulError && err.code === 'config') {
        host.writeErr(`konsul: ${err.message}\n`);
        host.exit(2);
      }
      host.writeErr(`konsul: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      host.exit(1);
    },
  );
}
