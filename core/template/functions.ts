import { FuncError, type TemplateFunc, truth } from './exec.js';
import { goJson, goStruct, goTimeFormat, Scratch, toYaml, plain } from './encode.js';
import { float64, formatValue, isFloat, numberOf } from './format.js';

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
 * consul-template's `"<path>?<query>@<datacenter>"` as the API path that answers it: `prefix`,
 * the path (leading slashes dropped), then `first` (a bare flag such as `recurse`), the query's
 * parameters and `dc`, in that order (the order is part of the dependency's identity).
 */
function queryId(prefix: string, spec: string, first?: string): { id: string; path: string } {
  const m = /^([^@?]*)(?:\?([^@]*))?(?:@(.+))?$/.exec(spec);
  const path = pathOf(m?.[1] ?? spec);
  const parts = first ? [first] : [];
  for (const [k, v] of new URLSearchParams(m?.[2] ?? ''))
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  if (m?.[3]) parts.push(`dc=${encodeURIComponent(m[3])}`);
  return { id: `${prefix}${path}${parts.length ? `?${parts.join('&')}` : ''}`, path };
}

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
    const r = need({ id: queryId('/v1/kv/', key).id, kind: 'kv' });
    return (r.value as ConsulKv[] | null | undefined)?.[0];
  };
  const kvTree = (prefix: string, safe: boolean, onlyTop: boolean): KeyPair[] => {
    const q = queryId('/v1/kv/', prefix, 'recurse');
    const p = q.path;
    const r = need({ id: q.id, kind: 'kv-tree' });
    const rows = (r.value as ConsulKv[] | null | undefined) ?? [];
    // safeLs / safeTree: an empty prefix is not data yet (it may be a delete in progress).
    if (safe && r.ready && rows.length === 0) reads.missing.add(q.id);
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
  const pair = (e: ConsulKv, key: string): KeyPair =>
    goStruct({
      Path: e.Key,
      Key: key,
      Value: decodeBase64(e.Value),
      CreateIndex: e.CreateIndex,
      ModifyIndex: e.ModifyIndex,
      LockIndex: e.LockIndex,
      Flags: e.Flags,
      Session: e.Session ?? '',
    });

  const scratch = new Scratch();
  return {
    key: (k: unknown) => {
      const e = kvOne(String(k));
      // A missing key holds the render until it exists (consul-template blocks on it).
      if (!e) {
        reads.missing.add(queryId('/v1/kv/', String(k)).id);
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
    services: (spec?: unknown) => {
      const r = need({ id: queryId('/v1/catalog/services', String(spec ?? '')).id, kind: 'services' });
      const m = (r.value as Record<string, string[]> | null | undefined) ?? {};
      return Object.keys(m)
        .sort()
        .map((Name) => goStruct({ Name, Tags: sortedTags(m[Name]) }));
    },
    nodes: (spec?: unknown) => {
      const r = need({ id: queryId('/v1/catalog/nodes', String(spec ?? '')).id, kind: 'nodes' });
      return ((r.value as Array<Record<string, unknown>> | null | undefined) ?? [])
        .map(nodeStruct)
        .sort((a, b) => compareBy(a, b, 'Node', 'Address'));
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
      // consul-template: an empty string (a key not loaded yet) is an empty map.
      if (String(s) === '') return {};
      try {
        // JSON numbers are float64s to Go, whole or not.
        return JSON.parse(String(s), (_k, v: unknown) => (typeof v === 'number' ? float64(v) : v)) as unknown;
      } catch (err) {
        throw new FuncError(`parseJSON: ${(err as Error).message}`);
      }
    },
    toYAML: (v: unknown) => toYaml(plain(v), 0).replace(/\n$/, ''),
    toLower: (s: unknown) => String(s).toLowerCase(),
    toUpper: (s: unknown) => String(s).toUpperCase(),
    toTitle: (s: unknown) => String(s).replace(/\b\p{L}/gu, (c) => c.toUpperCase()),
    trimSpace: (s: unknown) => String(s).trim(),
    split: (sep: unknown, s: unknown) => {
      const text = String(s).trim();
      return text === '' ? [] : text.split(String(sep));
    },
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
    add: (b: unknown, a: unknown) => arith('add', a, b, (x, y) => x + y),
    subtract: (b: unknown, a: unknown) => arith('subtract', a, b, (x, y) => x - y),
    multiply: (b: unknown, a: unknown) => arith('multiply', a, b, (x, y) => x * y),
    divide: (b: unknown, a: unknown) => {
      if (num(b, 'divide') === 0 && !isFloat(a) && !isFloat(b)) throw new FuncError('divide: division by 0');
      return arith('divide', a, b, (x, y) => x / y);
    },
    modulo: (b: unknown, a: unknown) => {
      if (num(b, 'modulo') === 0) throw new FuncError('modulo: division by 0');
      return arith('modulo', a, b, (x, y) => x % y);
    },
    trim: (cutset: unknown, s: unknown) => goTrim(String(s), String(cutset), true, true),
    trimPrefix: (prefix: unknown, s: unknown) => {
      const text = String(s);
      return text.startsWith(String(prefix)) ? text.slice(String(prefix).length) : text;
    },
    trimSuffix: (suffix: unknown, s: unknown) => {
      const text = String(s);
      const suf = String(suffix);
      return suf !== '' && text.endsWith(suf) ? text.slice(0, text.length - suf.length) : text;
    },
    envOrDefault: (name: unknown, def: unknown) => env.env(String(name)) ?? String(def),
    mustEnv: (name: unknown) => {
      const v = env.env(String(name)) ?? '';
      if (v === '') throw new FuncError(`required environment variable ${String(name)} is empty`);
      return v;
    },
    parseBool: (s: unknown) => {
      const text = String(s);
      if (text === '') return false;
      if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
      if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
      throw new FuncError(`parseBool: strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`);
    },
    parseInt: (s: unknown) => parseInteger(String(s), 'parseInt', true),
    parseUint: (s: unknown) => parseInteger(String(s), 'parseUint', false),
    parseFloat: (s: unknown) => {
      const text = String(s);
      if (text === '') return float64(0);
      const v = Number(text.replace(/_/g, ''));
      if (!/^[+-]?(\d|\.\d|inf|nan)/i.test(text) || Number.isNaN(v) !== /nan/i.test(text))
        throw new FuncError(`parseFloat: strconv.ParseFloat: parsing ${JSON.stringify(text)}: invalid syntax`);
      return float64(/^[+-]?inf/i.test(text) ? (text.startsWith('-') ? -Infinity : Infinity) : v);
    },
    base64Encode: (s: unknown) => base64(String(s), false),
    base64URLEncode: (s: unknown) => base64(String(s), true),
    base64Decode: (s: unknown) => unbase64(String(s), false, 'base64Decode'),
    base64URLDecode: (s: unknown) => unbase64(String(s), true, 'base64URLDecode'),
    indent: (spaces: unknown, s: unknown) => {
      const n = num(spaces, 'indent');
      if (n < 0) throw new FuncError('indent value must be a positive integer');
      // Every line that has something gets the prefix; empty lines stay empty.
      return String(s).replace(/^(?!$)/gm, ' '.repeat(n));
    },
    loop: (...a: unknown[]) => {
      if (a.length < 1 || a.length > 2)
        throw new FuncError(`loop: wrong number of arguments, expected 1 or 2, but got ${a.length}`);
      const bound = (v: unknown): number => {
        if (typeof v === 'string') return parseInteger(v, 'loop', true);
        if (typeof v === 'number' && Number.isInteger(v)) return v;
        throw new FuncError(`loop: bad argument type: ${formatValue(v)}`);
      };
      const start = a.length === 2 ? bound(a[0]) : 0;
      const stop = bound(a[a.length - 1]);
      if (stop - start > LOOP_MAX) throw new FuncError(`loop: more than ${LOOP_MAX} values`);
      return Array.from({ length: Math.max(0, stop - start) }, (_, i) => start + i);
    },
    containsAll: (list: unknown, v: unknown) => asList(list, 'containsAll').every((x) => inList(x, v)),
    containsAny: (list: unknown, v: unknown) => asList(list, 'containsAny').some((x) => inList(x, v)),
    containsNone: (list: unknown, v: unknown) => !asList(list, 'containsNone').some((x) => inList(x, v)),
    containsNotAll: (list: unknown, v: unknown) => !asList(list, 'containsNotAll').every((x) => inList(x, v)),
    minimum: (b: unknown, a: unknown) => (num(a, 'minimum') < num(b, 'minimum') ? a : b),
    maximum: (b: unknown, a: unknown) => (num(a, 'maximum') > num(b, 'maximum') ? a : b),
    splitToMap: (sep1: unknown, sep2: unknown, s: unknown) => {
      const out: Record<string, string> = {};
      const text = String(s).trim();
      if (text === '') return out;
      for (const part of text.split(String(sep1))) {
        const at = part.indexOf(String(sep2));
        if (at >= 0) out[part.slice(0, at)] = part.slice(at + String(sep2).length);
      }
      return out;
    },
    toUnescapedJSON: (v: unknown) => goJson(v, undefined, false),
    toUnescapedJSONPretty: (v: unknown) => goJson(v, '  ', false),
    scratch: () => scratch,
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
  // "<tag>.<name>?<query>@<dc>~<near>", as consul-template reads it (a name has no dots).
  const m = /^(?:(.+)\.)?([^.?@~]+)(?:\?([^@~]*))?(?:@([^~]+))?(?:~(.+))?$/.exec(spec);
  if (!m) throw new FuncError(`health.service: invalid format: ${JSON.stringify(String(args[0]))}`);
  const [, tag, name, query, dc, near] = m;
  const statuses = filter
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of statuses)
    if (!HEALTH_FILTERS.has(s))
      throw new FuncError(`health.service: invalid filter: ${JSON.stringify(s)} in ${JSON.stringify(String(args[0]))}`);
  if (statuses.length === 0) statuses.push('passing');
  const q = new URLSearchParams();
  if (tag) q.set('tag', tag);
  for (const [k, v] of new URLSearchParams(query ?? '')) q.append(k, v);
  if (dc) q.set('dc', dc);
  if (near) q.set('near', near);
  const qs = q.toString();
  const r = need({ id: `/v1/health/service/${name}${qs ? `?${qs}` : ''}`, kind: 'health' });
  const entries = (r.value as HealthEntry[] | null | undefined) ?? [];
  const out: unknown[] = [];
  for (const e of entries) {
    const status = aggregate(e.Checks ?? []);
    if (!statuses.includes('any') && !statuses.includes(status)) continue;
    out.push(
      goStruct({
        Node: e.Node.Node,
        NodeID: e.Node.ID ?? '',
        NodeAddress: e.Node.Address,
        NodeTaggedAddresses: e.Node.TaggedAddresses ?? {},
        NodeMeta: e.Node.Meta ?? {},
        ServiceMeta: e.Service.Meta ?? {},
        Address: e.Service.Address || e.Node.Address,
        ServiceTaggedAddresses: e.Service.TaggedAddresses ?? {},
        ID: e.Service.ID,
        Name: e.Service.Service,
        Tags: sortedTags(e.Service.Tags),
        Checks: (e.Checks ?? []).map((c) => goStruct({ ...c })),
        Status: status,
        Port: e.Service.Port,
        Weights: goStruct({ ...((e.Service.Weights as object | undefined) ?? { Passing: 1, Warning: 1 }) }),
      }),
    );
  }
  // consul-template orders instances by node, then service id.
  // Ordered by node then ID, unless asked for nearness (the server's order then).
  if (!near) out.sort((a, b) => compareBy(a, b, 'Node', 'ID'));
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
  Checks?: Array<{ Status: string; CheckID?: string }>;
}

/** The statuses `service "name|…"` accepts, as consul-template does; anything else is refused. */
const HEALTH_FILTERS = new Set(['any', 'passing', 'warning', 'critical', 'maintenance']);

/** Tags as consul-template gives them: a sorted copy, with `.Contains`. */
function sortedTags(tags: readonly string[] | undefined): ServiceTags {
  return ServiceTags.from([...(tags ?? [])].sort()) as ServiceTags;
}

/** Orders records by field `first`, then `second`, comparing as Go compares strings. */
function compareBy(a: unknown, b: unknown, first: string, second: string): number {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const f of [first, second]) {
    const p = String(x[f]);
    const q = String(y[f]);
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

const nodeStruct = (n: Record<string, unknown>): Record<string, unknown> =>
  goStruct({
    ID: n['ID'] ?? '',
    Node: n['Node'],
    Address: n['Address'],
    Datacenter: n['Datacenter'] ?? '',
    TaggedAddresses: n['TaggedAddresses'] ?? {},
    Meta: n['Meta'] ?? {},
  });

/**
 * The status of a service's checks as Consul's api.HealthChecks.AggregatedStatus gives it:
 * maintenance, then critical, warning, passing; an unknown status makes it "".
 */
function aggregate(checks: ReadonlyArray<{ Status: string; CheckID?: string }>): string {
  let warning = false;
  let critical = false;
  let maintenance = false;
  for (const c of checks) {
    if (c.CheckID === '_node_maintenance' || c.CheckID?.startsWith('_service_maintenance:')) {
      maintenance = true;
      continue;
    }
    if (c.Status === 'critical') critical = true;
    else if (c.Status === 'warning') warning = true;
    else if (c.Status !== 'passing') return '';
  }
  if (maintenance) return 'maintenance';
  if (critical) return 'critical';
  return warning ? 'warning' : 'passing';
}

/** A node with its services, as consul-template's `node` gives it. */
function catalogNode(v: unknown): unknown {
  const n = v as { Node?: Record<string, unknown>; Services?: Record<string, Record<string, unknown>> } | null;
  if (!n?.Node) return undefined;
  return goStruct({
    Node: nodeStruct(n.Node),
    Services: Object.values(n.Services ?? {})
      .map((s) =>
        goStruct({
          ID: s['ID'],
          Service: s['Service'],
          Tags: sortedTags(s['Tags'] as string[] | undefined),
          Meta: s['Meta'] ?? {},
          Port: s['Port'],
          Address: s['Address'] ?? '',
          EnableTagOverride: s['EnableTagOverride'] ?? false,
        }),
      )
      .sort((a, b) => compareBy(a, b, 'Service', 'ID')),
  });
}

function inList(needle: unknown, haystack: unknown): boolean {
  if (typeof haystack === 'string') return haystack.includes(String(needle));
  if (Array.isArray(haystack)) return haystack.some((x) => x === needle);
  // consul-template looks only in lists and strings: anything else holds nothing.
  return false;
}

function asList(v: unknown, fn: string): unknown[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new FuncError(`${fn}: not a list: ${formatValue(v)}`);
  return v;
}

/**
 * Arithmetic as consul-template's add/subtract/multiply/divide/modulo do it: two ints give an int
 * (division truncates), a float64 on either side gives a float64.
 */
function arith(fn: string, a: unknown, b: unknown, op: (x: number, y: number) => number): unknown {
  const r = op(num(a, fn), num(b, fn));
  if (isFloat(a) || isFloat(b)) return float64(r);
  return Number.isFinite(r) ? Math.trunc(r) : r;
}

function num(v: unknown, fn: string): number {
  const n = numberOf(v);
  if (n !== undefined) return n;
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

/** The most values `loop` gives (a bound, so a template cannot ask for billions). */
const LOOP_MAX = 1_000_000;

/** Go's strings.Trim (both ends) of the characters in `cutset`. */
function goTrim(s: string, cutset: string, left: boolean, right: boolean): string {
  const cut = new Set([...cutset]);
  const chars = [...s];
  let i = 0;
  let j = chars.length;
  while (left && i < j && cut.has(chars[i] as string)) i++;
  while (right && j > i && cut.has(chars[j - 1] as string)) j--;
  return chars.slice(i, j).join('');
}

/** strconv.ParseInt / ParseUint in base 10, "" as 0, as consul-template's parseInt/parseUint. */
function parseInteger(s: string, fn: string, signed: boolean): number {
  if (s === '') return 0;
  if (!(signed ? /^[+-]?\d+$/ : /^\+?\d+$/).test(s))
    throw new FuncError(`${fn}: strconv.Parse${signed ? 'Int' : 'Uint'}: parsing ${JSON.stringify(s)}: invalid syntax`);
  const v = Number(s);
  if (!Number.isSafeInteger(v))
    throw new FuncError(
      `${fn}: strconv.Parse${signed ? 'Int' : 'Uint'}: parsing ${JSON.stringify(s)}: value out of range`,
    );
  return v;
}

/** Standard (or URL-safe) base64 of a string's UTF-8 bytes, padded, as Go's encodings write it. */
function base64(s: string, url: boolean): string {
  let bin = '';
  for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
  const out = btoa(bin);
  return url ? out.replace(/\+/g, '-').replace(/\//g, '_') : out;
}

/** The text in padded standard (or URL-safe) base64; anything else is an error naming `fn`. */
function unbase64(s: string, url: boolean, fn: string): string {
  const ok = url ? /^[A-Za-z0-9_-]*={0,2}$/ : /^[A-Za-z0-9+/]*={0,2}$/;
  if (!ok.test(s) || s.length % 4 !== 0) throw new FuncError(`${fn}: illegal base64 data`);
  return decodeBase64(url ? s.replace(/-/g, '+').replace(/_/g, '/') : s);
}

/** Whether a value is true in a template (re-exported for callers building on these functions). */
export { truth };
