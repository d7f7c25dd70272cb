import type { HotPaths } from '../../core/ports/hot-paths.js';
import { FASTEST } from '../wasm/choice.js';
import { ALL_WASM, createWasmHotPaths } from '../wasm/wasm-hot-paths.js';

declare const Bun: { file(path: URL): { exists(): Promise<boolean>; arrayBuffer(): Promise<ArrayBuffer> } };

/** Where the built module may be: next to the bundle (dist/), or dist/ seen from the sources. */
const CANDIDATES = ['./hotpaths.wasm', '../../dist/hotpaths.wasm'];

/** The HotPaths for Bun: the same .wasm, read with Bun.file. */
export async function loadHotPathsBun(mode: 'auto' | 'wasm' = 'auto'): Promise<HotPaths> {
  for (const rel of CANDIDATES) {
    const file = Bun.file(new URL(rel, import.meta.url));
    if (!(await file.exists())) continue;
    const module = await WebAssembly.compile(await file.arrayBuffer());
    return createWasmHotPaths(module, mode === 'wasm' ? ALL_WASM : FASTEST.bun);
  }
  throw new Error('hotpaths.wasm not found: run `npm run build`');
}
