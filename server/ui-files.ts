import { readFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { UiReader } from '../core/ports/runtime.js';

/** Errors that mean "no such file here": absent, a directory, or a path through a file. */
const NOT_A_FILE = new Set(['ENOENT', 'EISDIR', 'ENOTDIR']);

/**
 * The UiReader over the built Web UI in directory `dir` (node:fs), for core/api/ui-files.ts:
 * undefined for a file that is not there (or is a directory) and for any path that would leave
 * `dir` (uiPathOf refuses those already; this holds even if it did not). Other read errors reject.
 */
export function uiDirReader(dir: string): UiReader {
  const root = resolve(dir);
  const inside = root.endsWith(sep) ? root : root + sep;
  return async (rel) => {
    const path = resolve(join(root, rel));
    if (!path.startsWith(inside)) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      if (NOT_A_FILE.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw err;
    }
  };
}
