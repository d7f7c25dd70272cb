/** The four callers ACL route walks use: no token, and tokens that read, write or are denied everything. */
export type Caller = 'none' | 'read' | 'write' | 'deny';
export const CALLERS: readonly Caller[] = ['none', 'read', 'write', 'deny'];

/** Expected values per caller, in CALLERS order. */
export const byCaller = (none: number, read: number, write: number, deny: number): Record<Caller, number> => ({ none, read, write, deny });

/** Rules giving `policy` on every named resource (keys, services, nodes, sessions, events, queries, agents). */
export function everywhere(policy: 'read' | 'write' | 'deny'): string {
  return ['key', 'service', 'node', 'session', 'event', 'query', 'agent'].map((r) => `${r}_prefix "" { policy = "${policy}" }`).join('\n');
}

/** One route as the walk sends it, and what each caller must get. */
export interface RouteCase {
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  /** Expected status per caller. */
  readonly expect: Record<Caller, number>;
  /** For lists: how many items each caller sees (array length, or object keys). */
  readonly count?: Record<Caller, number>;
  /** An SSE stream: only the status is checked, then the stream is dropped. */
  readonly stream?: boolean;
}

/**
 * Sends every route as every caller, in order (so a write by one caller is seen by the next), and
 * returns what went wrong: an unexpected status, an unexpected item count, or a refusal that
 * repeats the caller's secret. `send` is the node's request function (in-process or over HTTP).
 */
export async function walkRoutes(
  send: (path: string, init: RequestInit) => Promise<Response>,
  tokens: Readonly<Record<Caller, string | undefined>>,
  routes: readonly RouteCase[],
): Promise<string[]> {
  const failures: string[] = [];
  for (const route of routes) {
    for (const who of CALLERS) {
      const secret = tokens[who];
      const res = await send(route.path, { method: route.method, headers: secret ? { 'X-Consul-Token': secret } : {}, ...(route.body !== undefined ? { body: route.body } : {}) });
      const label = `${route.method} ${route.path} as ${who}`;
      if (route.stream) {
        await res.body?.cancel();
        if (res.status !== route.expect[who]) failures.push(`${label}: ${res.status}, expected ${route.expect[who]}`);
        continue;
      }
      const text = await res.text();
      if (res.status !== route.expect[who]) failures.push(`${label}: ${res.status} (${text.trim().slice(0, 120)}), expected ${route.expect[who]}`);
      if (route.count && res.status === 200) {
        const body = JSON.parse(text) as unknown;
        const n = Array.isArray(body) ? body.length : Object.keys(body as object).length;
        if (n !== route.count[who]) failures.push(`${label}: sees ${n} items, expected ${route.count[who]}`);
      }
      if (res.status === 403 && secret !== undefined && text.includes(secret)) failures.push(`${label}: the secret appears in the answer`);
    }
  }
  return failures;
}
