import type { HotPathChoice } from './wasm-hot-paths.js';

/** Runtimes with a hot-path loader. */
export type RuntimeName = 'node' | 'deno' | 'bun';

/**
 * Per runtime, the faster implementation of each operation as measured by `npm run
 * bench:hotpaths` on the reference machine (figures in docs/PERFORMANCE.md). WebAssembly wins the
 * key index everywhere; CRC32C and framing only on Node; the TypeScript trie matches prefixes as
 * fast or faster everywhere, so it serves them.
 */
export const FASTEST: Readonly<Record<RuntimeName, HotPathChoice>> = {
  node: { crc32c: 'wasm', frameEncode: 'wasm', frameDecode: 'wasm', keyIndex: 'wasm', prefixMatch: 'ts' },
  deno: { crc32c: 'ts', frameEncode: 'ts', frameDecode: 'ts', keyIndex: 'wasm', prefixMatch: 'ts' },
  bun: { crc32c: 'ts', frameEncode: 'ts', frameDecode: 'ts', keyIndex: 'wasm', prefixMatch: 'ts' },
};
