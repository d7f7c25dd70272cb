import type { HotPathChoice } from './wasm-hot-paths.js';

/** Runtimes with a hot-path loader. */
export type RuntimeName = 'node' | 'deno' | 'bun';

/**
 * Per runtime, the faster implementation of each operation, as measured by bench/hotpaths.ts on
 * the reference machine (see docs/PERFORMANCE.md). Where WebAssembly loses, the loader uses the
 * TypeScript path.
 */
export const FASTEST: Readonly<Record<RuntimeName, HotPathChoice>> = {
  node: { crc32c: 'wasm', frameEncode: 'wasm', frameDecode: 'wasm', keyIndex: 'wasm', prefixMatch: 'wasm' },
  deno: { crc32c: 'wasm', frameEncode: 'wasm', frameDecode: 'wasm', keyIndex: 'wasm', prefixMatch: 'wasm' },
  bun: { crc32c: 'wasm', frameEncode: 'wasm', frameDecode: 'wasm', keyIndex: 'wasm', prefixMatch: 'wasm' },
};
