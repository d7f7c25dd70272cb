import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledUiReader } from './ui-files.js';

const root = mkdtempSync(join(tmpdir(), 'konsul-ui-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** node:fs as a runtime's readBytes: undefined for what is not a file. */
async function readBytes(url: URL): Promise<Uint8Array<ArrayBuffer> | undefined> {
  try {
    return (await readFile(url)) as Uint8Array<ArrayBuffer>;
  } catch (err) {
    if (['ENOENT', 'EISDIR', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
}

const dirUrl = (...parts: string[]) => pathToFileURL(join(root, ...parts) + '/');
const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

describe("the runtimes' Web UI reader", () => {
  it('reads from the first candidate with an index.html, found once one is built, and never outside it', async () => {
    mkdirSync(join(root, 'next-to-bundle'));
    mkdirSync(join(root, 'dist', 'ui', 'assets'), { recursive: true });
    writeFileSync(join(root, 'dist', 'secret.txt'), 'outside');
    writeFileSync(join(root, 'dist', 'ui', 'assets', 'a.js'), 'js');
    const read = bundledUiReader(readBytes, [dirUrl('next-to-bundle'), dirUrl('dist', 'ui')]);
    // Not built yet: nothing is read.
    expect(await read('assets/a.js')).toBeUndefined();
    writeFileSync(join(root, 'dist', 'ui', 'index.html'), 'index');
    expect(text(await read('index.html'))).toBe('index');
    expect(text(await read('assets/a.js'))).toBe('js');
    // A directory is no file; segments are encoded, so what decodes to ".." stays a name.
    expect(await read('assets')).toBeUndefined();
    expect(await read('%2e%2e/secret.txt')).toBeUndefined();
    expect(await read('..%2fsecret.txt')).toBeUndefined();
    expect(await read('file:///etc/passwd')).toBeUndefined();
    // Once found, the directory is kept even when an earlier candidate gets an index.html later.
    writeFileSync(join(root, 'next-to-bundle', 'index.html'), 'other');
    expect(text(await read('index.html'))).toBe('index');
  });
});
