import { createTsHotPaths } from '../../core/hotpaths/ts-hot-paths.js';
import type { HotPaths } from '../../core/ports/hot-paths.js';
import type { HotPathMode } from '../../core/ports/runtime.js';
import { FASTEST, type RuntimeName } from './choice.js';
import { ALL_WASM, createWasmHotPaths } from './wasm-hot-paths.js';

/**
 * Reads the whole file at `url` with the runtime's own file API. Resolves undefined when there is
 * no such file; rejects on any other failure.
 */
export type ReadBytes = (url: URL) => Promise<BufferSource | undefined>;

/** Where the built module may be: next to the bundle (dist/), or dist/ seen from the sources. */
const CANDIDATES = ['./hotpaths.wasm', '../../dist/hotpaths.wasm'];

/** Reads and compiles the first candidate that exists. Throws when none does (`npm run build` makes it). */
async function compileHotPathModule(readBytes: ReadBytes): Promise<WebAssembly.Module> {
  for (const rel of CANDIDATES) {
    const bytes = await readBytes(new URL(rel, import.meta.url));
    if (bytes !== undefined) return WebAssembly.compile(bytes);
  }
  throw new Error('hotpaths.wasm not found: run `npm run build`');
}

/**
 * The one hot-path loader every runtime uses: the same hotpaths.wasm, read with `readBytes`, with
 * WebAssembly where it is faster on `runtime` (mode 'auto', see choice.ts), or all WebAssembly, or
 * all TypeScript (mode 'ts' reads nothing).
 */
export async function loadHotPaths(
  runtime: RuntimeName,
  readBytes: ReadBytes,
  mode: HotPathMode = 'auto',
): Promise<HotPaths> {
  if (mode === 'ts') return createTsHotPaths();
  return createWasmHotPaths(await compileHotPathModule(readBytes), mode === 'wasm' ? ALL_WASM : FASTEST[runtime]);
}
