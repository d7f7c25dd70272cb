import type { HotPaths } from '../../core/ports/hot-paths.js';
import { FASTEST } from '../wasm/choice.js';
import { ALL_WASM, createWasmHotPaths } from '../wasm/wasm-hot-paths.js';

declare const Deno: { readFile(path: URL): Promise<Uint8Array> };

/** Where the built module may be: next to the bundle (dist/), or dist/ seen from the sources. */
const CANDIDATES = ['./hotpaths.wasm', '../../dist/hotpaths.wasm'];

/** The HotPaths for Deno: the same .wasm, read with Deno.readFile. */
export async function loadHotPathsDeno(mode: 'auto' | 'wasm' = 'auto'): Promise<HotPaths> {
  let lastError: unknown;
  for (const rel of CANDIDATES) {
    try {
      const module = await WebAssembly.compile(
        (await Deno.readFile(new URL(rel, import.meta.url))) as Uint8Array<ArrayBuffer>,
      );
      return createWasmHotPaths(module, mode === 'wasm' ? ALL_WASM : FASTEST.deno);
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`hotpaths.wasm not found: run \`npm run build\` (${String(lastError)})`);
}
