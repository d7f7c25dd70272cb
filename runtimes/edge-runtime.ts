import type { HotPaths } from '../core/ports/hot-paths.js';

/** What the edge agent needs from the runtime it runs on (Node, Deno or Bun). */
export interface EdgeRuntime {
  readonly name: string;
  loadHotPaths(): Promise<HotPaths>;
  /** Serves `fetch` on host:port (0: a free port); resolves with the bound "host:port". */
  serve(
    fetch: (req: Request) => Response | Promise<Response>,
    host: string,
    port: number,
  ): Promise<{ address: string; close(): Promise<void> }>;
  /** Resident set size in bytes. */
  rss(): number;
}

interface DenoLike {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): {
    addr: { hostname: string; port: number };
    shutdown(): Promise<void>;
    finished: Promise<void>;
  };
  memoryUsage(): { rss: number };
}
interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout?: number;
    fetch: (req: Request) => Response | Promise<Response>;
  }): { port: number; hostname: string; stop(closeActive?: boolean): Promise<void> | void };
}

const g = globalThis as unknown as { Deno?: DenoLike; Bun?: BunLike; process?: { memoryUsage(): { rss: number } } };

/** The runtime this process runs on: 'deno', 'bun' or 'node'. */
export function runtimeName(): 'deno' | 'bun' | 'node' {
  return g.Deno ? 'deno' : g.Bun ? 'bun' : 'node';
}

/**
 * The EdgeRuntime for the current process: each runtime's own HTTP server (Deno.serve,
 * Bun.serve, Node's http via @hono/node-server) and its own loader for the same hotpaths.wasm.
 */
export async function currentEdgeRuntime(): Promise<EdgeRuntime> {
  const name = runtimeName();
  const rss = (): number => (g.Deno ? g.Deno.memoryUsage().rss : (g.process?.memoryUsage().rss ?? 0));
  if (name === 'deno') {
    const { loadHotPathsDeno } = await import('./deno/hot-paths.js');
    const Deno = g.Deno as DenoLike;
    return {
      name,
      rss,
      loadHotPaths: () => loadHotPathsDeno(),
      serve: async (fetch, host, port) => {
        const server = Deno.serve({ hostname: host, port, onListen: () => undefined }, fetch);
        return { address: `${host}:${server.addr.port}`, close: () => server.shutdown() };
      },
    };
  }
  if (name === 'bun') {
    const { loadHotPathsBun } = await import('./bun/hot-paths.js');
    const Bun = g.Bun as BunLike;
    return {
      name,
      rss,
      loadHotPaths: () => loadHotPathsBun(),
      serve: async (fetch, host, port) => {
        // idleTimeout 0: blocking queries and sync streams may stay quiet for minutes.
        const server = Bun.serve({ hostname: host, port, idleTimeout: 0, fetch });
        return { address: `${host}:${server.port}`, close: async () => void (await server.stop(true)) };
      },
    };
  }
  const { loadHotPaths } = await import('./node/hot-paths.js');
  const { listenHttp } = await import('./node/http-server.js');
  return {
    name,
    rss,
    loadHotPaths: () => loadHotPaths('auto'),
    serve: async (fetch, host, port) => {
      const l = await listenHttp(fetch, host, port);
      return { address: l.address, close: () => l.close(2000) };
    },
  };
}
