import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { HOT_PATH_VECTORS, runVectors } from '../../core/ports/hot-paths.vectors.js';
import { nodeRuntime } from '../node/index.js';

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
