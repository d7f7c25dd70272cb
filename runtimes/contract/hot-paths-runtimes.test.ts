import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadHotPaths } from '../node/hot-paths.js';
import { HOT_PATH_VECTORS, runVectors } from './hot-paths.vectors.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const bin = (name: string) => resolve(root, 'node_modules/.bin', name);

/** The WebAssembly path, loaded by each runtime's own loader, passes the shared vectors. */
describe('hot-path contract on every runtime', () => {
  it('Node', async () => {
    const hp = await loadHotPaths('wasm');
    expect(hp.impl.crc32c).toBe('wasm');
    expect(runVectors(hp)).toEqual(HOT_PATH_VECTORS.expected);
  });

  it('Deno', async () => {
    const { stdout } = await run(
      bin('deno'),
      ['run', '--sloppy-imports', '--allow-read', '--no-prompt', 'runtimes/contract/vectors-deno.ts'],
      { cwd: root, timeout: 60_000 },
    );
    const out = JSON.parse(stdout) as { impl: Record<string, string>; results: unknown };
    expect(Object.values(out.impl).every((v) => v === 'wasm')).toBe(true);
    expect(out.results).toEqual(HOT_PATH_VECTORS.expected);
  });

  it('Bun', async () => {
    const { stdout } = await run(bin('bun'), ['run', 'runtimes/contract/vectors-bun.ts'], {
      cwd: root,
      timeout: 60_000,
    });
    const out = JSON.parse(stdout) as { impl: Record<string, string>; results: unknown };
    expect(Object.values(out.impl).every((v) => v === 'wasm')).toBe(true);
    expect(out.results).toEqual(HOT_PATH_VECTORS.expected);
  });
});
