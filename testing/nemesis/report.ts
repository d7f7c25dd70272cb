import type { FaultRecord } from './faults.js';
import type { OpSample } from './workloads.js';

/** One anomaly a checker found, with what proves it. */
export interface Anomaly {
  readonly checker: string;
  readonly what: string;
  /** The operations (or keys) that show it. */
  readonly evidence: unknown;
}

/** The whole result of a nemesis run (written as report.json). */
export interface NemesisReport {
  readonly seed: number;
  readonly replay: string;
  readonly nodes: number;
  readonly seconds: number;
  readonly network: string;
  readonly faults: readonly FaultRecord[];
  readonly faultsByKind: Record<string, number>;
  readonly ops: { total: number; ok: number; failed: number; unknown: number; perSecond: number };
  /** Share of calls that succeeded while a fault was active, and while none was. */
  readonly availability: { duringFaults: number; quiet: number };
  readonly checks: Record<string, { ok: boolean | 'unknown'; detail: string }>;
  readonly anomalies: readonly Anomaly[];
  readonly verdict: 'ok' | 'anomalies' | 'unknown';
}

/** Share of `ok` among samples (1 when there are none). */
function share(samples: readonly OpSample[]): number {
  return samples.length === 0 ? 1 : samples.filter((s) => s.outcome === 'ok').length / samples.length;
}

/** Whether a call starting at `at` overlaps any fault interval. */
export function inFault(faults: readonly FaultRecord[], at: number): boolean {
  return faults.some((f) => at >= f.start && at <= f.end);
}

/** Availability during faults and outside them. */
export function availability(samples: readonly OpSample[], faults: readonly FaultRecord[]) {
  const during = samples.filter((s) => inFault(faults, s.at));
  const quiet = samples.filter((s) => !inFault(faults, s.at));
  return { duringFaults: share(during), quiet: share(quiet) };
}

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

/** An element: `<name a="v"…>body</name>` (no body: self-closed). Attribute values are escaped. */
function el(name: string, attrs: Record<string, string | number>, body?: string): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${esc(String(typeof v === 'number' ? Math.round(v * 10) / 10 : v))}"`)
    .join('');
  return body === undefined ? `<${name}${a}/>` : `<${name}${a}>${body}</${name}>`;
}

/** A table row of cells (`th` for the first when `head`). */
const row = (cells: readonly string[], head = false) =>
  el('tr', {}, cells.map((c, i) => el(head || (i === 0 && cells.length === 2) ? 'th' : 'td', {}, c)).join(''));

const COLORS: Record<string, string> = {
  kill: '#cf222e',
  pause: '#9a6700',
  partition: '#8250df',
  membership: '#0969da',
  loss: '#bf3989',
  delay: '#1a7f37',
  clock: '#0a7ea4',
  disk: '#57606a',
};

/**
 * The latency-over-time chart as SVG: each call a dot (green ok, red failed, grey unknown) at its
 * start and latency (log scale, 1 ms to 10 s), the faults' intervals shaded by kind, and ops/s.
 */
export function latencySvg(samples: readonly OpSample[], faults: readonly FaultRecord[], seconds: number): string {
  const W = 1200;
  const H = 420;
  const left = 50;
  const top = 10;
  const plotH = 300;
  const endMs = Math.max(1, seconds * 1000);
  const x = (ms: number) => left + (Math.min(ms, endMs) / endMs) * (W - left - 10);
  const y = (ms: number) => top + plotH - (Math.log10(Math.min(Math.max(ms, 1), 10_000)) / 4) * plotH;
  const parts: string[] = [];
  const small = { 'font-size': 10 };
  faults.forEach((f, i) => {
    const span = { x: x(f.start), width: Math.max(1, x(f.end) - x(f.start)), fill: COLORS[f.kind] ?? '#888' };
    parts.push(
      el(
        'rect',
        { ...span, y: top, height: plotH, 'fill-opacity': 0.12 },
        el('title', {}, esc(`${f.kind}: ${f.detail}`)),
      ),
      el('rect', { ...span, y: top + (i % 4) * 6, height: 4 }),
    );
  });
  // At most 20,000 dots: an even sample of the calls.
  const step = Math.max(1, Math.ceil(samples.length / 20_000));
  for (let i = 0; i < samples.length; i += step) {
    const s = samples[i] as OpSample;
    const fill = s.outcome === 'ok' ? '#1a7f37' : s.outcome === 'fail' ? '#cf222e' : '#8c959f';
    parts.push(el('circle', { cx: x(s.at), cy: y(s.ms), r: 1.3, fill }));
  }
  for (const ms of [1, 10, 100, 1000, 10_000])
    parts.push(
      el('line', { x1: left, x2: W - 10, y1: y(ms), y2: y(ms), stroke: '#8884' }),
      el(
        'text',
        { ...small, x: left - 4, y: y(ms) + 4, 'text-anchor': 'end' },
        ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`,
      ),
    );
  // Throughput: calls started per second, as a line under the plot.
  const perSec = new Array<number>(Math.ceil(endMs / 1000) + 1).fill(0);
  for (const s of samples) perSec[Math.floor(s.at / 1000)] = (perSec[Math.floor(s.at / 1000)] ?? 0) + 1;
  const maxRate = Math.max(1, ...perSec);
  const base = top + plotH + 90;
  const points = perSec.map((v, i) => `${x(i * 1000).toFixed(1)},${(base - (v / maxRate) * 70).toFixed(1)}`).join(' ');
  parts.push(
    el('polyline', { points, fill: 'none', stroke: '#0969da' }),
    el('text', { ...small, x: left - 4, y: base - 66, 'text-anchor': 'end' }, `${maxRate}/s`),
    el('text', { ...small, x: left - 4, y: base, 'text-anchor': 'end' }, '0'),
  );
  for (let s = 0; s <= seconds; s += Math.max(10, Math.round(seconds / 10 / 10) * 10))
    parts.push(el('text', { ...small, x: x(s * 1000), y: H - 2, 'text-anchor': 'middle' }, `${s} s`));
  const svg = { xmlns: 'http://www.w3.org/2000/svg', viewBox: `0 0 ${W} ${H}`, width: W, height: H };
  return el('svg', { ...svg, 'font-family': 'sans-serif' }, parts.join(''));
}

const STYLE =
  'body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:1250px}' +
  'td,th{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}' +
  '.ok{color:#1a7f37}.bad{color:#cf222e}pre{white-space:pre-wrap;background:#f6f8fa;padding:.5rem}';

/** The HTML page of a report: verdict, figures, the chart, faults and anomalies, and how to replay. */
export function reportHtml(r: NemesisReport, svg: string): string {
  const json = (v: unknown) => esc(typeof v === 'string' ? v : JSON.stringify(v));
  const figures = {
    seed: r.seed,
    nodes: r.nodes,
    seconds: r.seconds,
    network: r.network,
    ops: r.ops,
    availability:
      `${(r.availability.duringFaults * 100).toFixed(1)}% of calls succeeded during faults, ` +
      `${(r.availability.quiet * 100).toFixed(1)}% outside them`,
    'faults by kind': r.faultsByKind,
  };
  const legend = Object.entries(COLORS)
    .map(([k, c]) => `${el('span', { style: `color:${c}` }, '■')} ${k}`)
    .join(' &nbsp; ');
  const verdictClass = r.verdict === 'ok' ? 'ok' : 'bad';
  const checks = Object.entries(r.checks).map(([k, v]) =>
    el(
      'tr',
      {},
      el('th', {}, esc(k)) +
        el('td', { class: v.ok === true ? 'ok' : 'bad' }, esc(String(v.ok))) +
        el('td', {}, esc(v.detail)),
    ),
  );
  const anomalies = r.anomalies.map(
    (a) =>
      el('h3', {}, esc(`${a.checker}: ${a.what}`)) +
      el('pre', {}, esc(JSON.stringify(a.evidence, null, 1).slice(0, 20_000))),
  );
  const faults = r.faults.map((f) =>
    row([
      f.kind,
      `${(f.start / 1000).toFixed(1)} s`,
      `${(f.end / 1000).toFixed(1)} s`,
      esc(f.detail),
      esc(f.mechanism),
    ]),
  );
  const head =
    el('meta', { charset: 'utf-8' }) + el('title', {}, `Konsul nemesis: ${r.verdict}`) + el('style', {}, STYLE);
  const body = [
    el('h1', {}, `Nemesis run: ${el('span', { class: verdictClass }, r.verdict)}`),
    el('p', {}, `Replay: ${el('code', {}, esc(r.replay))}`),
    el(
      'table',
      {},
      Object.entries(figures)
        .map(([k, v]) => row([esc(k), json(v)]))
        .join(''),
    ),
    el('h2', {}, 'Latency over time'),
    el('p', {}, `${legend}. Dots: calls (green ok, red failed, grey unknown), latency on a log scale; blue: calls/s.`),
    svg,
    el('h2', {}, 'Checks'),
    el('table', {}, checks.join('')),
    el('h2', {}, `Anomalies (${r.anomalies.length})`),
    anomalies.join(''),
    el('h2', {}, `Faults (${r.faults.length})`),
    el('table', {}, row(['kind', 'from', 'to', 'what', 'mechanism'], true) + faults.join('')),
  ];
  return `<!doctype html>${el('html', {}, el('head', {}, head) + el('body', {}, body.join('\n')))}`;
}
