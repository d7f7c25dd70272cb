import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';
import type { WatchTarget } from '../watch/watch-registry.js';
import { blockingQuery } from './blocking.js';
import type { ApiDeps } from './context.js';
import { consistentBarrier, parseReadOptions } from './query.js';
import { jsonResponse, readHeaders } from './respond.js';
import { type Rendered, type RenderedKey, renderedCacheOf } from './rendered-cache.js';
import { type WeightedJson, weightedJsonArray } from '../catalog/shuffle.js';

/** The value a read produced, or an answer rendered earlier at the same index. */
type Read<T> = { readonly value: T } | { readonly text: Rendered };

/**
 * What `render` returns for an answer whose elements go out in a weighted random order, new for
 * every answer (load balancing): each element's JSON text with its weight (weightedJsonArray).
 */
export class ShuffledAnswer {
  constructor(readonly parts: readonly WeightedJson[]) {}
}

/** The JSON text of a rendered answer, ordered for this request when it is shuffled. */
const answerText = (r: Rendered, deps: ApiDeps): string => (typeof r === 'string' ? r : weightedJsonArray(r, deps.rng));

/**
 * A read endpoint in one call: parses index/wait/consistency, waits for ReadIndex when asked,
 * runs `run` as a blocking query woken by `target`, and answers `render(value)` as JSON with the
 * query-meta headers. `render` may return a status to answer with instead of 200, with a JSON
 * body, or a string body that is sent as plain text (an error message), or a ShuffledAnswer. With
 * `cached`, a 200 answer is kept rendered (RenderedCache) and sent again while the key's index has
 * not moved (a shuffled one in a new order each time): give it only when `render` depends on
 * nothing but the key and the value (no token, no time).
 */
export async function indexedRead<T>(
  deps: ApiDeps,
  req: Request,
  target: WatchTarget,
  run: (tx: ReadTxn) => Indexed<T>,
  render: (value: T) => unknown | { status: number; body: unknown },
  cached?: RenderedKey,
): Promise<Response> {
  const url = new URL(req.url);
  const options = parseReadOptions(url, deps);
  await consistentBarrier(deps, options);
  const cache = cached ? renderedCacheOf(deps.store) : undefined;
  const r = await blockingQuery<Read<T>>(
    deps,
    options,
    target,
    () =>
      deps.store.read((tx): Indexed<Read<T>> => {
        if (cached && cache) {
          const index = cached.index(tx);
          const text = cache.get(cached.key, index);
          if (text !== undefined) return { index, value: { text } };
        }
        const read = run(tx);
        return { index: read.index, value: { value: read.value } };
      }),
    () => req.signal,
  );
  const headers = readHeaders(deps, r.index, options);
  if ('text' in r.value) return jsonResponse(answerText(r.value.text, deps), 200, headers);
  const out = render(r.value.value);
  if (out instanceof ShuffledAnswer) {
    if (cached && cache) cache.set(cached.key, r.index, out.parts);
    return jsonResponse(answerText(out.parts, deps), 200, headers);
  }
  if (out && typeof out === 'object' && 'status' in out && 'body' in out) {
    const o = out as { status: number; body: unknown };
    if (typeof o.body === 'string')
      return new Response(`${o.body}\n`, {
        status: o.status,
        headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8' },
      });
    return jsonResponse(JSON.stringify(o.body), o.status, headers);
  }
  const text = JSON.stringify(out);
  if (cached && cache) cache.set(cached.key, r.index, text);
  return jsonResponse(text, 200, headers);
}
