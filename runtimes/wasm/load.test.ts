import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PromotingKeyIndex } from '../../core/hotpaths/promoting-key-index.js';
import { HOT_PATH_VECTORS, runVectors } from '../../core/ports/hot-paths.vectors.js';
import { nodeRuntime } from '../node/index.js';
import { DEFERRED_PROMOTE_AT_KEYS } from './load.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const bin = (name: string) => resolve(root, 'node_modules/.bin', name);

/** The WebAssembly path, loaded by each runtime adapter, passes the shared vectors. */
describe('hot-path contract on every runtime', () => {
  it('Node', async () => {
    const hp = await nodeRuntime.loadHotPaths('wasm');
    expect(hp.impl.crc32c).toBe('wasm');
    expect(runVectors(hp)).toEqual(HOT_PATH_VECTORS.expected);
  });

  it('Deno', async () => {
    const { stdout } = await run(
      bin('deno'),
      ['run', '--sloppy-imports', '--allow-read', '--no-prompt', 'testing/hot-path-vectors.ts'],
      { cwd: root, timeout: 60_000 },
    );
    const out = JSON.parse(stdout) as { runtime: string; impl: Record<string, string>; results: unknown };
    expect(out.runtime).toBe('deno');
    expect(Object.values(out.impl).every((v) => v === 'wasm')).toBe(true);
    expect(out.results).toEqual(HOT_PATH_VECTORS.expected);
  });

  it('Bun', async () => {
    const { stdout } = await run(bin('bun'), ['run', 'testing/hot-path-vectors.ts'], {
      cwd: root,
      timeout: 60_000,
    });
    const out = JSON.parse(stdout) as { runtime: string; impl: Record<string, string>; results: unknown };
    expect(out.runtime).toBe('bun');
    expect(Object.values(out.impl).every((v) => v === 'wasm')).toBe(true);
    expect(out.results).toEqual(HOT_PATH_VECTORS.expected);
  });
});

describe("mode 'deferred'", () => {
  it('passes the vectors in TypeScript, and moves a large key index to WebAssembly once compiled', async () => {
    const hp = await nodeRuntime.loadHotPaths('deferred');
    expect(runVectors(hp)).toEqual(HOT_PATH_VECTORS.expected);
    const idx = hp.createKeyIndex() as PromotingKeyIndex;
    const key = (i: number) => `k/${String(i).padStart(6, '0')}`;
    for (let i = 0; i < DEFERRED_PROMOTE_AT_KEYS; i++) idx.insert(key(i));
    // The .wasm is compiled in the background from the first index that reaches the threshold.
    await expect.poll(() => (idx.insert(key(idx.size)), idx.isPromoted), { timeout: 10_000 }).toBe(true);
    expect(idx.size).toBeGreaterThan(DEFERRED_PROMOTE_AT_KEYS);
    expect(idx.prefix('k/')).toEqual(Array.from({ length: idx.size }, (_, i) => key(i)));
    expect(idx.has(key(0))).toBe(true);
    idx.dispose();
  });
});
