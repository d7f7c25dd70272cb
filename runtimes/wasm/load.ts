import { PromotingKeyIndex } from '../../core/hotpaths/promoting-key-index.js';
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

/** Keys a key index holds in TypeScript before mode 'deferred' moves it to what 'auto' picks. */
export const DEFERRED_PROMOTE_AT_KEYS = 4096;

/**
 * Mode 'deferred': TypeScript for everything at first, reading nothing; the first key index to
 * reach DEFERRED_PROMOTE_AT_KEYS keys starts reading and compiling the .wasm in the background,
 * and each index that size moves to what 'auto' picks for the runtime once the module is ready
 * (the key index is the only operation 'auto' gives WebAssembly on Deno and Bun). When the .wasm
 * cannot be loaded the indexes stay in TypeScript, which gives the same results.
 */
function deferredHotPaths(runtime: RuntimeName, readBytes: ReadBytes): HotPaths {
  const ts = createTsHotPaths();
  let wasm: HotPaths | undefined;
  let loading: Promise<void> | undefined;
  const later = (): HotPaths | undefined => {
    loading ??= compileHotPathModule(readBytes).then(
      (module) => void (wasm = createWasmHotPaths(module, FASTEST[runtime])),
      () => undefined,
    );
    return wasm;
  };
  return {
    ...ts,
    createKeyIndex: () =>
      new PromotingKeyIndex(ts.createKeyIndex(), DEFERRED_PROMOTE_AT_KEYS, () => later()?.createKeyIndex()),
  };
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
  if (mode === 'deferred') return deferredHotPaths(runtime, readBytes);
  return createWasmHotPaths(await compileHotPathModule(readBytes), mode === 'wasm' ? ALL_WASM : FASTEST[runtime]);
}
