// Processes of third-party programs (Patroni, PostgreSQL, Python) started by the consumers suite:
// each runs in its own process group, optionally as another user, so a test can kill -9 a program
// with everything it forked and clean up whatever is left even when a test fails.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { RunAs } from './os-user.js';

/** Most output kept per process (older output is dropped from the front). */
const MAX_OUTPUT_CHARS = 4 * 1024 * 1024;

/** A program started in a new process group (its pid is the group id). */
export interface GroupProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Everything it wrote so far (stdout and stderr interleaved), at most the last 4 MiB. */
  output(): string;
  /** Whether the group leader has exited. */
  exited(): boolean;
  /** SIGKILL to the whole process group; resolves once the leader has exited. Idempotent. */
  kill(): Promise<void>;
}

const live = new Set<GroupProcess>();

/**
 * Spawns `command args` as the leader of a new process group, as `runAs` when given (the caller
 * must be root then), with stdout and stderr captured. Registered for killAllGroups().
 */
export function spawnGroup(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string; runAs?: RunAs | undefined } = {},
): GroupProcess {
  const proc = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? { ...process.env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
  });
  if (proc.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = proc.pid;
  let out = '';
  const append = (d: Buffer): void => {
    out += d.toString();
    if (out.length > MAX_OUTPUT_CHARS) out = out.slice(out.length - MAX_OUTPUT_CHARS);
  };
  proc.stdout?.on('data', append);
  proc.stderr?.on('data', append);
  let done = false;
  const exited = new Promise<void>((res) => {
    proc.once('exit', () => {
      done = true;
      res();
    });
    proc.once('error', (err) => {
      append(Buffer.from(`\n[spawn error] ${String(err)}\n`));
      done = true;
      res();
    });
  });
  const handle: GroupProcess = {
    proc,
    pid,
    output: () => out,
    exited: () => done,
    kill: async () => {
      if (!done) killGroup(pid);
      await exited;
      live.delete(handle);
    },
  };
  live.add(handle);
  void exited.then(() => live.delete(handle));
  return handle;
}

/** The process group of `pid`, or undefined when no such process is alive (zombies count as dead). */
export function processGroupOf(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp ..." where comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  const pgrp = Number(fields[2]);
  return Number.isInteger(pgrp) && pgrp > 1 ? pgrp : undefined;
}

/** Whether `pid` is a live process (not a zombie). */
export function isAlive(pid: number): boolean {
  return processGroupOf(pid) !== undefined;
}

const ownGroup = processGroupOf(process.pid);

/**
 * Sends SIGKILL to the process group that `pid` belongs to (never to this test process's own
 * group). Returns false when the process is already gone.
 */
export function killGroupOf(pid: number): boolean {
  const pgrp = processGroupOf(pid);
  if (pgrp === undefined || pgrp === ownGroup) return false;
  return killGroup(pgrp);
}

function killGroup(pgrp: number): boolean {
  try {
    process.kill(-pgrp, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/** Polls until none of `pids` is alive; throws after `timeoutMs` naming the survivors. */
export async function waitForExit(pids: readonly number[], timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0) return;
    if (Date.now() > end) throw new Error(`processes still alive after SIGKILL: ${alive.join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Kills (with their process groups) every process whose command line mentions `dir`: the safety
 * net for programs that detach from the group they were started in (Patroni starts the postmaster
 * in a session of its own). `dir` must be a path unique to this test run, such as its temp dir.
 */
export function killProcessesMentioning(dir: string): number[] {
  if (dir.length < 8) throw new Error(`refusing to match processes on the short path ${JSON.stringify(dir)}`);
  const killed: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.split('\0').some((arg) => arg.includes(dir)) && killGroupOf(pid)) killed.push(pid);
  }
  return killed;
}

/** Kills every group started by spawnGroup() that is still running; call from afterAll. */
export async function killAllGroups(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}
