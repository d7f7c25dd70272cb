import type { Indexed } from '../util/indexed.js';
import type { WatchTarget } from '../watch/watch-registry.js';
import type { ApiDeps } from './context.js';
import type { ReadOptions } from './query.js';
import type { TraceSpan } from '../ports/tracing.js';

/**
 * Runs a read as a Consul blocking query. `run` is evaluated at once; if the request has no
 * index, or the result's index exceeds it, that result is returned. Otherwise the query waits
 * until a change to `target` raises the index above it, the wait (plus up to wait/16 jitter)
 * runs out, the client goes away (`signal`, asked for only when the query does wait: building a
 * request's signal costs a Node server a full Request) or the server shuts down, and returns the
 * latest result. The returned index is never 0. With `span` (the request's, when tracing), the
 * wait is recorded on it as events: when it began and how it ended. `stop` ends the wait too (the
 * request's token changed).
 */
export async function blockingQuery<T>(
  deps: ApiDeps,
  options: ReadOptions,
  target: WatchTarget,
  run: () => Indexed<T>,
  signal?: () => AbortSignal | undefined,
  span?: TraceSpan,
  stop?: AbortSignal,
): Promise<Indexed<T>> {
  let result = atLeastOne(run());
  if (options.minIndex === 0 || result.index > options.minIndex) return result;
  const { clock, watches } = deps;
  const deadline = clock.now() + options.waitMs + deps.rng.next() * (options.waitMs / 16);
  deps.logger.trace('blocking query waiting', { min_index: options.minIndex, wait_ms: options.waitMs });
  span?.addEvent('blocking query wait', { 'konsul.min_index': options.minIndex, 'konsul.wait_ms': options.waitMs });
  const stops = [signal?.(), deps.shutdownSignal, stop].filter((s): s is AbortSignal => s !== undefined);
  while (!stops.some((s) => s.aborted)) {
    const remaining = deadline - clock.now();
    if (remaining <= 0) break;
    await new Promise<void>((resolve) => {
      const cancelWatch = watches.watch(target, done);
      const timer = clock.setTimer(done, remaining);
      for (const s of stops) s.addEventListener('abort', done);
      function done(): void {
        cancelWatch();
        clock.clearTimer(timer);
        for (const s of stops) s.removeEventListener('abort', done);
        resolve();
      }
    });
    result = atLeastOne(run());
    if (result.index > options.minIndex) break;
  }
  span?.addEvent('blocking query woken', { 'konsul.index': result.index });
  return result;
}

function atLeastOne<T>(r: Indexed<T>): Indexed<T> {
  return r.index >= 1 ? r : { index: 1, value: r.value };
}
