import type { RuntimeAdapter } from '../../core/ports/runtime.js';
import { bundledUiReader } from '../ui-files.js';
import { loadHotPaths } from '../wasm/load.js';
import { denoFileStore } from './files.js';

/** The part of the Deno namespace this adapter uses (the sources are type-checked without Deno's types). */
declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): { addr: { hostname: string; port: number }; shutdown(): Promise<void>; finished: Promise<void> };
  memoryUsage(): { rss: number };
  version: { deno: string };
  build: { arch: string };
  readFile(path: URL): Promise<Uint8Array>;
  errors: { NotFound: abstract new (...args: never[]) => Error };
};

/** Error codes Deno's errors carry that mean "no such file here": absent, a directory, a path through a file. */
const NOT_A_FILE = new Set(['ENOENT', 'EISDIR', 'ENOTDIR']);

/** Reads a file with Deno.readFile; undefined when it does not exist (or is a directory). */
async function readBytes(url: URL): Promise<Uint8Array<ArrayBuffer> | undefined> {
  try {
    return (await Deno.readFile(url)) as Uint8Array<ArrayBuffer>;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || NOT_A_FILE.has((err as { code?: string }).code ?? '')) return undefined;
    throw err;
  }
}

/**
 * Deno as the runtime port: Deno.serve, hotpaths.wasm and the Web UI read with Deno.readFile,
 * files with Deno's file API in fs-lite's layout (denoFileStore). Nothing here loads node:* or
 * touches `process`, so Deno's Node compatibility layer stays unloaded.
 */
export const denoRuntime: RuntimeAdapter = {
  name: 'deno',
  version: Deno.version.deno,
  // Deno says x86_64 / aarch64; the fleet uses Node's names.
  arch: ({ x86_64: 'x64', aarch64: 'arm64' } as Record<string, string>)[Deno.build.arch] ?? Deno.build.arch,
  loadHotPaths: (mode = 'auto') => loadHotPaths('deno', readBytes, mode),
  readUiFile: bundledUiReader(readBytes),
  serve: async (handler, host, port) => {
    const server = Deno.serve({ hostname: host, port, onListen: () => undefined }, handler);
    return { address: `${host}:${server.addr.port}`, close: () => server.shutdown() };
  },
  rss: () => Deno.memoryUsage().rss,
  files: denoFileStore,
};
