import { readFileSync } from 'node:fs';
import type { KonsulClient } from '../client/api.js';
import type { Dependency } from '../../core/template/functions.js';
import type { DependencyWatcher } from '../../core/template/runner.js';

/** How a blocking-query watcher waits and retries. */
export interface BlockingWatcherOptions {
  /** The `wait` of each blocking query (default "60s"). */
  readonly wait?: string;
  /** Pause after a failed query before the next (ms, default 1000; doubled up to 30 s while it keeps failing). */
  readonly retryMs?: number;
  /** Told of each failed query (the watch goes on). */
  readonly onError?: (dep: Dependency, message: string) => void;
  /** How often a `file` dependency is checked for changes (ms, default 1000). */
  readonly filePollMs?: number;
}

/** Follows a local file (`file` in a template): its text, or null while it cannot be read. */
function watchLocalFile(path: string, onValue: (value: unknown) => void, pollMs: number): () => void {
  const read = (): string | null => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  };
  let last = read();
  onValue(last);
  // Read again every pollMs (template inputs are small files); a stat-based watch could miss a
  // change made between this first read and its own first look.
  const timer = setInterval(() => {
    const now = read();
    if (now === last) return;
    last = now;
    onValue(now);
  }, pollMs);
  timer.unref?.();
  return () => clearInterval(timer);
}

/**
 * A DependencyWatcher over the Consul HTTP API (and the local file system for `file`): one
 * blocking-query loop per dependency
 * (`?index=` from the last `X-Consul-Index`, reset when the index goes backwards), which reports
 * an answer whenever the index moves (null for a 404). Works against servers and edge agents
 * alike: an agent answers from its replica, also while its link is down.
 */
export function blockingWatcher(client: KonsulClient, o: BlockingWatcherOptions = {}): DependencyWatcher {
  const wait = o.wait ?? '60s';
  const retryMs = o.retryMs ?? 1000;
  return {
    watch(dep: Dependency, onValue: (value: unknown) => void): () => void {
      if (dep.kind === 'file') return watchLocalFile(dep.id.slice('file:'.length), onValue, o.filePollMs ?? 1000);
      const stop = new AbortController();
      const [path, qs] = dep.id.split('?', 2) as [string, string | undefined];
      const base: Record<string, string | boolean> = {};
      for (const [k, v] of new URLSearchParams(qs ?? '')) base[k] = v === '' ? true : v;
      void (async () => {
        let index = 0;
        let reported = false;
        let backoff = retryMs;
        while (!stop.signal.aborted) {
          try {
            const a = await client.request('GET', path, {
              query: { ...base, ...(index > 0 ? { index, wait } : {}) },
              signal: stop.signal,
            });
            if (stop.signal.aborted) return;
            if (a.status !== 200 && a.status !== 404) throw new Error(`${a.status} ${a.body.toString().trim()}`);
            const next = Number(a.headers['x-consul-index'] ?? 0);
            if (!reported || next !== index) {
              onValue(a.status === 404 ? null : (JSON.parse(a.body.toString()) as unknown));
              reported = true;
            }
            // An index that went backwards (a restored snapshot, another server) starts over.
            index = next < index ? 0 : next;
            backoff = retryMs;
          } catch (err) {
            if (stop.signal.aborted) return;
            o.onError?.(dep, err instanceof Error ? err.message : String(err));
            await new Promise((r) => setTimeout(r, backoff));
            backoff = Math.min(backoff * 2, 30_000);
          }
        }
      })();
      return () => stop.abort();
    },
  };
}
