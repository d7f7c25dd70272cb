import type { Handler, Hono } from 'hono';
import { ROUTES, type RouteMethod } from './route-table.js';

const LISTED = new Set(ROUTES.map((r) => `${r.method} ${r.path}`));
const METHODS_BY_PATH = new Map<string, RouteMethod[]>();
for (const r of ROUTES) METHODS_BY_PATH.set(r.path, [...(METHODS_BY_PATH.get(r.path) ?? []), r.method]);

const registered = new WeakMap<Hono, Set<string>>();

/**
 * Registers `handler` on `app` for `method` and `path`, which the route table must list: a route
 * cannot exist without its facts (who answers it, how an edge agent does, which ACL resource it
 * needs). 'ALL' registers one handler for every method of `path` (it answers 405 for the methods
 * the table does not list). Throws at registration, never at request time, for an unlisted route.
 */
export function route<P extends string>(
  app: Hono,
  method: RouteMethod | 'ALL',
  path: P,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Hono's own default for the env type
  handler: Handler<any, P>,
): void {
  const methods = method === 'ALL' ? (METHODS_BY_PATH.get(path) ?? []) : [method];
  if (methods.length === 0 || methods.some((m) => !LISTED.has(`${m} ${path}`))) {
    throw new Error(`route ${method} ${path} is not in the route table (core/api/route-table.ts)`);
  }
  if (method === 'ALL') app.all(path, handler);
  else app.on(method, path, handler);
  const seen = registered.get(app) ?? new Set<string>();
  for (const m of methods) seen.add(`${m} ${path}`);
  registered.set(app, seen);
}

/** The routes registered on `app` through route(), as "METHOD path" (for the table's tests). */
export function registeredRoutes(app: Hono): ReadonlySet<string> {
  return registered.get(app) ?? new Set();
}
