import { BadRequestError } from '../errors.js';
import type { WatchTarget } from '../watch/watch-registry.js';
import type { ApiDeps } from './context.js';
import { parseReadOptions } from './query.js';
import { jsonResponse } from './respond.js';

/**
 * The notification slot of the local agent's state (services, checks, maintenance): the agent's
 * owner calls `watches.notify([AGENT_WATCH_TARGET])` after each local change (LocalAgent's
 * onLocalChange), and hash-blocking queries wait on it.
 */
export const AGENT_WATCH_TARGET: WatchTarget & { readonly key: string } = { table: '_agent', key: '' };

/**
 * A rendered answer of a hash-blocking endpoint: the JSON body its hash is taken over, its status
 * (default 200), and optionally the body as sent given that hash (Consul's /v1/agent/service/:id
 * also carries it as a `ContentHash` field).
 */
export interface HashedAnswer {
  readonly body: string;
  readonly status?: number;
  readonly withHash?: (hash: string) => string;
}

/** Longest ?hash= accepted (ours are 16 hex digits; Consul's up to 20 characters). */
const MAX_HASH_CHARS = 64;

/**
 * An opaque digest of `text`: two 32-bit FNV-1a variants (different offset bases), 16 hex
 * digits. Equal texts give equal hashes; a change is missed only on a 64-bit collision.
 */
export function contentHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/**
 * Consul's hash-based blocking for endpoints over the local agent's state (agentLocalBlockingQuery):
 * the answer carries `X-Consul-ContentHash`; with `?hash=<h>` the request waits until the answer's
 * hash differs from h, the wait (`?wait`, default 5m, max 10m, plus up to wait/16 jitter) runs
 * out, the client goes away or the server shuts down, then returns the current answer. `render`
 * is re-run after each change of the agent's state (it may throw, e.g. NotFoundError, which ends
 * the wait with that error). A waiting query counts against the blocking-query limit
 * (OverloadedError, 503). BadRequestError for an over-long hash or a bad wait.
 */
export async function hashBlockingQuery(deps: ApiDeps, req: Request, render: () => HashedAnswer): Promise<Response> {
  const url = new URL(req.url);
  const wanted = url.searchParams.get('hash') ?? '';
  if (wanted.length > MAX_HASH_CHARS)
    throw new BadRequestError(`Invalid hash: longer than ${MAX_HASH_CHARS} characters`);
  let answer = render();
  let hash = contentHash(answer.body);
  if (wanted !== '' && wanted === hash) {
    const { waitMs } = parseReadOptions(url, deps);
    const { clock } = deps;
    const deadline = clock.now() + waitMs + deps.rng.next() * (waitMs / 16);
    const stops = [deps.clientGone?.(req) ?? req.signal, deps.shutdownSignal];
    while (!stops.some((s) => s.aborted)) {
      const remaining = deadline - clock.now();
      if (remaining <= 0) break;
      await new Promise<void>((resolve) => {
        // Throws OverloadedError at the blocking-query limit (before anything else is set up).
        const cancelWatch = deps.watches.watch(AGENT_WATCH_TARGET, done);
        const timer = clock.setTimer(done, remaining);
        for (const s of stops) s.addEventListener('abort', done);
        function done(): void {
          cancelWatch();
          clock.clearTimer(timer);
          for (const s of stops) s.removeEventListener('abort', done);
          resolve();
        }
      });
      answer = render();
      hash = contentHash(answer.body);
      if (hash !== wanted) break;
    }
  }
  const body = answer.withHash ? answer.withHash(hash) : answer.body;
  return jsonResponse(body, answer.status ?? 200, { 'X-Consul-ContentHash': hash });
}
