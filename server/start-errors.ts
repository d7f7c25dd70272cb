import { KonsulError } from '../core/errors.js';

/**
 * The server cannot start because of what a flag names: an address it cannot listen on, a data
 * dir that is locked or cannot be created, a file that cannot be read or does not parse. `flag`
 * is the flag ("--http-addr") and `value` its value; the message names both, on one line (the
 * CLI prints it as it is and exits 1). A SIGHUP reload that reads a bad certificate raises it too.
 */
export class StartupError extends KonsulError {
  constructor(
    readonly flag: string,
    readonly value: string,
    message: string,
  ) {
    super('config', message.replace(/\s*\n\s*/g, ' '));
  }
}

/** What common socket and file error codes mean, for people. */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
};

/**
 * The errno code of a failed system call ("EADDRINUSE"), also when an adapter wrapped it in a
 * KonsulError whose message ends with the code (runtimes/node/http-server.ts does).
 */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause !== undefined && cause !== err) {
    const inner = errnoOf(cause);
    if (inner) return inner;
  }
  return err instanceof Error ? /\b(E[A-Z][A-Z_]+)$/.exec(err.message)?.[1] : undefined;
}

/** "address in use (EADDRINUSE)", or the error's message when it has no errno code. */
export function describeFailure(err: unknown): string {
  const code = errnoOf(err);
  if (code) return ERRNO_TEXT[code] ? `${ERRNO_TEXT[code]} (${code})` : code;
  return err instanceof Error ? err.message : String(err);
}

/** `cannot listen on --http-addr 127.0.0.1:8500: address in use (EADDRINUSE)`. */
export function listenFailed(flag: string, addr: string, err: unknown): StartupError {
  return new StartupError(flag, addr, `cannot listen on ${flag} ${addr}: ${describeFailure(err)}`);
}

/** `cannot read --tls-cert ./cert.pem: no such file or directory (ENOENT)`. */
export function readFailed(flag: string, path: string, err: unknown): StartupError {
  return new StartupError(flag, path, `cannot read ${flag} ${path}: ${describeFailure(err)}`);
}
