import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { cleanupAll, startProcess, tempDir, track } from './process.js';

/** Path of the built CLI (npm test builds it first). */
export const CLI = resolve(import.meta.dirname, '../dist/cli.js');

/** A Konsul server process started by a test. */
export interface SpawnedServer {
  readonly proc: ChildProcess;
  readonly dataDir: string;
  /** "http://127.0.0.1:PORT". */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The raft transport's "host:port". */
  readonly raftAddr: string;
  /** The DNS server's "host:port", or "off". */
  readonly dnsAddr: string;
  /** The embedded MQTT broker's "host:port", or "off"/"external". */
  readonly mqttAddr: string;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** Resolves when the output matches `pattern` (checked as output arrives); rejects after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends a signal and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export { cleanupAll, tempDir };

/**
 * Runs the CLI to completion (for flag errors and help) and returns its exit code, its output
 * (stdout and stderr, interleaved as they arrived) and its stderr alone.
 */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done, fail) => {
    const proc = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(proc);
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => {
      out += d.toString();
      err += d.toString();
    });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      fail(new Error(`konsul ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, out, err });
    });
  });
}

/**
 * Starts `konsul server --dev` on 127.0.0.1 with a free port (port 0) and JSON logs, and waits
 * for its "server ready" line. `dataDir` defaults to a new temp dir; `nodeArgs` go to node itself
 * (e.g. --cpu-prof for profiling).
 */
export async function spawnServer(
  options: {
    dataDir?: string;
    args?: readonly string[];
    env?: Record<string, string>;
    timeoutMs?: number;
    cluster?: boolean;
    nodeArgs?: readonly string[];
  } = {},
): Promise<SpawnedServer> {
  const dataDir = options.dataDir ?? tempDir();
  // Cluster members get their addresses from the caller (they must survive restarts).
  const base = options.cluster
    ? []
    : ['--dev', '--http-addr', '127.0.0.1:0', '--raft-addr', '127.0.0.1:0', '--dns-addr', '127.0.0.1:0'];
  // A dev server gets an embedded broker on a free port unless the caller picks MQTT options.
  if (!options.cluster && !(options.args ?? []).some((a) => a === '--mqtt-addr' || a === '--mqtt-url'))
    base.push('--mqtt-addr', '127.0.0.1:0');
  const args = [
    ...(options.nodeArgs ?? []),
    CLI,
    'server',
    ...base,
    '--data-dir',
    dataDir,
    '--log-format',
    'json',
    ...(options.args ?? []),
  ];
  const p = await startProcess(process.execPath, args, {
    ready: /"@message":"server ready"[^\n]*"http":"([^"]+):(\d+)","raft":"([^"]+)","dns":"([^"]+)","mqtt":"([^"]+)"/,
    timeoutMs: options.timeoutMs ?? 20_000,
    what: 'konsul server',
    ...(options.env ? { env: options.env } : {}),
  });
  const host = p.ready[1] as string;
  const port = Number(p.ready[2]);
  return {
    ...p,
    raftAddr: p.ready[3] as string,
    dnsAddr: p.ready[4] as string,
    mqttAddr: p.ready[5] as string,
    dataDir,
    host,
    port,
    url: `http://${host}:${port}`,
  };
}

/**
 * The arguments of `konsul server --dev` on `dataDir` with every listener on a free port of
 * 127.0.0.1, then `extra`: for runCli, when a test expects the start itself to be refused.
 */
export function devServerArgs(dataDir: string, extra: readonly string[] = []): string[] {
  const free = ['--http-addr', '--raft-addr', '--dns-addr', '--mqtt-addr'].flatMap((f) => [f, '127.0.0.1:0']);
  return ['server', '--dev', ...free, '--data-dir', dataDir, ...extra];
}

/**
 * A `--dev` server at a fixed HTTP address (and MQTT address, when given), so a test can stop it
 * and start it again where edge agents expect it; raft and DNS take free ports.
 */
export function spawnDevServerAt(dataDir: string, http: string, mqtt = '127.0.0.1:0'): Promise<SpawnedServer> {
  return spawnServer({
    cluster: true,
    dataDir,
    args: [
      '--dev',
      '--http-addr',
      http,
      '--raft-addr',
      '127.0.0.1:0',
      '--dns-addr',
      '127.0.0.1:0',
      '--mqtt-addr',
      mqtt,
    ],
  });
}

/**
 * Runs a client command of the built CLI to completion with `stdin` (if given) and returns its
 * exit code, stdout and stderr apart.
 */
export function runClient(
  args: readonly string[],
  o: { env?: Record<string, string>; stdin?: string | Buffer; timeoutMs?: number; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const proc = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...(o.env ?? {}) },
      ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    track(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdin.end(o.stdin);
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      fail(new Error(`konsul ${args.join(' ')} did not exit within ${o.timeoutMs ?? 20_000} ms:\n${stdout}${stderr}`));
    }, o.timeoutMs ?? 20_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}
