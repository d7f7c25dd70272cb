import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Path of the built CLI (npm test builds it first). */
export const CLI = resolve(import.meta.dirname, '../../dist/cli.js');

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

const live = new Set<ChildProcess>();
const dirs = new Set<string>();

/** A fresh temporary directory, removed by cleanupAll(). */
export function tempDir(prefix = 'konsul-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** Runs the CLI to completion (for flag errors and help) and returns its exit code and output. */
export function runCli(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<{ code: number | null; out: string }> {
  return new Promise((done, fail) => {
    const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      fail(new Error(`konsul ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      live.delete(proc);
      done({ code, out });
    });
  });
}

/**
 * Starts `konsul server --dev` on 127.0.0.1 with a free port (port 0) and JSON logs, and waits
 * for its "server ready" line. `dataDir` defaults to a new temp dir.
 */
export function spawnServer(
  options: { dataDir?: string; args?: readonly string[]; env?: Record<string, string>; timeoutMs?: number; cluster?: boolean } = {},
): Promise<SpawnedServer> {
  const dataDir = options.dataDir ?? tempDir();
  // Cluster members get their addresses from the caller (they must survive restarts).
  const base = options.cluster ? [] : ['--dev', '--http-addr', '127.0.0.1:0', '--raft-addr', '127.0.0.1:0', '--dns-addr', '127.0.0.1:0'];
  // A dev server gets an embedded broker on a free port unless the caller picks MQTT options.
  if (!options.cluster && !(options.args ?? []).some((a) => a === '--mqtt-addr' || a === '--mqtt-url')) base.push('--mqtt-addr', '127.0.0.1:0');
  const args = [CLI, 'server', ...base, '--data-dir', dataDir, '--log-format', 'json', ...(options.args ?? [])];
  const proc = spawn(process.execPath, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  const exited = new Promise<number | string>((res) => proc.on('exit', (code, sig) => { live.delete(proc); res(code ?? sig ?? -1); }));
  return new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not become ready:\n${out}`));
    }, options.timeoutMs ?? 20_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /"@message":"server ready"[^\n]*"http":"([^"]+):(\d+)","raft":"([^"]+)","dns":"([^"]+)","mqtt":"([^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        const host = m[1] as string;
        const port = Number(m[2]);
        resolveReady({
          raftAddr: m[3] as string,
          dnsAddr: m[4] as string,
          mqttAddr: m[5] as string,
          proc,
          dataDir,
          host,
          port,
          url: `http://${host}:${port}`,
          output: () => out,
          waitFor: (pattern, timeoutMs = 10_000) =>
            new Promise<void>((ok, fail) => {
              if (pattern.test(out)) return ok();
              const check = (): void => {
                if (!pattern.test(out)) return;
                clearTimeout(t);
                proc.stdout.off('data', check);
                proc.stderr.off('data', check);
                ok();
              };
              const t = setTimeout(() => {
                proc.stdout.off('data', check);
                proc.stderr.off('data', check);
                fail(new Error(`output never matched ${pattern}:\n${out}`));
              }, timeoutMs);
              proc.stdout.on('data', check);
              proc.stderr.on('data', check);
            }),
          stop: (signal = 'SIGTERM') => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            return exited;
          },
        });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before ready:\n${out}`));
    });
  });
}

/** Kills every process still running and removes every temp dir; call from afterAll/afterEach. */
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
