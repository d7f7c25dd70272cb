import { createStorage } from 'unstorage';
import fsLiteDriver from 'unstorage/drivers/fs-lite';
import type { RuntimeAdapter } from '../../core/ports/runtime.js';
import { loadHotPaths } from '../wasm/load.js';

/** The part of the Deno namespace this adapter uses (the sources are type-checked without Deno's types). */
declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): { addr: { hostname: string; port: number }; shutdown(): Promise<void>; finished: Promise<void> };
  memoryUsage(): { rss: number };
  readFile(path: URL): Promise<Uint8Array>;
  errors: { NotFound: abstract new (...args: never[]) => Error };
};

/** Reads a file with Deno.readFile; undefined when it does not exist. */
async function readBytes(url: URL): Promise<Uint8Array<ArrayBuffer> | undefined> {
  try {
    return (await Deno.readFile(url)) as Uint8Array<ArrayBuffer>;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * Deno as the runtime port: Deno.serve, hotpaths.wasm read with Deno.readFile, files through
 * unstorage's fs-lite driver (on Deno's node:fs).
 */
export const denoRuntime: RuntimeAdapter = {
  name: 'deno',
  loadHotPaths: (mode = 'auto') => loadHotPaths('deno', readBytes, mode),
  serve: async (handler, host, port) => {
    const server = Deno.serve({ hostname: host, port, onListen: () => undefined }, handler);
    return { address: `${host}:${server.addr.port}`, close: () => server.shutdown() };
  },
  rss: () => Deno.memoryUsage().rss,
  files: (dir) => createStorage({ driver: fsLiteDriver({ base: dir }) }),
};
