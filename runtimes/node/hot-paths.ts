import { readFile } from 'node:fs/promises';
import { createTsHotPaths } from '../../core/hotpaths/ts-hot-paths.js';
import type { HotPaths } from '../../core/ports/hot-paths.js';
import { FASTEST } from '../wasm/choice.js';
import { ALL_WASM, createWasmHotPaths } from '../wasm/wasm-hot-paths.js';

/** How to pick implementations: the measured fastest per operation, or all of one kind. */
export type HotPathMode = 'auto' | 'wasm' | 'ts';

/** Where the built module may be: next to the bundle (dist/), or dist/ seen from the sources. */
const CANDIDATES = ['./hotpaths.wasm', '../../dist/hotpaths.wasm'];

/** Reads and compiles dist/hotpaths.wasm. Throws when it was not built (`npm run build`). */
export async function compileHotPathModule(): Promise<WebAssembly.Module> {
  for (const rel of CANDIDATES) {
    try {
      return await WebAssembly.compile(await readFile(new URL(rel, import.meta.url)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new Error('hotpaths.wasm not found: run `npm run build`');
}

/** The HotPaths for Node: WebAssembly where it is faster (mode 'auto'), or all WebAssembly / all TypeScript. */
export async function loadHotPaths(mode: HotPathMode = 'auto'): Promise<HotPaths> {
  if (mode === 'ts') return createTsHotPaths();
  return createWasmHotPaths(await compileHotPathModule(), mode === 'wasm' ? ALL_WASM : FASTEST.node);
}
