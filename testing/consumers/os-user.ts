// Which operating-system user runs PostgreSQL and Patroni in the consumers suite. PostgreSQL
// refuses to run as root, so a test running as root runs them as the unprivileged account the
// Debian package creates (`postgres`); anyone else runs them as themselves.
import { execFileSync } from 'node:child_process';
import { chownSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** A user and group to run a child process as. */
export interface RunAs {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Home directory from the account database. */
  readonly home: string;
}

/** Whether this process runs as root. */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * The account PostgreSQL must run as: undefined when this process is not root (run as the current
 * user), otherwise `name` from the account database. Throws, naming the account, when running as
 * root and it does not exist.
 */
export function databaseUser(name = 'postgres'): RunAs | undefined {
  if (!isRoot()) return undefined;
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      `running as root, PostgreSQL needs an unprivileged account, but there is no user ${JSON.stringify(name)} ` +
        '(the postgresql Debian package creates it)',
    );
  }
  const [, , uid, gid, , home] = line.split(':');
  return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
}

/** Gives `path` and everything under it to `user` (does nothing when user is undefined). */
export function chownTree(path: string, user: RunAs | undefined): void {
  if (!user) return;
  chownSync(path, user.uid, user.gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, user);
    else chownSync(child, user.uid, user.gid);
  }
}
