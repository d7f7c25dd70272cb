import type { HotPaths } from './hot-paths.js';

/**
 * How hot-path implementations are picked: per operation the one measured fastest on the runtime
 * ('auto'), or all WebAssembly ('wasm'), or all TypeScript ('ts', which needs no .wasm), or
 * 'deferred': TypeScript until a key index grows large, then what 'auto' picks for it, the .wasm
 * being read and compiled only then (the edge agent's choice: a small replica never loads it).
 */
export type HotPathMode = 'auto' | 'wasm' | 'ts' | 'deferred';

/**
 * Reads one file of the built Web UI by its path inside the UI's directory ("index.html",
 * "assets/index-3f2a.js"): resolves with its bytes, or undefined when there is no such file (a
 * directory is none) or no UI was built. Rejects on any other failure. `rel` is never empty and
 * has no "", "." or ".." segment, backslash or NUL (core/api/ui-files.ts uiPathOf checks it); a
 * reader that builds URLs from it must still encode each segment ("%2e%2e" is ".." to a URL parser).
 */
export type UiReader = (rel: string) => Promise<Uint8Array | undefined>;

/** A request handler over Web Request/Response (a Hono app's `fetch`). */
export type RequestHandler = (req: Request) => Response | Promise<Response>;

/**
 * A request to the servers, answered with a Web Response (its body streamed): the part of fetch
 * the edge agent uses (a URL string, a text or byte body, headers as a record, an abort signal). Rejects
 * as fetch does when the request fails or is aborted. The global fetch is one.
 */
export type UpstreamFetch = (
  url: string,
  init?: {
    readonly method?: string;
    readonly headers?: Record<string, string>;
    readonly body?: string | Uint8Array<ArrayBuffer>;
    readonly signal?: AbortSignal;
  },
) => Promise<Response>;

/** An HTTP listener started by `RuntimeAdapter.serve`. */
export interface ServedHttp {
  /** The bound "host:port" (the real port when 0 was asked for). */
  readonly address: string;
  /** Stops listening and ends open connections; resolves once the listener is closed. */
  close(): Promise<void>;
}

/**
 * Byte items under ':'-separated keys, kept in a directory (each key segment a path segment): what
 * the edge agent persists its replica and outbox in. The methods are a subset of unstorage's
 * Storage, so a storage over any unstorage driver is one.
 */
export interface FileStore {
  /** The bytes under `key` (a Uint8Array or an ArrayBuffer, as the driver returns them), or null if none. */
  getItemRaw(key: string): Promise<unknown>;
  /** Writes `value` under `key`, replacing what was there; done when the promise resolves. */
  setItemRaw(key: string, value: Uint8Array): Promise<void>;
  /** Removes `key`; removing a missing key is not an error. */
  removeItem(key: string): Promise<void>;
  /** Every key that starts with `base` (a ':'-separated prefix; '' for all), in no particular order. */
  getKeys(base: string): Promise<string[]>;
  /** Removes every key that starts with `base`. */
  clear(base: string): Promise<void>;
  /** Releases the store; no method may be called afterwards. */
  dispose(): Promise<void>;
}

/**
 * One runtime (Node, Deno or Bun) as the edge agent uses it: its HTTP server, its way of reading
 * the built hotpaths.wasm and Web UI, its memory figure and its files. Implemented once per runtime by
 * `runtimes/<runtime>/index.ts`; `runtimes/current.ts` picks the one the process runs on.
 */
export interface RuntimeAdapter {
  /** 'node', 'deno' or 'bun'. */
  readonly name: string;
  /** The runtime's own version (Node's without the "v"). */
  readonly version: string;
  /** The processor architecture as Node names it: x64, arm64, …. */
  readonly arch: string;
  /**
   * The HotPaths, from the built hotpaths.wasm (next to the bundle, or in dist/ seen from the
   * sources) unless `mode` is 'ts' or 'deferred' (which resolves at once and reads the .wasm only
   * when a key index grows large). Rejects when the .wasm is needed and was not built.
   */
  loadHotPaths(mode?: HotPathMode): Promise<HotPaths>;
  /**
   * Reads a file of the built Web UI with the runtime's file API: from ui/ next to the bundle
   * (dist/ui/), or dist/ui/ seen from the sources (`npm run build` makes it); see UiReader.
   */
  readUiFile: UiReader;
  /** Serves `handler` on host:port (port 0: a free port) with the runtime's own HTTP server. */
  serve(handler: RequestHandler, host: string, port: number): Promise<ServedHttp>;
  /** Resident set size in bytes (0 where the runtime cannot tell). */
  rss(): number;
  /** The FileStore over directory `dir` (created when first written to). */
  files(dir: string): FileStore;
  /**
   * How the edge agent reaches its servers (sync stream, outbox, announcements); absent: the
   * global fetch.
   */
  readonly fetch?: UpstreamFetch;
}
