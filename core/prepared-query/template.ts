import { RefusedError } from '../errors.js';
import {
  MAX_TEMPLATE_REGEXP_CHARS,
  type PreparedQueryInput,
  type ServiceQuery,
  TEMPLATE_TYPE_NAME_PREFIX_MATCH,
} from './types.js';

/** One piece of an interpolated string: literal text, a variable, or match(N). */
type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'var'; readonly name: Variable }
  | { readonly kind: 'match'; readonly group: number };

/** The variables Consul's templates know (Render's VarMap). */
type Variable = 'name.full' | 'name.prefix' | 'name.suffix' | 'agent.segment';
const VARIABLES = new Set<string>(['name.full', 'name.prefix', 'name.suffix', 'agent.segment']);
const MATCH = /^match\(\s*([0-9]{1,4})\s*\)$/;

/**
 * Parses a template string: `${name.full}`, `${name.prefix}`, `${name.suffix}`, `${agent.segment}`
 * and `${match(N)}` are replaced when rendered, `$${` stands for a literal `${`. Throws an Error naming what is wrong
 * (an unterminated `${`, an unknown variable or function).
 */
function parseInterpolation(text: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      literal += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      literal += text[i] as string;
      i++;
      continue;
    }
    const end = text.indexOf('}', i + 2);
    if (end < 0) throw new Error('unterminated "${"');
    const expr = text.slice(i + 2, end).trim();
    if (literal !== '') parts.push({ kind: 'text', text: literal });
    literal = '';
    const m = MATCH.exec(expr);
    if (m) parts.push({ kind: 'match', group: Number(m[1]) });
    else if (VARIABLES.has(expr)) parts.push({ kind: 'var', name: expr as Variable });
    else if (/^[A-Za-z_][\w.]*$/.test(expr)) throw new Error(`unknown variable accessed: ${expr}`);
    else throw new Error(`unsupported expression ${JSON.stringify(expr)}`);
    i = end + 1;
  }
  if (literal !== '') parts.push({ kind: 'text', text: literal });
  return parts;
}

/** A Go (RE2) pattern as a JS RegExp: a leading `(?i)` becomes the `i` flag. */
function compileRegexp(source: string): RegExp {
  if (source.length > MAX_TEMPLATE_REGEXP_CHARS) throw new Error(`longer than ${MAX_TEMPLATE_REGEXP_CHARS} characters`);
  const insensitive = source.startsWith('(?i)');
  return new RegExp(insensitive ? source.slice(4) : source, insensitive ? 'iu' : 'u');
}

/** Applies `fn` to every string field of a service query (list entries and map values too), with its path. */
function mapStrings(s: ServiceQuery, fn: (path: string, value: string) => string): ServiceQuery {
  const list = (path: string, l: readonly string[] | null) => (l ? l.map((v, i) => fn(`${path}[${i}]`, v)) : l);
  const map = (path: string, m: Readonly<Record<string, string>> | null) =>
    m ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, fn(`${path}[${k}]`, v)])) : m;
  return {
    ...s,
    Service: fn('.Service', s.Service),
    Near: fn('.Near', s.Near),
    Peer: fn('.Peer', s.Peer),
    Failover: {
      ...s.Failover,
      Datacenters: list('.Failover.Datacenters', s.Failover.Datacenters),
      Targets: s.Failover.Targets
        ? s.Failover.Targets.map((t, i) => ({
            Peer: fn(`.Failover.Targets[${i}].Peer`, t.Peer),
            Datacenter: fn(`.Failover.Targets[${i}].Datacenter`, t.Datacenter),
          }))
        : null,
    },
    IgnoreCheckIDs: list('.IgnoreCheckIDs', s.IgnoreCheckIDs),
    Tags: list('.Tags', s.Tags),
    NodeMeta: map('.NodeMeta', s.NodeMeta),
    ServiceMeta: map('.ServiceMeta', s.ServiceMeta),
  };
}

/**
 * A validated template, ready to render for any name it is reached by. Rendering never fails: a
 * `match(N)` without a match (or without group N) renders as ''.
 */
export interface CompiledTemplate<Q extends PreparedQueryInput = PreparedQueryInput> {
  /** The query with every string of its Service interpolated for `name` (the name it was looked up by). */
  render(name: string): Q;
}

/**
 * Compiles the template of `query` (Consul's prepared_query.Compile): the type must be
 * `name_prefix_match`, Regexp (if any) must compile, and every string of Service must parse and
 * render for the query's own name. Throws RefusedError (500, Consul's "failed compiling template:"
 * messages) naming the field at fault.
 */
export function compileTemplate<Q extends PreparedQueryInput>(query: Q): CompiledTemplate<Q> {
  const fail = (what: string): never => {
    throw new RefusedError(`failed compiling template: ${what}`);
  };
  if (query.Template.Type !== TEMPLATE_TYPE_NAME_PREFIX_MATCH) fail(`Bad Template.Type '${query.Template.Type}'`);
  const trees = new Map<string, Part[]>();
  mapStrings(query.Service, (path, value) => {
    try {
      trees.set(path, parseInterpolation(value));
    } catch (err) {
      fail(`Bad format '${value}' in Service${path}: ${(err as Error).message}`);
    }
    return value;
  });
  let re: RegExp | undefined;
  if (query.Template.Regexp !== '') {
    try {
      re = compileRegexp(query.Template.Regexp);
    } catch (err) {
      fail(`Bad Regexp: ${(err as Error).message}`);
    }
  }
  const prefix = query.Name;
  const render = (name: string): Q => {
    const groups = re?.exec(name) ?? [];
    // As Consul's Render: the suffix is strings.TrimPrefix(name, prefix), which is case-sensitive
    // although the lookup is not (a name reached in other case keeps its whole self as suffix);
    // agent.segment is the asking agent's network segment, '' for the default one (the only one).
    const vars: Record<Variable, string> = {
      'name.full': name,
      'name.prefix': prefix,
      'name.suffix': name.startsWith(prefix) ? name.slice(prefix.length) : name,
      'agent.segment': '',
    };
    let service = mapStrings(query.Service, (path) =>
      (trees.get(path) ?? [])
        .map((p) => (p.kind === 'text' ? p.text : p.kind === 'var' ? vars[p.name] : (groups[p.group] ?? '')))
        .join(''),
    );
    if (query.Template.RemoveEmptyTags && service.Tags) service = { ...service, Tags: service.Tags.filter((t) => t) };
    return { ...query, Service: service };
  };
  return { render };
}
