import { FuncError, type TemplateFunc, truth } from './exec.js';
import { formatValue } from './format.js';

/**
 * What a template reads: from Konsul, the Consul HTTP API path that answers it (with its query);
 * a local file (`file`), `file:<path>`, whose value is its text or null when it cannot be read.
 * The renderer watches one per distinct id, however many times the templates use it.
 */
export interface Dependency {
  /** The API path and query, e.g. `/v1/kv/app/config?recurse`: the dependency's identity. */
  readonly id: string;
  readonly kind: 'kv' | 'kv-tree' | 'health' | 'services' | 'nodes' | 'node' | 'datacenters' | 'file';
}

/** What a TemplateSource knows of a dependency: its last answer (Consul's JSON; null for 404), or not yet. */
export type Lookup = { readonly ready: true; readonly value: unknown } | { readonly ready: false };

/** Where the template functions read from (a cache the renderer fills by watching the dependencies). */
export interface TemplateSource {
  lookup(dep: Dependency): Lookup;
}

/** The ports the non-Consul functions need: environment, time, and (if enabled) plugins. */
export interface TemplateEnv {
  readonly env: (name: string) => string | undefined;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** Runs a plugin command with arguments and returns its standard output; absent: `plugin` is refused. */
  readonly plugin?: (command: string, args: readonly string[]) => string;
}

/** What one render read: each dependency, and whether any was not known yet. */
export interface RenderReads {
  readonly deps: Map<string, Dependency>;
  /** Dependencies read before they were known: the output is not final. */
  readonly missing: Set<string>;
}

/** A KV pair as consul-template gives it (`ls`, `tree`, `key` read through `keyExists`). */
export interface KeyPair {
  readonly Path: string;
  readonly Key: string;
  readonly Value: string;
  readonly Exists: boolean;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
  readonly LockIndex: number;
  readonly Flags: number;
  readonly Session: string;
}

/** A service's tags, with consul-template's `.Tags.Contains "x"` method. */
export class ServiceTags extends Array<string> {
  /** Whether the tags include `tag`. */
  Contains(tag: string): boolean {
    return this.includes(tag);
  }
  override toString(): string {
    return `[${this.join(' ')}]`;
  }
}

interface ConsulKv {
  Key: string;
  Value: string | null;
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  Flags: number;
  Session?: string;
}

const decodeBase64 = (v: string | null): string => {
  if (!v) return '';
  const bin = atob(v);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
};

const pathOf = (s: string): string => s.replace(/^\/+/, '');

/**
 * consul-template's functions over `source` and `env`, recording in `reads` what the render read:
 * key, keyOrDefault, keyExists, ls, safeLs, tree, safeTree, service, services, node, nodes,
 * datacenters, env, file, toJSON, toJSONPretty, parseJSON, toYAML, toLower, toUpper, toTitle,
 * trimSpace, split, join, replaceAll, regexReplaceAll, regexMatch, contains, in, byTag, byKey,
 * explode, add, subtract, multiply, divide, modulo, timestamp, plugin (refused unless `env.plugin`).
 */
export function consulTemplateFuncs(
  source: TemplateSource,
  env: TemplateEnv,
  reads: RenderReads,
): Record<string, TemplateFunc> {
  const need = (dep: Dependency): { ready: boolean; value: unknown } => {
    reads.deps.set(dep.id, dep);
    const l = source.lookup(dep);
    if (!l.ready) {
      reads.missing.add(dep.id);
      return { ready: false, value: undefined };
    }
    return { ready: true, value: l.value };
  };
  const kvOne = (key: string): ConsulKv | undefined => {
    const r = need({ id: `/v1/kv/${pathOf(key)}`, kind: 'kv' });
    return (r.value as ConsulKv[] | null | undefined)?.[0];
  };
  const kvTree = (prefix: string, safe: boolean, onlyTop: boolean): KeyPair[] => {
    const p = pathOf(prefix);
    const r = need({ id: `/v1/kv/${p}?recurse`, kind: 'kv-tree' });
    const rows = (r.value as ConsulKv[] | null | undefined) ?? [];
    // safeLs / safeTree: an empty prefix is not data yet (it may be a delete in progress).
    if (safe && r.ready && rows.length === 0) reads.missing.add(`/v1/kv/${p}?recurse`);
    const base = p === '' || p.endsWith('/') ? p : `${p}/`;
    const out: KeyPair[] = [];
    for (const e of rows) {
      if (!e.Key.startsWith(base) && e.Key !== p) continue;
      const rel = e.Key.slice(base.length);
      // Folders (keys ending in /) are left out, as consul-template does.
      if (rel === '' || rel.endsWith('/')) continue;
      if (onlyTop && rel.includes('/')) continue;
      out.push(pair(e, rel));
    }
    return out;
  };
  const pair = (e: ConsulKv, key: string): KeyPair => ({
    Path: e.Key,
    Key: key,
    Value: decodeBase64(e.Value),
    Exists: true,
    CreateIndex: e.CreateIndex,
    ModifyIndex: e.ModifyIndex,
    LockIndex: e.LockIndex,
    Flags: e.Flags,
    Session: e.Session ?? '',
  });

  return {
    key: (k: unknown) => {
      const e = kvOne(String(k));
      // A missing key holds the render until it exists (consul-template blocks on it).
      if (!e) {
        reads.missing.add(`/v1/kv/${pathOf(String(k))}`);
        return '';
      }
      return decodeBase64(e.Value);
    },
    keyOrDefault: (k: unknown, def: unknown) => {
      const e = kvOne(String(k));
      return e ? decodeBase64(e.Value) : String(def);
    },
    keyExists: (k: unknown) => kvOne(String(k)) !== undefined,
    ls: (p: unknown) => kvTree(String(p), false, true),
    safeLs: (p: unknown) => kvTree(String(p), true, true),
    tree: (p: unknown) => kvTree(String(p), false, false),
    safeTree: (p: unknown) => kvTree(String(p), true, false),
    service: (...args: unknown[]) => healthService(need, args),
    services: () => {
      const r = need({ id: '/v1/catalog/services', kind: 'services' });
      const m = (r.value as Record<string, string[]> | null | undefined) ?? {};
      return Object.keys(m)
        .sort()
        .map((Name) => ({ Name, Tags: ServiceTags.from(m[Name] ?? []) as ServiceTags }));
    },
    nodes: () => {
      const r = need({ id: '/v1/catalog/nodes', kind: 'nodes' });
      return ((r.value as Array<Record<string, unknown>> | null | undefined) ?? []).map((n) => ({
        ID: n['ID'] ?? '',
        Node: n['Node'],
        Address: n['Address'],
        Datacenter: n['Datacenter'],
        TaggedAddresses: n['TaggedAddresses'] ?? {},
        Meta: n['Meta'] ?? {},
      }));
    },
    node: (name?: unknown) => {
      const id = name === undefined ? '/v1/agent/self' : `/v1/catalog/node/${String(name)}`;
      if (name === undefined) {
        // The agent's own node: its name comes from /v1/agent/self, then its catalog entry.
        const self = need({ id, kind: 'node' }).value as { Config?: { NodeName?: string } } | undefined;
        const own = self?.Config?.NodeName;
        if (!own) return undefined;
        return catalogNode(need({ id: `/v1/catalog/node/${own}`, kind: 'node' }).value);
      }
      return catalogNode(need({ id, kind: 'node' }).value);
    },
    datacenters: () => (need({ id: '/v1/catalog/datacenters', kind: 'datacenters' }).value as string[] | null) ?? [],
    env: (name: unknown) => env.env(String(name)) ?? '',
    file: (path: unknown) => {
      const p = String(path);
      const r = need({ id: `file:${p}`, kind: 'file' });
      if (!r.ready) return '';
      if (typeof r.value !== 'string') throw new FuncError(`file: cannot read ${JSON.stringify(p)}`);
      return r.value;
    },
    toJSON: (v: unknown) => goJson(v, undefined),
    toJSONPretty: (v: unknown) => goJson(v, '  '),
    parseJSON: (s: unknown) => {
      try {
        return JSON.parse(String(s)) as unknown;
      } catch (err) {
        throw new FuncError(`parseJSON: ${(err as Error).message}`);
      }
    },
    toYAML: (v: unknown) => toYaml(plain(v), 0).replace(/\n$/, ''),
    toLower: (s: unknown) => String(s).toLowerCase(),
    toUpper: (s: unknown) => String(s).toUpperCase(),
    toTitle: (s: unknown) => String(s).replace(/\b\p{L}/gu, (c) => c.toUpperCase()),
    trimSpace: (s: unknown) => String(s).trim(),
    split: (sep: unknown, s: unknown) => (String(s) === '' ? [] : String(s).split(String(sep))),
    join: (sep: unknown, list: unknown) => {
      if (!Array.isArray(list)) throw new FuncError(`join: not a list: ${formatValue(list)}`);
      return list.map((x) => formatValue(x, false)).join(String(sep));
    },
    replaceAll: (from: unknown, to: unknown, s: unknown) => String(s).split(String(from)).join(String(to)),
    regexReplaceAll: (re: unknown, to: unknown, s: unknown) =>
      String(s).replace(
        goRegexp(re, 'g'),
        String(to)
          .replace(/\$\{(\w+)\}/g, '$$<$1>')
          .replace(/\$<(\d+)>/g, '$$$1'),
      ),
    regexMatch: (re: unknown, s: unknown) => goRegexp(re, '').test(String(s)),
    contains: (needle: unknown, haystack: unknown) => inList(needle, haystack),
    in: (haystack: unknown, needle: unknown) => inList(needle, haystack),
    byTag: (list: unknown) => {
      const out: Record<string, unknown[]> = {};
      for (const s of asList(list, 'byTag'))
        for (const t of ((s as { Tags?: string[] }).Tags ?? []) as string[]) (out[t] ??= []).push(s);
      return out;
    },
    byKey: (list: unknown) => {
      const out: Record<string, Record<string, KeyPair>> = {};
      for (const p of asList(list, 'byKey') as KeyPair[]) {
        const at = p.Key.indexOf('/');
        if (at < 0) continue;
        const top = p.Key.slice(0, at);
        (out[top] ??= {})[p.Key.slice(at + 1)] = { ...p, Key: p.Key.slice(at + 1) };
      }
      return out;
    },
    explode: (list: unknown) => {
      const out: Record<string, unknown> = {};
      for (const p of asList(list, 'explode') as KeyPair[]) {
        const parts = p.Key.split('/');
        let at: Record<string, unknown> = out;
        parts.forEach((part, i) => {
          if (i === parts.length - 1) at[part] = p.Value;
          else at = (at[part] ??= {}) as Record<string, unknown>;
        });
      }
      return out;
    },
    add: (b: unknown, a: unknown) => num(a, 'add') + num(b, 'add'),
    subtract: (b: unknown, a: unknown) => num(a, 'subtract') - num(b, 'subtract'),
    multiply: (b: unknown, a: unknown) => num(a, 'multiply') * num(b, 'multiply'),
    divide: (b: unknown, a: unknown) => {
      const d = num(b, 'divide');
      if (d === 0) throw new FuncError('divide: division by 0');
      const q = num(a, 'divide') / d;
      return Number.isInteger(num(a, 'divide')) && Number.isInteger(d) ? Math.trunc(q) : q;
    },
    modulo: (b: unknown, a: unknown) => {
      const d = num(b, 'modulo');
      if (d === 0) throw new FuncError('modulo: division by 0');
      return num(a, 'modulo') % d;
    },
    timestamp: (layout?: unknown) => {
      const t = env.now();
      if (layout === undefined) return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
      if (layout === 'unix') return String(Math.floor(t / 1000));
      return goTimeFormat(new Date(t), String(layout));
    },
    plugin: (cmd: unknown, ...args: unknown[]) => {
      if (!env.plugin) throw new FuncError('plugins are off (enable them with -plugins)');
      return env.plugin(String(cmd), args.map(String));
    },
  };
}

/** consul-template's `service "name"`, `service "tag.name"`, `service "name" "passing"` / `"any"`. */
function healthService(need: (d: Dependency) => { ready: boolean; value: unknown }, args: unknown[]): unknown[] {
  if (args.length === 0) throw new FuncError('service: missing the service name');
  let spec = String(args[0]);
  let filter = args[1] === undefined ? 'passing' : String(args[1]);
  // `name|any` / `name|passing`, the older form.
  const bar = spec.indexOf('|');
  if (bar >= 0) {
    filter = spec.slice(bar + 1);
    spec = spec.slice(0, bar);
  }
  let dc = '';
  const at = spec.indexOf('@');
  if (at >= 0) {
    dc = spec.slice(at + 1);
    spec = spec.slice(0, at);
  }
  const dot = spec.lastIndexOf('.');
  const tag = dot >= 0 ? spec.slice(0, dot) : '';
  const name = dot >= 0 ? spec.slice(dot + 1) : spec;
  const statuses = filter.split(',').map((s) => s.trim());
  const q = new URLSearchParams();
  if (tag) q.set('tag', tag);
  if (dc) q.set('dc', dc);
  const query = q.toString();
  const r = need({ id: `/v1/health/service/${name}${query ? `?${query}` : ''}`, kind: 'health' });
  const entries = (r.value as HealthEntry[] | null | undefined) ?? [];
  const out: unknown[] = [];
  for (const e of entries) {
    const status = aggregate(e.Checks ?? []);
    if (!statuses.includes('any') && !statuses.includes(status)) continue;
    out.push({
      Node: e.Node.Node,
      NodeID: e.Node.ID ?? '',
      NodeAddress: e.Node.Address,
      NodeDatacenter: e.Node.Datacenter ?? '',
      NodeTaggedAddresses: e.Node.TaggedAddresses ?? {},
      NodeMeta: e.Node.Meta ?? {},
      ServiceMeta: e.Service.Meta ?? {},
      Address: e.Service.Address || e.Node.Address,
      ServiceTaggedAddresses: e.Service.TaggedAddresses ?? {},
      ID: e.Service.ID,
      Name: e.Service.Service,
      Kind: e.Service.Kind ?? '',
      Tags: ServiceTags.from(e.Service.Tags ?? []) as ServiceTags,
      Checks: e.Checks ?? [],
      Status: status,
      Port: e.Service.Port,
      Weights: e.Service.Weights ?? { Passing: 1, Warning: 1 },
      Namespace: e.Service.Namespace ?? '',
    });
  }
  // consul-template orders instances by node, then service id.
  out.sort((a, b) => {
    const x = a as { Node: string; ID: string };
    const y = b as { Node: string; ID: string };
    return x.Node < y.Node ? -1 : x.Node > y.Node ? 1 : x.ID < y.ID ? -1 : x.ID > y.ID ? 1 : 0;
  });
  return out;
}

interface HealthEntry {
  Node: {
    ID?: string;
    Node: string;
    Address: string;
    Datacenter?: string;
    TaggedAddresses?: unknown;
    Meta?: unknown;
  };
  Service: {
    ID: string;
    Service: string;
    Kind?: string;
    Tags?: string[];
    Address: string;
    Port: number;
    Meta?: unknown;
    TaggedAddresses?: unknown;
    Weights?: unknown;
    Namespace?: string;
  };
  Checks?: Array<{ Status: string }>;
}

/** The worst status of a service's checks (Consul's AggregatedStatus): critical, then maintenance, warning, passing. */
function aggregate(checks: ReadonlyArray<{ Status: string; CheckID?: string }>): string {
  let warning = false;
  let maintenance = false;
  for (const c of checks) {
    if (c.CheckID === '_node_maintenance' || c.CheckID?.startsWith('_service_maintenance')) maintenance = true;
    else if (c.Status === 'critical') return 'critical';
    else if (c.Status === 'warning') warning = true;
  }
  if (maintenance) return 'maintenance';
  return warning ? 'warning' : 'passing';
}

/** A node with its services, as consul-template's `node` gives it. */
function catalogNode(v: unknown): unknown {
  const n = v as { Node?: Record<string, unknown>; Services?: Record<string, Record<string, unknown>> } | null;
  if (!n?.Node) return undefined;
  return {
    Node: n.Node,
    Services: Object.values(n.Services ?? {})
      .map((s): Record<string, unknown> => ({ ...s, Tags: ServiceTags.from((s['Tags'] as string[]) ?? []) }))
      .sort((a, b) => String(a['ID']).localeCompare(String(b['ID']))),
  };
}

function inList(needle: unknown, haystack: unknown): boolean {
  if (typeof haystack === 'string') return haystack.includes(String(needle));
  if (Array.isArray(haystack)) return haystack.some((x) => x === needle);
  if (haystack instanceof Map) return haystack.has(needle);
  if (typeof haystack === 'object' && haystack !== null)
    return Object.prototype.hasOwnProperty.call(haystack, String(needle));
  if (haystack === null || haystack === undefined) return false;
  throw new FuncError(`contains: cannot look in ${formatValue(haystack)}`);
}

function asList(v: unknown, fn: string): unknown[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new FuncError(`${fn}: not a list: ${formatValue(v)}`);
  return v;
}

function num(v: unknown, fn: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  throw new FuncError(`${fn}: not a number: ${formatValue(v)}`);
}

/** A Go (RE2) regular expression as a JavaScript one: named groups `(?P<n>…)` become `(?<n>…)`. */
function goRegexp(re: unknown, flags: string): RegExp {
  let src = String(re).replace(/\(\?P</g, '(?<');
  // RE2's leading inline flags, (?i) / (?s) / (?m), become JavaScript flags.
  const m = /^\(\?([ims]+)\)/.exec(src);
  if (m) {
    flags += (m[1] as string).replace(/[^ims]/g, '');
    src = src.slice(m[0].length);
  }
  try {
    return new RegExp(src, [...new Set(flags)].join(''));
  } catch (err) {
    throw new FuncError(`bad regular expression ${JSON.stringify(String(re))}: ${(err as Error).message}`);
  }
}

/** Values as JSON sees them: ServiceTags and other arrays as arrays, Maps as objects. */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return [...v].map(plain);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'function') o[k] = plain(x);
    return o;
  }
  return v;
}

/** Go's json.Marshal (map keys sorted) or MarshalIndent with `indent`; HTML characters escaped as Go does. */
function goJson(v: unknown, indent: string | undefined): string {
  const sorted = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sorted);
    if (x && typeof x === 'object')
      return Object.fromEntries(
        Object.keys(x as object)
          .sort()
          .map((k) => [k, sorted((x as Record<string, unknown>)[k])]),
      );
    return x === undefined ? null : x;
  };
  const s = JSON.stringify(sorted(plain(v)), null, indent) ?? 'null';
  return s.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** YAML of plain data (keys sorted), the way consul-template's toYAML prints maps, lists and scalars. */
function toYaml(v: unknown, depth: number): string {
  const ind = '  '.repeat(depth);
  const scalar = (x: unknown): string => {
    if (x === null || x === undefined) return 'null';
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
        if (x && typeof x === 'object' && !(Array.isArray(x) && x.length === 0)) {
          const inner = toYaml(x, depth + 1).replace(/^\s+/, '');
          return `${ind}- ${inner}`;
        }
        return `${ind}- ${scalar(x)}\n`;
      })
      .join('');
  }
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    if (keys.length === 0) return '{}\n';
    return keys
      .map((k) => {
        const x = (v as Record<string, unknown>)[k];
        if (x && typeof x === 'object' && (Array.isArray(x) ? x.length > 0 : Object.keys(x).length > 0))
          return `${ind}${scalar(k)}:\n${toYaml(x, Array.isArray(x) ? depth : depth + 1)}`;
        return `${ind}${scalar(k)}: ${Array.isArray(x) ? '[]' : x && typeof x === 'object' ? '{}' : scalar(x)}\n`;
      })
      .join('');
  }
  return `${scalar(v)}\n`;
}

/** A time formatted with a Go layout (reference time Mon Jan 2 15:04:05 MST 2006), in UTC. */
function goTimeFormat(d: Date, layout: string): string {
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

/** Whether a value is true in a template (re-exported for callers building on these functions). */
export { truth };
