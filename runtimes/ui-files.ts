import type { UiReader } from '../core/ports/runtime.js';
import type { ReadBytes } from './wasm/load.js';

/**
 * Where the built Web UI may be: ui/ next to the bundle (every chunk of dist/ sits in dist/, so
 * that is dist/ui/), or dist/ui/ seen from the sources (this file is one folder below the root).
 */
const CANDIDATES = ['./ui/', '../dist/ui/'];

/** `bytes` as a Uint8Array over the same memory. */
function asBytes(bytes: BufferSource): Uint8Array {
  return ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes);
}

/**
 * The UiReader every runtime adapter uses, over its `readBytes` (which must answer undefined for
 * a file that is absent or a directory): files are read from the first of `dirs` (directory URLs,
 * ending in "/"; by default ui/ next to the bundle, then dist/ui/ from the sources) that holds an
 * index.html, looked for again on each read until one does (so a UI built while the agent runs is
 * found) and kept once found. Each segment of `rel` is percent-encoded before it becomes part of a
 * URL, and a URL that would leave the directory is never read (undefined).
 */
export function bundledUiReader(
  readBytes: ReadBytes,
  dirs: readonly URL[] = CANDIDATES.map((c) => new URL(c, import.meta.url)),
): UiReader {
  let found: URL | undefined;
  const urlOf = (dir: URL, rel: string): URL | undefined => {
    const url = new URL(rel.split('/').map(encodeURIComponent).join('/'), dir);
    return url.href.startsWith(dir.href) ? url : undefined;
  };
  const locate = async (): Promise<URL | undefined> => {
    for (const dir of dirs) {
      const index = urlOf(dir, 'index.html');
      if (index && (await readBytes(index)) !== undefined) return (found = dir);
    }
    return undefined;
  };
  return async (rel) => {
    const dir = found ?? (await locate());
    const url = dir && urlOf(dir, rel);
    if (!url) return undefined;
    const bytes = await readBytes(url);
    return bytes === undefined ? undefined : asBytes(bytes);
  };
}
