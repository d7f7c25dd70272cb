import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** What writing a render did. */
export type WriteOutcome = 'unchanged' | 'written';

/**
 * Writes `content` to `path` as consul-template does: not at all when the file already holds it;
 * otherwise to a temporary file in the same directory, given the existing file's mode (or 0644),
 * then renamed over it, so readers see the old or the new file, never a part. With `backup`, the
 * old file is copied to `<path>.bak` first.
 */
export function writeRendered(path: string, content: string, o: { backup?: boolean } = {}): WriteOutcome {
  const exists = existsSync(path);
  if (exists && readFileSync(path, 'utf8') === content) return 'unchanged';
  const mode = exists ? statSync(path).mode & 0o7777 : 0o644;
  if (exists && o.backup) copyFileSync(path, `${path}.bak`);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
  return 'written';
}

/** How a command after a render ended. */
export interface CommandOutcome {
  readonly code: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  /** Its output (stdout and stderr), the last 64 KiB. */
  readonly output: string;
}

/** Most output of a command kept (the tail). */
const MAX_COMMAND_OUTPUT = 64 * 1024;

/**
 * Runs `command` with `sh -c` (as consul-template runs a template's command), killing its process
 * group after `timeoutMs` (SIGTERM, then SIGKILL 2 s later).
 */
export function runCommand(command: string, timeoutMs: number): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    // Its own process group, so a timeout ends what it started too (a shell's children hold its pipes).
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const kill = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // Already gone.
      }
    };
    let output = '';
    const take = (d: Buffer) => {
      output = (output + d.toString()).slice(-MAX_COMMAND_OUTPUT);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    let timedOut = false;
    let hard: ReturnType<typeof setTimeout> | undefined;
    const soft = setTimeout(() => {
      timedOut = true;
      kill('SIGTERM');
      hard = setTimeout(() => kill('SIGKILL'), 2000);
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(soft);
      resolve({ code: null, signal: null, timedOut, output: `${output}${err.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(soft);
      if (hard) clearTimeout(hard);
      resolve({ code, signal, timedOut, output });
    });
  });
}
