import type { RuntimeAdapter } from '../core/ports/runtime.js';

const g = globalThis as { Deno?: unknown; Bun?: unknown };

/** The runtime this process runs on: 'deno', 'bun' or 'node'. */
export function runtimeName(): 'deno' | 'bun' | 'node' {
  return g.Deno ? 'deno' : g.Bun ? 'bun' : 'node';
}

/**
 * The adapter of the runtime this process runs on. Only that runtime's adapter is imported: Deno
 * and Bun never load the Node adapter (@hono/node-server, node:* probes), nor Node theirs.
 */
export async function currentRuntime(): Promise<RuntimeAdapter> {
  switch (runtimeName()) {
    case 'deno':
      return (await import('./deno/index.js')).denoRuntime;
    case 'bun':
      return (await import('./bun/index.js')).bunRuntime;
    case 'node':
      return (await import('./node/index.js')).nodeRuntime;
  }
}
