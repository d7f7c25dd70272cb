import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts, requireProgram, tempDir } from './process.js';

/** A Prometheus server a test started: its address, and the way to stop it. */
export interface TestPrometheus {
  /** "127.0.0.1:port" of its HTTP API. */
  readonly address: string;
  /** The process (for its 'error' event: Prometheus could not be started). */
  readonly proc: ChildProcess;
  stop(): void;
}

/**
 * Starts Debian's `prometheus` on a free loopback port with `configLines` as its configuration
 * file and a fresh data dir (throws, naming the package, when it is not installed). It is not
 * ready yet when this returns: poll its API.
 */
export async function startPrometheus(configLines: readonly string[]): Promise<TestPrometheus> {
  requireProgram('prometheus', 'prometheus');
  const [port] = await freePorts(1);
  const dir = tempDir();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, [...configLines, ''].join('\n'));
  const proc = spawn(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: 'ignore' },
  );
  return { address: `127.0.0.1:${port}`, proc, stop: () => proc.kill('SIGKILL') };
}
