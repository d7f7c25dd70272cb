import { followToken, recheckAccess } from './authz.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';
import type { WatchTarget } from '../watch/watch-registry.js';
import { blockingQuery } from './blocking.js';
import type { ApiDeps } from './context.js';
import { consistentBarrier, parseReadOptions, type ReadOptions } from './query.js';
import { jsonResponse, readHeaders } from './respond.js';
import { type WeightedJson, weightedJsonArray } from '../catalog/shuffle.js';
import { requestSpan } from './request-span.js';

/**
 * What `render` returns for an answer whose elements go out in a weighted random order, new for
 * every answer (load balancing): each element's JSON text with its weight (weightedJsonArray).
 */
export class ShuffledAnswer {
  constructor(readonly parts: readonly WeightedJson[]) {}
}

/** What `render` returns for an answer already rendered as JSON text (a string, or its UTF-8). */
export class JsonText {
  constructor(readonly text: string | Uint8Array<ArrayBuffer>) {}
}

/**
 * A read endpoint in one call: parses index/wait/consistency, waits for ReadIndex when asked,
 * runs `run` as a blocking query woken by `target`, and answers `render(value)` as JSON with the
 * query-meta headers. `render` may return a status to answer with instead of 200, with a JSON
 * body, or a string body that is sent as plain text (an error message), or an answer already
 * rendered: a ShuffledAnswer (ordered anew for this request) or JsonText.
 */
/**
 * A blocking query for `req` (see blockingQuery) that follows the request's token: a change to it
 * ends the wait, and the checks the request passed are made again with the token as it is now
 * (403 when it lost them, "ACL not found" when it is gone).
 */
export async function blockingRead<T>(
  deps: ApiDeps,
  req: Request,
  options: ReadOptions,
  target: WatchTarget,
  run: (tx: ReadTxn) => Indexed<T>,
): Promise<Indexed<T>> {
  const tokenChanged = options.minIndex > 0 ? new AbortController() : undefined;
  const unfollow = tokenChanged ? followToken(deps, req, () => tokenChanged.abort()) : undefined;
  let r: Indexed<T>;
  try {
    r = await blockingQuery(
      deps,
      options,
      target,
      () => deps.store.read(run),
      () => deps.clientGone?.(req) ?? req.signal,
      requestSpan(req),
      tokenChanged?.signal,
    );
  } finally {
    unfollow?.();
  }
  if (tokenChanged?.signal.aborted) recheckAccess(deps, req);
  return r;
}

export async function indexedRead<T>(
  deps: ApiDeps,
  req: Request,
  target: WatchTarget,
  run: (tx: ReadTxn) => Indexed<T>,
  render: (value: T) => unknown | { status: number; body: unknown },
): Promise<Response> {
  const url = new URL(req.url);
  const options = parseReadOptions(url, deps);
  await consistentBarrier(deps, options);
  const r = await blockingRead(deps, req, options, target, run);
  const headers = readHeaders(deps, r.index, options);
  const out = render(r.value);
  if (out instanceof ShuffledAnswer) return jsonResponse(weightedJsonArray(out.parts, deps.rng), 200, headers);
  if (out instanceof JsonText) return jsonResponse(out.text, 200, headers);
  if (out && typeof out === 'object' && 'status' in out && 'body' in out) {
    const o = out as { status: number; body: unknown };
    if (typeof o.body === 'string')
      return new Response(`${o.body}\n`, {
        status: o.status,
        headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8' },
      });
    return jsonResponse(JSON.stringify(o.body), o.status, headers);
  }
  return jsonResponse(JSON.stringify(out), 200, headers);
}
