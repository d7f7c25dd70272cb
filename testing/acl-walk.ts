/** The four callers ACL route walks use: no token, and tokens that read, write or are denied everything. */
export type Caller = 'none' | 'read' | 'write' | 'deny';
export const CALLERS: readonly Caller[] = ['none', 'read', 'write', 'deny'];

/** Expected values per caller, in CALLERS order. */
export const byCaller = (none: number, read: number, write: number, deny: number): Record<Caller, number> => ({
  none,
  read,
  write,
  deny,
});

/** Rules giving `policy` on every named resource (keys, services, nodes, sessions, events, queries, agents). */
export function everywhere(policy: 'read' | 'write' | 'deny'): string {
  return ['key', 'service', 'node', 'session', 'event', 'query', 'agent']
    .map((r) => `${r}_prefix "" { policy = "${policy}" }`)
    .join('\n');
}

/** A node's request function: the in-process one, or fetch against a server's address. */
export type Send = (path: string, init: RequestInit) => Promise<Response>;

/**
 * Bootstraps ACLs through `send` and makes one token per caller: for read, write and deny, a
 * policy `all-<p>` with `rules(p)` and a token holding it. Returns the management secret and the
 * tokens ("none" has none); throws if the bootstrap or a policy or token is refused.
 */
export async function makeCallers(
  send: Send,
  rules: (p: 'read' | 'write' | 'deny') => string = everywhere,
): Promise<{ mgmt: string; tokens: Record<Caller, string | undefined> }> {
  const ok = async (res: Promise<Response>, what: string): Promise<Response> => {
    const r = await res;
    if (r.status !== 200) throw new Error(`${what}: ${r.status} ${await r.text()}`);
    return r;
  };
  const mgmt = (
    (await (await ok(send('/v1/acl/bootstrap', { method: 'PUT' }), 'bootstrap')).json()) as { SecretID: string }
  ).SecretID;
  const headers = { 'X-Consul-Token': mgmt };
  const tokens: Record<Caller, string | undefined> = {
    none: undefined,
    read: undefined,
    write: undefined,
    deny: undefined,
  };
  for (const p of ['read', 'write', 'deny'] as const) {
    await ok(
      send('/v1/acl/policy', { method: 'PUT', headers, body: JSON.stringify({ Name: `all-${p}`, Rules: rules(p) }) }),
      `policy all-${p}`,
    );
    const token = await ok(
      send('/v1/acl/token', { method: 'PUT', headers, body: JSON.stringify({ Policies: [{ Name: `all-${p}` }] }) }),
      `token all-${p}`,
    );
    tokens[p] = ((await token.json()) as { SecretID: string }).SecretID;
  }
  return { mgmt, tokens };
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
  send: Send,
  tokens: Readonly<Record<Caller, string | undefined>>,
  routes: readonly RouteCase[],
): Promise<string[]> {
  const failures: string[] = [];
  for (const route of routes) {
    for (const who of CALLERS) {
      const secret = tokens[who];
      const res = await send(route.path, {
        method: route.method,
        headers: secret ? { 'X-Consul-Token': secret } : {},
        ...(route.body !== undefined ? { body: route.body } : {}),
      });
      const label = `${route.method} ${route.path} as ${who}`;
      if (route.stream) {
        await res.body?.cancel();
        if (res.status !== route.expect[who]) failures.push(`${label}: ${res.status}, expected ${route.expect[who]}`);
        continue;
      }
      const text = await res.text();
      if (res.status !== route.expect[who])
        failures.push(`${label}: ${res.status} (${text.trim().slice(0, 120)}), expected ${route.expect[who]}`);
      if (route.count && res.status === 200) {
        const body = JSON.parse(text) as unknown;
        const n = Array.isArray(body) ? body.length : Object.keys(body as object).length;
        if (n !== route.count[who]) failures.push(`${label}: sees ${n} items, expected ${route.count[who]}`);
      }
      if (res.status === 403 && secret !== undefined && text.includes(secret))
        failures.push(`${label}: the secret appears in the answer`);
    }
  }
  return failures;
}
