import { useEffect, useRef, useState } from 'react';
import { api, errorText, stream } from './api.js';
import { Alert } from './common.js';

/** One sample of Prometheus text: metric name, labels, value. */
interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus' text format (comments skipped; a line that does not parse is skipped too). */
export function parseProm(text: string): PromSample[] {
  const out: PromSample[] = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const l of text.split('\n')) {
    if (l.startsWith('#') || l.trim() === '') continue;
    const m = line.exec(l);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(label)) labels[lm[1] as string] = lm[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

const WRITE_METHODS = new Set(['PUT', 'POST', 'DELETE', 'PATCH']);

/** What the charts need from one scrape, as running totals (rates come from two scrapes). */
interface Totals {
  at: number;
  writes: number;
  reads: number;
  blocking: number;
  /** Write requests by bucket bound (le), cumulative as Prometheus has them. */
  writeBuckets: Map<number, number>;
}

function totals(samples: PromSample[], at: number): Totals {
  const t: Totals = { at, writes: 0, reads: 0, blocking: 0, writeBuckets: new Map() };
  for (const s of samples) {
    const write = WRITE_METHODS.has(s.labels.method ?? '');
    if (s.name === 'konsul_http_request_duration_seconds_count') {
      if (write) t.writes += s.value;
      else if (s.labels.method === 'GET') t.reads += s.value;
    } else if (s.name === 'konsul_http_request_duration_seconds_bucket' && write) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      t.writeBuckets.set(le, (t.writeBuckets.get(le) ?? 0) + s.value);
    } else if (s.name === 'konsul_blocking_queries_waiting') t.blocking = s.value;
  }
  return t;
}

/** The 99th percentile bucket bound (ms) of the writes between two scrapes; undefined with none. */
function p99Ms(a: Totals, b: Totals): number | undefined {
  const bounds = [...b.writeBuckets.keys()].sort((x, y) => x - y);
  const total = (b.writeBuckets.get(Infinity) ?? 0) - (a.writeBuckets.get(Infinity) ?? 0);
  if (total <= 0) return undefined;
  for (const le of bounds) {
    const n = (b.writeBuckets.get(le) ?? 0) - (a.writeBuckets.get(le) ?? 0);
    if (n >= 0.99 * total) return le === Infinity ? undefined : le * 1000;
  }
  return undefined;
}

interface Point {
  at: number;
  writes: number;
  reads: number;
  p99?: number;
  blocking: number;
}

/** Samples kept for the charts (2 minutes at one scrape per 2 s). */
const POINTS = 60;
/** Changes kept in the live feed. */
const FEED = 50;

/** A small line chart of `values` (the newest on the right), with the latest value as its label. */
function Spark({ title, values, unit }: { title: string; values: Array<number | undefined>; unit: string }) {
  const W = 240;
  const H = 60;
  const nums = values.filter((v): v is number => v !== undefined);
  const max = Math.max(1, ...nums);
  const xy = values.flatMap((v, i) =>
    v === undefined ? [] : [[(i / (POINTS - 1)) * (W - 4) + 2, H - (v / max) * (H - 4) - 2] as const],
  );
  const pts = xy.map(([x, y]) => `${x},${y}`).join(' ');
  const last = nums[nums.length - 1];
  return (
    <figure className="spark" aria-label={title}>
      <figcaption>
        {title}:{' '}
        <strong data-latest>
          {last === undefined ? '—' : `${Number.isInteger(last) ? last : last.toFixed(last < 10 ? 1 : 0)} ${unit}`}
        </strong>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={`${title} over the last 2 minutes`}>
        <polyline points={pts} fill="none" stroke="currentColor" strokeWidth="1.5" />
        {xy.map(([x, y], i) => (
          <circle key={i} cx={x} cy={y} r="2" fill="currentColor" />
        ))}
      </svg>
    </figure>
  );
}

interface FeedItem {
  id: string;
  text: string;
  at: number;
}

/**
 * Activity: writes/s, reads/s, write p99 and waiting blocking queries from the server's metrics
 * (scraped every 2 s), and a live feed of KV changes and user events from the watch streams.
 */
export function Activity() {
  const [points, setPoints] = useState<Point[]>([]);
  const [error, setError] = useState('');
  const [feed, setFeed] = useState<FeedItem[]>([]);
  const prev = useRef<Totals | undefined>(undefined);
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const scrape = async () => {
      try {
        const text = await (await api('/v1/agent/metrics?format=prometheus')).text();
        const now = totals(parseProm(text), Date.now());
        const before = prev.current;
        prev.current = now;
        if (before && alive) {
          const secs = Math.max(0.001, (now.at - before.at) / 1000);
          const p: Point = {
            at: now.at,
            writes: Math.max(0, now.writes - before.writes) / secs,
            reads: Math.max(0, now.reads - before.reads) / secs,
            p99: p99Ms(before, now),
            blocking: now.blocking,
          };
          setPoints((ps) => [...ps, p].slice(-POINTS));
        }
        if (alive) setError('');
      } catch (err) {
        if (alive) setError(errorText(err));
      }
      if (alive) timer = setTimeout(() => void scrape(), 2000);
    };
    void scrape();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, []);
  useEffect(() => {
    const stop = new AbortController();
    const add = (item: FeedItem) => setFeed((f) => [item, ...f].slice(0, FEED));
    void stream(
      '/v1/watch/kv/',
      (e) => {
        const d = JSON.parse(e.data) as { Index: number; Op: string; Key?: string; Prefix?: string };
        add({ id: `kv-${e.id}`, at: Date.now(), text: `${d.Op} ${d.Key ?? `${d.Prefix ?? ''}*`} (index ${d.Index})` });
      },
      stop.signal,
    );
    void stream(
      '/v1/watch/events',
      (e) => {
        const d = JSON.parse(e.data) as { Index: number; Event: { Name: string } };
        add({ id: `ev-${e.id}`, at: Date.now(), text: `event ${d.Event.Name} (index ${d.Index})` });
      },
      stop.signal,
    );
    return () => stop.abort();
  }, []);
  const padded = <T,>(pick: (p: Point) => T) => [
    ...Array<undefined>(Math.max(0, POINTS - points.length)).fill(undefined),
    ...points.map(pick),
  ];
  return (
    <section>
      <h1>Activity</h1>
      <Alert text={error} />
      <div className="sparks">
        <Spark title="Writes" unit="/s" values={padded((p) => p.writes)} />
        <Spark title="Reads" unit="/s" values={padded((p) => p.reads)} />
        <Spark title="Write p99" unit="ms" values={padded((p) => p.p99)} />
        <Spark title="Blocking queries" unit="" values={padded((p) => p.blocking)} />
      </div>
      <h2>Recent changes</h2>
      {feed.length === 0 && <p>Waiting for changes…</p>}
      <ol aria-label="recent changes" className="feed">
        {feed.map((f) => (
          <li key={f.id}>
            <time>{new Date(f.at).toLocaleTimeString()}</time> {f.text}
          </li>
        ))}
      </ol>
    </section>
  );
}
