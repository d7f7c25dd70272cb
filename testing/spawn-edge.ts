import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { startProcess, type TestProcess, tempDir } from './process.js';

const root = resolve(import.meta.dirname, '..');
/** Path of the built CLI (npm test builds it first). */
export const CLI = resolve(root, 'dist/cli.js');
/** Path of the edge agent's own bundle (what devices run: `konsul edge` without the rest). */
export const EDGE = resolve(root, 'dist/edge/edge.js');

/** Runtimes the edge agent runs on in tests; `*-arm64` run the aarch64 binaries under qemu. */
export type EdgeTestRuntime = 'node' | 'deno' | 'bun' | 'bun-arm64' | 'deno-arm64';

/** Where `testing/fetch-arm64.ts` puts the aarch64 Bun and Deno binaries. */
export const ARM64_DIR = resolve(root, '.cache/arm64');
/** The aarch64 C library (apt libc6-arm64-cross, libgcc-s1-arm64-cross) qemu loads the binaries with. */
export const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

/**
 * The real Deno executable. `node_modules/.bin/deno` may be the npm package's Node shim (when its
 * install script did not run), which runs Deno as a child: signals sent to it would not reach the
 * agent. The package's own install API resolves (and caches) the platform binary.
 */
export function denoBinary(): string {
  const api = createRequire(import.meta.url)(resolve(root, 'node_modules/deno/install_api.cjs')) as {
    runInstall(): string;
  };
  return api.runInstall();
}

/** The real Bun executable (the bun package's install script puts it in place). */
export function bunBinary(): string {
  return resolve(root, 'node_modules/.bin/bun');
}

/** The command line that runs the edge agent's bundle (`konsul edge <args>`) on `runtime`. */
export function edgeCommand(runtime: EdgeTestRuntime, args: readonly string[]): { command: string; args: string[] } {
  switch (runtime) {
    case 'node':
      return { command: process.execPath, args: [EDGE, ...args] };
    case 'deno':
      return { command: denoBinary(), args: ['run', '-A', EDGE, ...args] };
    case 'bun':
      return { command: bunBinary(), args: [EDGE, ...args] };
    case 'bun-arm64':
      return {
        command: 'qemu-aarch64-static',
        args: ['-L', ARM64_SYSROOT, resolve(ARM64_DIR, 'bun'), EDGE, ...args],
      };
    case 'deno-arm64':
      return {
        command: 'qemu-aarch64-static',
        args: ['-L', ARM64_SYSROOT, resolve(ARM64_DIR, 'deno'), 'run', '-A', EDGE, ...args],
      };
  }
}

/** An edge agent process started by a test. */
export interface SpawnedEdge extends TestProcess {
  readonly url: string;
  readonly dataDir: string;
  readonly agentId: string;
  readonly runtime: string;
}

/**
 * Starts `konsul edge` on `runtime` with a local API on a free port and JSON logs, and waits for
 * its "edge agent ready" line. `dataDir` defaults to a new temp dir.
 */
export async function spawnEdge(options: {
  runtime?: EdgeTestRuntime;
  upstream: string;
  args: readonly string[];
  dataDir?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}): Promise<SpawnedEdge> {
  const dataDir = options.dataDir ?? tempDir('konsul-edge-');
  const runtime = options.runtime ?? 'node';
  const { command, args } = edgeCommand(runtime, [
    '--upstream',
    options.upstream,
    '--http-addr',
    '127.0.0.1:0',
    '--data-dir',
    dataDir,
    '--log-format',
    'json',
    ...options.args,
  ]);
  const p = await startProcess(command, args, {
    ready: /"@message":"edge agent ready","agent":"([^"]+)","runtime":"([^"]+)","http":"([^"]+)"/,
    timeoutMs: options.timeoutMs ?? 30_000,
    what: `konsul edge (${runtime})`,
    ...(options.env ? { env: options.env } : {}),
  });
  return { ...p, agentId: p.ready[1] as string, runtime: p.ready[2] as string, url: `http://${p.ready[3]}`, dataDir };
}
