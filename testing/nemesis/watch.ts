import { neverSent, pickTarget, type WorkloadEnv } from './workloads.js';
import { SseParser } from '../../core/sync/sse-parser.js';

/** The prefix the writer fills and the watchers and the blocking client follow. */
export const WATCH_PREFIX = 'nemesis/watch/';
/** A watch stream that sends nothing (not even a keep-alive) for this long is abandoned (ms). */
const IDLE_MS = 20_000;
/** Most events a watcher keeps (beyond it, the run is too long for this workload's check). */
const MAX_EVENTS = 500_000;

/** What the watch workload saw. */
export interface WatchHistory {
  /** Writes: key → 'ok' (acknowledged) or 'unknown'; refused writes are left out. */
  readonly writes: Map<string, { value: string; outcome: 'ok' | 'unknown' }>;
  /** Per watcher: the events it got (in order), the keys it read in full after each (re)start, resyncs. */
  readonly watchers: Array<{
    events: Array<{ id: string; key: string; value: string | null; server: string }>;
    snapshotKeys: Set<string>;
    resyncs: number;
    reconnects: number;
  }>;
  /** The blocking client's answers: X-Consul-Index in order, with the server that gave it. */
  readonly blocking: Array<{ index: number; server: string; at: number }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Parses "index" or "index:seq" into a comparable pair. */
function position(id: string): [number, number] {
  const [i, s] = id.split(':');
  return [Number(i), s === undefined ? Number.MAX_SAFE_INTEGER : Number(s)];
}

/**
 * Runs, until `stopWriter` aborts, one writer (keys nemesis/watch/0, 1, 2… with unique values)
 * and, until `stopReaders` aborts, `watchers` clients following `/v1/watch/kv/nemesis/watch/`
 * (moving to another server on a drop or 20 s of silence, resuming from their last event id;
 * after a resync they read the prefix in full and go on from that read's index) and one client
 * following the prefix with blocking queries (default consistency) on random servers. `history`
 * fills as they go; `done` resolves with it once all have stopped.
 */
export function runWatchWorkload(
  o: WorkloadEnv & { watchers: number; stopWriter: AbortSignal; stopReaders: AbortSignal },
): { readonly history: WatchHistory; readonly done: Promise<WatchHistory> } {
  const h: WatchHistory = { writes: new Map(), watchers: [], blocking: [] };
  const target = () => pickTarget(o);
  const writer = async (): Promise<void> => {
    for (let n = 0; !o.stopWriter.aborted; n++) {
      const t = target();
      if (!t) {
        await sleep(100);
        continue;
      }
      const key = `${WATCH_PREFIX}${n}`;
      const value = `w${n}`;
      const start = o.now();
      let outcome: 'ok' | 'unknown' | 'fail' = 'unknown';
      try {
        const res = await fetch(`http://${t.http}/v1/kv/${key}`, {
          method: 'PUT',
          body: value,
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        if (res.status === 200 && text === 'true') outcome = 'ok';
        else if (/not applied/.test(text)) outcome = 'fail';
      } catch (err) {
        if (neverSent(err)) outcome = 'fail';
      }
      o.sample({ at: start, ms: o.now() - start, workload: 'watch', outcome });
      if (outcome !== 'fail') h.writes.set(key, { value, outcome });
      await sleep(20);
    }
  };
  const watcher = async (w: WatchHistory['watchers'][number]): Promise<void> => {
    let lastId = '';
    let fromIndex = 0;
    while (!o.stopReaders.aborted) {
      const t = target();
      if (!t) {
        await sleep(200);
        continue;
      }
      const stop = new AbortController();
      const onStop = () => stop.abort();
      o.stopReaders.addEventListener('abort', onStop, { once: true });
      try {
        if (!lastId && fromIndex === 0) {
          // A full read first; the stream continues from its index.
          const res = await fetch(`http://${t.http}/v1/kv/${WATCH_PREFIX}?recurse&consistent`, {
            signal: AbortSignal.any([stop.signal, AbortSignal.timeout(10_000)]),
          });
          if (res.status !== 200 && res.status !== 404) throw new Error(`read ${res.status}`);
          if (res.status === 200)
            for (const e of (await res.json()) as Array<{ Key: string }>) w.snapshotKeys.add(e.Key);
          else await res.body?.cancel();
          fromIndex = Number(res.headers.get('X-Consul-Index') ?? 0);
        }
        const headers: Record<string, string> = lastId ? { 'Last-Event-ID': lastId } : {};
        const res = await fetch(`http://${t.http}/v1/watch/kv/${WATCH_PREFIX}${lastId ? '' : `?index=${fromIndex}`}`, {
          headers,
          signal: stop.signal,
        });
        if (res.status !== 200) throw new Error(`watch ${res.status}`);
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        const decoder = new TextDecoder();
        const parser = new SseParser(1 << 20);
        let idle = setTimeout(() => stop.abort(), IDLE_MS);
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            clearTimeout(idle);
            idle = setTimeout(() => stop.abort(), IDLE_MS);
            for (const { event, id = '', data } of parser.push(decoder.decode(value, { stream: true }))) {
              if (event === 'resync') {
                // The stream cannot go on without a gap: read everything again and go on from there.
                w.resyncs++;
                lastId = '';
                fromIndex = 0;
                stop.abort();
                break;
              }
              const d = JSON.parse(data) as { Op: string; Key?: string; Entry?: { Value: string | null } | null };
              if (id) lastId = id;
              if (d.Key && w.events.length < MAX_EVENTS)
                w.events.push({
                  id,
                  key: d.Key,
                  value: d.Entry?.Value ? Buffer.from(d.Entry.Value, 'base64').toString() : null,
                  server: t.name,
                });
            }
          }
        } finally {
          clearTimeout(idle);
        }
      } catch {
        // Dropped, refused or silent: another server.
      } finally {
        o.stopReaders.removeEventListener('abort', onStop);
      }
      if (!o.stopReaders.aborted) {
        w.reconnects++;
        await sleep(200);
      }
    }
  };
  const blocking = async (): Promise<void> => {
    let index = 0;
    while (!o.stopReaders.aborted) {
      const t = target();
      if (!t) {
        await sleep(200);
        continue;
      }
      try {
        const res = await fetch(`http://${t.http}/v1/kv/${WATCH_PREFIX}?keys&index=${index}&wait=5s`, {
          signal: AbortSignal.any([o.stopReaders, AbortSignal.timeout(15_000)]),
        });
        await res.body?.cancel();
        if (res.status === 200 || res.status === 404) {
          const next = Number(res.headers.get('X-Consul-Index') ?? 0);
          h.blocking.push({ index: next, server: t.name, at: o.now() });
          index = next;
        }
      } catch {
        await sleep(200);
      }
    }
  };
  for (let i = 0; i < o.watchers; i++)
    h.watchers.push({ events: [], snapshotKeys: new Set(), resyncs: 0, reconnects: 0 });
  const done = Promise.all([writer(), blocking(), ...h.watchers.map((w) => watcher(w))]).then(() => h);
  return { history: h, done };
}

/** What the watch checker found. */
export interface WatchVerdict {
  readonly ok: boolean;
  readonly detail: string;
  readonly anomalies: Array<{ what: string; evidence: unknown }>;
}

/**
 * Checks the watch history: per watcher, event ids only go forward (none repeated), every event
 * is of a write that was sent, and every acknowledged write was seen (as an event or in a full
 * read); the blocking client's index never went backwards.
 */
export function checkWatch(h: WatchHistory): WatchVerdict {
  const anomalies: WatchVerdict['anomalies'] = [];
  h.watchers.forEach((w, i) => {
    let prev: [number, number] = [-1, -1];
    const backwards: unknown[] = [];
    for (const e of w.events) {
      const p = position(e.id);
      if (p[0] < prev[0] || (p[0] === prev[0] && p[1] <= prev[1])) backwards.push(e);
      prev = p;
    }
    if (backwards.length > 0)
      anomalies.push({ what: `watcher ${i}: event ids went backwards or repeated`, evidence: backwards.slice(0, 20) });
    const phantom = w.events.filter((e) => e.value !== null && h.writes.get(e.key)?.value !== e.value);
    if (phantom.length > 0)
      anomalies.push({ what: `watcher ${i}: events of writes never sent`, evidence: phantom.slice(0, 20) });
    const seen = new Set([...w.snapshotKeys, ...w.events.map((e) => e.key)]);
    const missed = [...h.writes].filter(([k, v]) => v.outcome === 'ok' && !seen.has(k)).map(([k]) => k);
    if (missed.length > 0)
      anomalies.push({ what: `watcher ${i}: acknowledged writes never seen`, evidence: missed.slice(0, 50) });
  });
  const back = h.blocking.filter((b, i) => i > 0 && b.index < (h.blocking[i - 1] as { index: number }).index);
  if (back.length > 0)
    anomalies.push({
      what: 'a blocking query answered an index lower than the previous answer',
      evidence: back.slice(0, 20).map((b) => ({ ...b, previous: h.blocking[h.blocking.indexOf(b) - 1] })),
    });
  const acked = [...h.writes.values()].filter((v) => v.outcome === 'ok').length;
  const events = h.watchers.reduce((n, w) => n + w.events.length, 0);
  const resyncs = h.watchers.reduce((n, w) => n + w.resyncs, 0);
  const reconnects = h.watchers.reduce((n, w) => n + w.reconnects, 0);
  return {
    ok: anomalies.length === 0,
    detail:
      `${acked} acknowledged writes; ${h.watchers.length} watchers got ${events} events over ${reconnects} ` +
      `reconnects and ${resyncs} resyncs; ${h.blocking.length} blocking answers`,
    anomalies,
  };
}
