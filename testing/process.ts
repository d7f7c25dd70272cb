import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A long-running child process started by a test (a server, an agent, a broker). */
export interface TestProcess {
  readonly proc: ChildProcess;
  /** The capture groups of the ready pattern. */
  readonly ready: RegExpExecArray;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** Resolves when the output matches `pattern` (checked as output arrives); rejects after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends a signal (if still running) and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();

/** A fresh temporary directory, removed by cleanupAll(). */
export function tempDir(prefix = 'konsul-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** Debian's libfaketime (package faketime), preloaded to give a process a clock of its own. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/**
 * Throws, naming the Debian package that provides it, when `program` is not on PATH (or is not an
 * existing path), so a test without it fails with that message instead of an unhandled spawn error.
 * `npm test` installs these packages first (testing/system-packages.mjs).
 */
export function requireProgram(program: string, debianPackage: string): void {
  if (spawnSync('sh', ['-c', `command -v "$0"`, program], { stdio: 'ignore' }).status === 0) return;
  throw new Error(
    `${program} is not installed: install the Debian package ${debianPackage} ` +
      `(apt-get install -y ${debianPackage}; npm test does it when run as root)`,
  );
}

/** Registers a child process so cleanupAll() kills it if the test did not. */
export function track(proc: ChildProcess): void {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
}

/**
 * Spawns `command args` and resolves once its combined output matches `ready` (rejects, after
 * killing it, if it exits first or `timeoutMs` passes; the error carries the output).
 */
export function startProcess(
  command: string,
  args: readonly string[],
  options: { ready: RegExp; timeoutMs?: number; env?: Record<string, string>; cwd?: string; what?: string },
): Promise<TestProcess> {
  const proc = spawn(command, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  track(proc);
  const what = options.what ?? command;
  let out = '';
  // A program that cannot be started (ENOENT, EACCES) fails the start below, not the test run.
  const failedToStart = new Promise<string>((res) => proc.once('error', (err) => res(err.message)));
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((res) => proc.on('exit', (code, sig) => res(code ?? sig ?? -1)));
  const waitFor = (pattern: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> =>
    new Promise((ok, fail) => {
      const check = (): boolean => {
        const m = pattern.exec(out);
        if (!m) return false;
        clearTimeout(t);
        proc.stdout.off('data', onData);
        proc.stderr.off('data', onData);
        ok(m);
        return true;
      };
      // Listeners run after the ones above have appended the chunk.
      const onData = (): void => void check();
      const t = setTimeout(() => {
        proc.stdout.off('data', onData);
        proc.stderr.off('data', onData);
        fail(new Error(`${what}: output never matched ${pattern} within ${timeoutMs} ms:\n${out}`));
      }, timeoutMs);
      if (check()) return;
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
    });
  return new Promise((resolveReady, reject) => {
    let settled = false;
    void exited.then((code) => {
      if (settled) return;
      settled = true;
      reject(new Error(`${what} exited (${code}) before it was ready:\n${out}`));
    });
    void failedToStart.then((message) => {
      if (settled) return;
      settled = true;
      reject(new Error(`${what}: cannot start ${command}: ${message}`));
    });
    waitFor(options.ready, options.timeoutMs ?? 20_000).then(
      (ready) => {
        if (settled) return;
        settled = true;
        resolveReady({
          proc,
          ready,
          output: () => out,
          waitFor: async (pattern, timeoutMs) => void (await waitFor(pattern, timeoutMs)),
          stop: (signal = 'SIGTERM') => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            return exited;
          },
        });
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        proc.kill('SIGKILL');
        reject(err as Error);
      },
    );
  });
}

/** Kills every tracked process still running and removes every temp dir; call from afterAll. */
export async function cleanupAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (p) =>
        new Promise<void>((res) => {
          if (p.exitCode !== null || p.signalCode !== null) return res();
          p.once('exit', () => res());
          p.kill('SIGKILL');
        }),
    ),
  );
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/**
 * Polls `probe` every 50 ms until `ok` holds for its result, and returns that result; throws
 * after `timeoutMs` with `what` and the last result.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let last: T | undefined;
    let error: unknown;
    try {
      last = await probe();
      if (ok(last)) return last;
    } catch (err) {
      error = err;
    }
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}; last: ${error ? String(error) : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reserves `n` distinct free TCP ports on 127.0.0.1 (bind to 0, read, release). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
