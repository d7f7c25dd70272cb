import { formatFloat, GoFloat } from './format.js';

// How templates encode values as consul-template does: Go's JSON (maps sorted, structs in field
// order, HTML escaped), YAML, Go time layouts, and the `scratch` pad.

/**
 * consul-template's `scratch`: a place a render keeps values in (not shared between templates or
 * renders). Set/SetX/MapSet/MapSetX give "" so they print nothing.
 */
export class Scratch {
  readonly #values = new Map<string, unknown>();
  /** Whether `k` holds a value. */
  Key(k: unknown): boolean {
    return this.#values.has(String(k));
  }
  /** The value at `k`, or nothing. */
  Get(k: unknown): unknown {
    return this.#values.get(String(k));
  }
  /** Sets `k` to `v`. */
  Set(k: unknown, v: unknown): string {
    this.#values.set(String(k), v);
    return '';
  }
  /** Sets `k` to `v` unless `k` holds a value. */
  SetX(k: unknown, v: unknown): string {
    if (!this.#values.has(String(k))) this.#values.set(String(k), v);
    return '';
  }
  /** Sets `mk` to `v` in the map at `k` (made when missing). */
  MapSet(k: unknown, mk: unknown, v: unknown): string {
    this.#map(k)[String(mk)] = v;
    return '';
  }
  /** Sets `mk` to `v` in the map at `k` unless it holds a value there. */
  MapSetX(k: unknown, mk: unknown, v: unknown): string {
    const m = this.#map(k);
    if (!(String(mk) in m)) m[String(mk)] = v;
    return '';
  }
  /** The values of the map at `k`, ordered by their keys. */
  MapValues(k: unknown): unknown[] {
    const m = this.#values.get(String(k));
    if (!m || typeof m !== 'object') return [];
    const o = m as Record<string, unknown>;
    return Object.keys(o)
      .sort()
      .map((x) => o[x]);
  }
  #map(k: unknown): Record<string, unknown> {
    const cur = this.#values.get(String(k));
    if (cur && typeof cur === 'object' && !Array.isArray(cur)) return cur as Record<string, unknown>;
    const m: Record<string, unknown> = {};
    this.#values.set(String(k), m);
    return m;
  }
}

/** Values as JSON sees them: ServiceTags and other arrays as arrays, Maps as objects. */
export function plain(v: unknown): unknown {
  if (v instanceof GoFloat) return v;
  if (Array.isArray(v)) return [...v].map(plain);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'function') o[k] = plain(x);
    return isGoStruct(v) ? goStruct(o) : o;
  }
  return v;
}

/** The objects marked as Go structs (weakly held: they go with their render). */
const STRUCTS = new WeakSet<object>();

/** Marks `o` as a Go struct (its fields keep their order in toJSON), not a map; returns it. */
export function goStruct<T extends object>(o: T): T {
  STRUCTS.add(o);
  return o;
}

/** Whether `o` was marked a Go struct by goStruct. */
export const isGoStruct = (o: unknown): boolean => typeof o === 'object' && o !== null && STRUCTS.has(o);

/**
 * Go's json.Marshal (map keys sorted, struct fields in order) or MarshalIndent with `indent`; with
 * `escapeHtml`, `<`, `>`, `&`, U+2028 and U+2029 escaped as Go does.
 */
export function goJson(v: unknown, indent: string | undefined, escapeHtml = true): string {
  const sorted = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sorted);
    if (x instanceof GoFloat) return x.value;
    if (x && typeof x === 'object') {
      // Go marshals a map with its keys sorted, a struct in its fields' order.
      const keys = Object.keys(x as object);
      if (!isGoStruct(x)) keys.sort();
      return Object.fromEntries(keys.map((k) => [k, sorted((x as Record<string, unknown>)[k])]));
    }
    return x === undefined ? null : x;
  };
  const s = JSON.stringify(sorted(plain(v)), null, indent) ?? 'null';
  if (!escapeHtml) return s;
  return s.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A map or list in YAML (not a scalar: a GoFloat is an object, but a number to YAML). */
const isYamlNode = (x: unknown): x is object => typeof x === 'object' && x !== null && !(x instanceof GoFloat);

/** YAML of plain data (keys sorted), the way consul-template's toYAML prints maps, lists and scalars. */
export function toYaml(v: unknown, depth: number): string {
  const ind = '  '.repeat(depth);
  const scalar = (x: unknown): string => {
    if (x === null || x === undefined) return 'null';
    if (x instanceof GoFloat || typeof x === 'number') return formatFloat(x);
    if (typeof x === 'string') {
      if (
        x === '' ||
        /^[\s]|[\s]$|[:#\-?{}[\],&*!|>'"%@`]|^(true|false|null|yes|no|on|off|~|[-+.\d][\d.eE+-]*)$/i.test(x)
      )
        return JSON.stringify(x);
      return x;
    }
    return String(x);
  };
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]\n';
    return v
      .map((x) => {
        if (isYamlNode(x) && !(Array.isArray(x) && x.length === 0)) {
          const inner = toYaml(x, depth + 1).replace(/^\s+/, '');
          return `${ind}- ${inner}`;
        }
        return `${ind}- ${scalar(x)}\n`;
      })
      .join('');
  }
  if (isYamlNode(v)) {
    const keys = Object.keys(v).sort();
    if (keys.length === 0) return '{}\n';
    return keys
      .map((k) => {
        const x = (v as Record<string, unknown>)[k];
        if (isYamlNode(x) && (Array.isArray(x) ? x.length > 0 : Object.keys(x).length > 0))
          return `${ind}${scalar(k)}:\n${toYaml(x, Array.isArray(x) ? depth : depth + 1)}`;
        return `${ind}${scalar(k)}: ${Array.isArray(x) ? '[]' : isYamlNode(x) ? '{}' : scalar(x)}\n`;
      })
      .join('');
  }
  return `${scalar(v)}\n`;
}

/** A time formatted with a Go layout (reference time Mon Jan 2 15:04:05 MST 2006), in UTC. */
export function goTimeFormat(d: Date, layout: string): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const months = [
    'January',
    'February',
    'March',
    'April',
    'May',
    'June',
    'July',
    'August',
    'September',
    'October',
    'November',
    'December',
  ];
  const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const tokens: Array<[string, () => string]> = [
    ['2006', () => String(d.getUTCFullYear())],
    ['January', () => months[d.getUTCMonth()] as string],
    ['Monday', () => days[d.getUTCDay()] as string],
    ['Jan', () => (months[d.getUTCMonth()] as string).slice(0, 3)],
    ['Mon', () => (days[d.getUTCDay()] as string).slice(0, 3)],
    ['MST', () => 'UTC'],
    ['Z07:00', () => 'Z'],
    ['-07:00', () => '+00:00'],
    ['-0700', () => '+0000'],
    ['.000', () => `.${String(d.getUTCMilliseconds()).padStart(3, '0')}`],
    ['01', () => p2(d.getUTCMonth() + 1)],
    ['02', () => p2(d.getUTCDate())],
    ['06', () => p2(d.getUTCFullYear() % 100)],
    ['15', () => p2(d.getUTCHours())],
    ['03', () => p2(d.getUTCHours() % 12 || 12)],
    ['04', () => p2(d.getUTCMinutes())],
    ['05', () => p2(d.getUTCSeconds())],
    ['PM', () => (d.getUTCHours() >= 12 ? 'PM' : 'AM')],
    ['pm', () => (d.getUTCHours() >= 12 ? 'pm' : 'am')],
    ['1', () => String(d.getUTCMonth() + 1)],
    ['2', () => String(d.getUTCDate())],
    ['3', () => String(d.getUTCHours() % 12 || 12)],
  ];
  let out = '';
  for (let i = 0; i < layout.length;) {
    const hit = tokens.find(([t]) => layout.startsWith(t, i));
    if (hit) {
      out += hit[1]();
      i += hit[0].length;
    } else out += layout.charAt(i++);
  }
  return out;
}
