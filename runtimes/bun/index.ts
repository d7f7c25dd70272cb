import { createStorage } from 'unstorage';
import fsLiteDriver from 'unstorage/drivers/fs-lite';
import type { RuntimeAdapter } from '../../core/ports/runtime.js';
import { bundledUiReader } from '../ui-files.js';
import { loadHotPaths } from '../wasm/load.js';

/** The part of the Bun namespace this adapter uses (the sources are type-checked without Bun's types). */
declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout?: number;
    fetch: (req: Request) => Response | Promise<Response>;
  }): { port: number; hostname: string; stop(closeActive?: boolean): Promise<void> | void };
  file(path: URL): { exists(): Promise<boolean>; arrayBuffer(): Promise<ArrayBuffer> };
};

/** Reads a file with Bun.file; undefined when it does not exist (Bun's exists() is false for a directory). */
async function readBytes(url: URL): Promise<ArrayBuffer | undefined> {
  const file = Bun.file(url);
  return (await file.exists()) ? file.arrayBuffer() : undefined;
}

/**
 * Bun as the runtime port: Bun.serve, hotpaths.wasm and the Web UI read with Bun.file, files
 * through unstorage's fs-lite driver (on Bun's node:fs).
 */
export const bunRuntime: RuntimeAdapter = {
  name: 'bun',
  version: process.versions['bun'] ?? '',
  arch: process.arch,
  loadHotPaths: (mode = 'auto') => loadHotPaths('bun', readBytes, mode),
  readUiFile: bundledUiReader(readBytes),
  serve: async (handler, host, port) => {
    // idleTimeout 0: blocking queries and sync streams may stay quiet for minutes.
    const server = Bun.serve({ hostname: host, port, idleTimeout: 0, fetch: handler });
    return { address: `${host}:${server.port}`, close: async () => void (await server.stop(true)) };
  },
  rss: () => process.memoryUsage().rss,
  files: (dir) => createStorage({ driver: fsLiteDriver({ base: dir }) }),
};
