import type { FileStore } from '../../core/ports/runtime.js';

/** The part of the Deno namespace the file store uses (the sources are type-checked without Deno's types). */
declare const Deno: {
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, data: Uint8Array): Promise<void>;
  mkdir(path: string, options: { recursive: boolean }): Promise<void>;
  remove(path: string): Promise<void>;
  readDir(path: string): AsyncIterable<{ name: string; isDirectory: boolean }>;
  errors: {
    NotFound: abstract new (...args: never[]) => Error;
    IsADirectory: abstract new (...args: never[]) => Error;
  };
};

/** unstorage's key normal form: '/' and '\' are ':', no empty segments, no ':' at either end. */
function normalizeKey(key: string): string {
  return key.replace(/[/\\]/g, ':').replace(/:+/g, ':').replace(/^:|:$/g, '');
}

/** Whether a failure means "no such file here" (absent, or a directory). */
function isNotAFile(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound || err instanceof Deno.errors.IsADirectory;
}

/** Every file under `dir`, as ':'-joined relative keys ([] when `dir` does not exist). */
async function listFiles(dir: string, prefix: string, out: string[]): Promise<void> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await listFiles(`${dir}/${entry.name}`, `${prefix}${entry.name}:`, out);
      else out.push(`${prefix}${entry.name}`);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/**
 * A FileStore in directory `base` with Deno's own file API, laid out as unstorage's fs-lite driver
 * lays it out (key "a:b:c" is the file base/a/b/c), so a data directory moves between runtimes.
 * The Node and Bun adapters use fs-lite itself; on Deno it would load node:fs, and with it Deno's
 * Node compatibility layer (about 8 MB of resident memory). Keys with a ".." segment are refused
 * (Error), as fs-lite refuses them. Writes are not atomic (nor are fs-lite's).
 */
export function denoFileStore(base: string): FileStore {
  const pathOf = (key: string): string => {
    const k = normalizeKey(key);
    if (k.split(':').includes('..')) throw new Error(`invalid key ${JSON.stringify(key)}: it has a .. segment`);
    return k === '' ? base : `${base}/${k.replace(/:/g, '/')}`;
  };
  const keysUnder = async (prefix: string): Promise<string[]> => {
    const all: string[] = [];
    await listFiles(base, '', all);
    const b = normalizeKey(prefix);
    const start = b === '' ? '' : `${b}:`;
    // unstorage leaves out keys ending in '$' (its meta items); so does this store.
    return all.filter((k) => k.startsWith(start) && !k.endsWith('$'));
  };
  return {
    async getItemRaw(key) {
      try {
        return await Deno.readFile(pathOf(key));
      } catch (err) {
        if (isNotAFile(err)) return null;
        throw err;
      }
    },
    async setItemRaw(key, value) {
      const path = pathOf(key);
      const slash = path.lastIndexOf('/');
      if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
      await Deno.writeFile(path, value);
    },
    async removeItem(key) {
      try {
        await Deno.remove(pathOf(key));
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    },
    getKeys: keysUnder,
    async clear(prefix) {
      for (const k of await keysUnder(prefix)) await Deno.remove(pathOf(k));
    },
    dispose: () => Promise.resolve(),
  };
}
