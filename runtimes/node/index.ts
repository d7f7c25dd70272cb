import { readFile } from 'node:fs/promises';
import { createStorage } from 'unstorage';
import fsLiteDriver from 'unstorage/drivers/fs-lite';
import type { RuntimeAdapter } from '../../core/ports/runtime.js';
import { bundledUiReader } from '../ui-files.js';
import { loadHotPaths } from '../wasm/load.js';
import { nodeFetch } from './fetch.js';
import { listenHttp } from './http-server.js';

// What only servers use: they run on Node alone.
export { systemClock } from './clock.js';
export { type HttpClient, type HttpListener, type HttpTls, listenHttp } from './http-server.js';
export { nodeProbes } from './probes.js';
export { systemRng } from './rng.js';

/** Errors that mean "no such file here": absent, a directory, or a path through a file. */
const NOT_A_FILE = new Set(['ENOENT', 'EISDIR', 'ENOTDIR']);

/** Reads a file with node:fs; undefined when it does not exist (or is a directory). */
async function readBytes(url: URL): Promise<Uint8Array<ArrayBuffer> | undefined> {
  try {
    return (await readFile(url)) as Uint8Array<ArrayBuffer>;
  } catch (err) {
    if (NOT_A_FILE.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
}

/**
 * Node as the runtime port: Node's HTTP server through @hono/node-server (connections still open
 * two seconds after close() are ended), hotpaths.wasm and the Web UI read with node:fs, files through unstorage's
 * fs-lite driver, requests to the servers over node:http (nodeFetch: Node's own fetch costs 5-10 MB
 * more). Servers use it too, with the Node-only clock, rng, probes and TLS listener this
 * module also exports.
 */
export const nodeRuntime: RuntimeAdapter = {
  name: 'node',
  version: process.versions.node,
  arch: process.arch,
  loadHotPaths: (mode = 'auto') => loadHotPaths('node', readBytes, mode),
  readUiFile: bundledUiReader(readBytes),
  serve: async (handler, host, port) => {
    const listener = await listenHttp(handler, host, port);
    return { address: listener.address, close: () => listener.close(2000) };
  },
  rss: () => process.memoryUsage().rss,
  files: (dir) => createStorage({ driver: fsLiteDriver({ base: dir }) }),
  fetch: nodeFetch,
};
