import { TemplateError } from './errors.js';
import { float64, formatValue, GoFloat, goType, numberOf, sprintf } from './format.js';
import type { Arg, Command, Node, Pipeline, Pos, TemplateSet } from './parse.js';

/** A template function: called with the evaluated arguments (the piped value last). */
export type TemplateFunc = (...args: unknown[]) => unknown;

/** How much one execution may do (bounds, so a template cannot run away with memory or time). */
export interface ExecLimits {
  /** Most characters of output (default 64 Mi). */
  readonly maxOutput?: number;
  /** Most nested {{template}} calls (default 1,000). */
  readonly maxDepth?: number;
  /** Most range iterations in all (default 10,000,000). */
  readonly maxIterations?: number;
}

/** Thrown by a function to stop the execution with its message (the message is reported as is). */
export class FuncError extends Error {}

/** Marks a break or continue leaving a range body. */
class Jump {
  constructor(readonly kind: 'break' | 'continue') {}
}

/**
 * Runs template `name` of `set` over `data` with `funcs` (on top of Go's builtins: and, or, not,
 * len, index, slice, print, printf, println, html, js, urlquery, call, eq, ne, lt, le, gt, ge) and
 * returns its output. Values are JavaScript's: objects and Maps are Go maps (fields are their
 * keys; a missing key is a missing value), arrays are slices, numbers print as Go prints ints and
 * float64s. Throws TemplateError with the template, line, column and the action that failed.
 */
export function execute(
  set: TemplateSet,
  name: string,
  data: unknown,
  funcs: Readonly<Record<string, TemplateFunc>> = {},
  limits: ExecLimits = {},
): string {
  const root = set.get(name);
  if (!root) throw new TemplateError(name, 1, 1, `no template ${JSON.stringify(name)} is defined`);
  const ex = new Executor(set, { ...builtins(), ...funcs }, limits);
  ex.run(name, root, data, [{ name: '$', value: data }], 0);
  return ex.out;
}

interface Variable {
  readonly name: string;
  value: unknown;
}

class Executor {
  out = '';
  private iterations = 0;
  private readonly maxOutput: number;
  private readonly maxDepth: number;
  private readonly maxIterations: number;
  /** The template whose node runs now (errors name it). */
  private current = '';

  constructor(
    private readonly set: TemplateSet,
    private readonly funcs: Readonly<Record<string, TemplateFunc>>,
    limits: ExecLimits,
  ) {
    this.maxOutput = limits.maxOutput ?? 64 * 1024 * 1024;
    this.maxDepth = limits.maxDepth ?? 1000;
    this.maxIterations = limits.maxIterations ?? 10_000_000;
  }

  run(name: string, nodes: readonly Node[], dot: unknown, vars: Variable[], depth: number): void {
    if (depth > this.maxDepth)
      throw new TemplateError(name, 1, 1, `exceeded maximum template depth (${this.maxDepth})`);
    const saved = this.current;
    this.current = name;
    try {
      this.list(nodes, dot, vars, depth);
    } finally {
      this.current = saved;
    }
  }

  private fail(at: Pos, msg: string, source?: string): never {
    const where = source === undefined ? '' : `executing ${JSON.stringify(this.current)} at <${source}>: `;
    throw new TemplateError(this.current, at.line, at.col, where + msg);
  }

  private write(s: string, at: Pos): void {
    if (this.out.length + s.length > this.maxOutput) this.fail(at, `output larger than ${this.maxOutput} characters`);
    this.out += s;
  }

  private list(nodes: readonly Node[], dot: unknown, vars: Variable[], depth: number): void {
    for (const n of nodes) this.node(n, dot, vars, depth);
  }

  private node(n: Node, dot: unknown, vars: Variable[], depth: number): void {
    switch (n.type) {
      case 'text':
        this.write(n.text, n);
        return;
      case 'action': {
        const v = this.pipeline(n.pipe, dot, vars);
        // A declaration or assignment prints nothing.
        if (n.pipe.vars.length === 0) this.write(formatValue(v), n);
        return;
      }
      case 'if':
      case 'with': {
        const mark = vars.length;
        const v = this.pipeline(n.pipe, dot, vars);
        if (truth(v)) this.list(n.list, n.type === 'with' ? v : dot, vars, depth);
        else if (n.elseList) this.list(n.elseList, dot, vars, depth);
        vars.length = mark;
        return;
      }
      case 'range':
        this.range(n, dot, vars, depth);
        return;
      case 'template': {
        const body = this.set.get(n.name);
        if (!body) this.fail(n, `no such template ${JSON.stringify(n.name)}`);
        const v = n.pipe ? this.pipeline(n.pipe, dot, vars) : undefined;
        this.run(n.name, body, v, [{ name: '$', value: v }], depth + 1);
        return;
      }
      case 'break':
        throw new Jump('break');
      case 'continue':
        throw new Jump('continue');
    }
  }

  private range(
    n: Extract<Node, { type: 'if' | 'with' | 'range' }>,
    dot: unknown,
    vars: Variable[],
    depth: number,
  ): void {
    const mark = vars.length;
    // The pipeline's own declaration names the element ($e) or index and element ($i, $e).
    const pipe = n.pipe;
    const val = this.pipeline({ ...pipe, vars: [] }, dot, vars);
    const entries = rangeEntries(val, () => this.fail(n, `range can't iterate over ${formatValue(val)}`, pipe.source));
    if (entries.length === 0) {
      if (n.elseList) this.list(n.elseList, dot, vars, depth);
      vars.length = mark;
      return;
    }
    for (const [k, v] of entries) {
      if (++this.iterations > this.maxIterations) this.fail(n, `more than ${this.maxIterations} range iterations`);
      const inner = vars.length;
      if (pipe.vars.length === 1) this.setVar(vars, pipe.vars[0] as string, v, pipe.assign);
      else if (pipe.vars.length === 2) {
        this.setVar(vars, pipe.vars[0] as string, k, pipe.assign);
        this.setVar(vars, pipe.vars[1] as string, v, pipe.assign);
      }
      try {
        this.list(n.list, v, vars, depth);
      } catch (err) {
        if (!(err instanceof Jump)) throw err;
        vars.length = inner;
        if (err.kind === 'break') break;
        continue;
      }
      vars.length = inner;
    }
    vars.length = mark;
  }

  private setVar(vars: Variable[], name: string, value: unknown, assign: boolean): void {
    if (assign) {
      for (let i = vars.length - 1; i >= 0; i--)
        if ((vars[i] as Variable).name === name) {
          (vars[i] as Variable).value = value;
          return;
        }
    }
    vars.push({ name, value });
  }

  private pipeline(p: Pipeline, dot: unknown, vars: Variable[]): unknown {
    let v: unknown;
    let piped = false;
    for (const c of p.cmds) {
      v = this.command(c, dot, vars, piped ? { value: v } : undefined, p.source);
      piped = true;
    }
    for (const name of p.vars) this.setVar(vars, name, v, p.assign);
    return v;
  }

  private command(
    c: Command,
    dot: unknown,
    vars: Variable[],
    final: { value: unknown } | undefined,
    src: string,
  ): unknown {
    const first = c.args[0] as Arg;
    const rest = c.args.slice(1);
    switch (first.type) {
      case 'nil':
        return this.fail(first, 'nil is not a command', src);
      case 'function':
        return this.callFunction(first.name, first, rest, dot, vars, final, src);
      case 'field':
        return this.fieldChain(dot, first.names, first, rest, dot, vars, final, src);
      case 'variable': {
        const value = this.lookup(vars, first.name, first, src);
        if (first.names.length === 0) {
          this.noArgs(first, rest, final, src);
          return value;
        }
        return this.fieldChain(value, first.names, first, rest, dot, vars, final, src);
      }
      case 'chain': {
        const base = this.arg(first.node, dot, vars, src);
        return this.fieldChain(base, first.names, first, rest, dot, vars, final, src);
      }
      default:
        this.noArgs(first, rest, final, src);
        return this.arg(first, dot, vars, src);
    }
  }

  private noArgs(at: Arg, rest: readonly Arg[], final: { value: unknown } | undefined, src: string): void {
    if (rest.length > 0 || final) this.fail(at, `can't give argument to non-function ${describeArg(at)}`, src);
  }

  private lookup(vars: Variable[], name: string, at: Pos, src: string): unknown {
    for (let i = vars.length - 1; i >= 0; i--)
      if ((vars[i] as Variable).name === name) return (vars[i] as Variable).value;
    return this.fail(at, `undefined variable: ${name}`, src);
  }

  /** `receiver.names…`, the last one called with `args` (and the piped value) when it is a function. */
  private fieldChain(
    receiver: unknown,
    names: readonly string[],
    at: Pos,
    args: readonly Arg[],
    dot: unknown,
    vars: Variable[],
    final: { value: unknown } | undefined,
    src: string,
  ): unknown {
    let v = receiver;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const last = i === names.length - 1;
      if (v === null || v === undefined) this.fail(at, `nil pointer evaluating ${goType(v)}.${name}`, src);
      const { value, self } = field(v, name);
      if (typeof value === 'function') {
        const callArgs = last ? args.map((a) => this.arg(a, dot, vars, src)) : [];
        if (last && final) callArgs.push(final.value);
        v = this.invoke(value as TemplateFunc, self, callArgs, name, at, src);
        continue;
      }
      if (last && (args.length > 0 || final))
        this.fail(at, `${name} has arguments but cannot be invoked as function`, src);
      v = value;
    }
    return v;
  }

  private callFunction(
    name: string,
    at: Pos,
    args: readonly Arg[],
    dot: unknown,
    vars: Variable[],
    final: { value: unknown } | undefined,
    src: string,
  ): unknown {
    const fn = this.funcs[name];
    if (!fn) return this.fail(at, `function ${JSON.stringify(name)} not defined`);
    // and / or evaluate their arguments only as far as needed (Go 1.18).
    if (name === 'and' || name === 'or') {
      let v: unknown;
      const all = [...args.map((a) => () => this.arg(a, dot, vars, src)), ...(final ? [() => final.value] : [])];
      if (all.length === 0) this.fail(at, `wrong number of args for ${name}: want at least 1 got 0`, src);
      for (const get of all) {
        v = get();
        if (truth(v) === (name === 'or')) return v;
      }
      return v;
    }
    const values = args.map((a) => this.arg(a, dot, vars, src));
    if (final) values.push(final.value);
    return this.invoke(fn, undefined, values, name, at, src);
  }

  private invoke(fn: TemplateFunc, self: unknown, args: unknown[], name: string, at: Pos, src: string): unknown {
    try {
      return fn.apply(self, args);
    } catch (err) {
      if (err instanceof TemplateError) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      return this.fail(at, `error calling ${name}: ${msg}`, src);
    }
  }

  private arg(a: Arg, dot: unknown, vars: Variable[], src: string): unknown {
    switch (a.type) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'number':
        return a.float ? float64(a.value) : a.value;
      case 'bool':
      case 'string':
        return a.value;
      case 'field':
        return this.fieldChain(dot, a.names, a, [], dot, vars, undefined, src);
      case 'variable': {
        const v = this.lookup(vars, a.name, a, src);
        return a.names.length === 0 ? v : this.fieldChain(v, a.names, a, [], dot, vars, undefined, src);
      }
      case 'chain':
        return this.fieldChain(this.arg(a.node, dot, vars, src), a.names, a, [], dot, vars, undefined, src);
      case 'pipeline':
        return this.pipeline(a.pipe, dot, vars);
      case 'function':
        return this.callFunction(a.name, a, [], dot, vars, undefined, src);
    }
  }
}

function describeArg(a: Arg): string {
  switch (a.type) {
    case 'string':
      return JSON.stringify(a.value);
    case 'number':
      return a.text;
    case 'bool':
      return String(a.value);
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    default:
      return a.type;
  }
}

/** A field of a value: an object's own key, a Map's entry, or a method (a function property). */
function field(v: unknown, name: string): { value: unknown; self: unknown } {
  if (v instanceof Map) return { value: v.get(name), self: v };
  if (typeof v === 'object' && v !== null) {
    if (Object.prototype.hasOwnProperty.call(v, name)) return { value: (v as Record<string, unknown>)[name], self: v };
    // A method of its class (not Object's own: `constructor`, `toString` are not fields).
    const proto = Object.getPrototypeOf(v) as object | null;
    if (proto && proto !== Object.prototype && proto !== Array.prototype) {
      const m = (v as Record<string, unknown>)[name];
      if (typeof m === 'function') return { value: m, self: v };
    }
    return { value: undefined, self: v };
  }
  return { value: undefined, self: v };
}

/** What range walks: a slice's indexes and elements, a map's keys (sorted) and values, 0…n-1 for an int. */
function rangeEntries(v: unknown, fail: () => never): Array<[unknown, unknown]> {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.map((e, i) => [i, e]);
  if (v instanceof Map) return [...v.keys()].sort(compare).map((k) => [k, v.get(k)]);
  if (typeof v === 'number' && Number.isInteger(v)) return Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
  if (v instanceof GoFloat) return fail();
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.keys(o)
      .sort()
      .map((k) => [k, o[k]]);
  }
  return fail();
}

function compare(a: unknown, b: unknown): number {
  const x = numberOf(a);
  const y = numberOf(b);
  if (x !== undefined && y !== undefined) return x - y;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Go's template truth: false, 0, nil, and empty strings, slices and maps are false. */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (v instanceof GoFloat) return v.value !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v) || v instanceof Uint8Array) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0 || Object.getPrototypeOf(v) !== Object.prototype;
  return true;
}

/** Go's len: bytes of a string (UTF-8), elements of a slice, entries of a map. */
export function goLen(v: unknown): number {
  if (typeof v === 'string') return new TextEncoder().encode(v).length;
  if (Array.isArray(v) || v instanceof Uint8Array) return v.length;
  if (v instanceof Map) return v.size;
  if (typeof v === 'object' && v !== null && !(v instanceof GoFloat)) return Object.keys(v).length;
  throw new FuncError(`len of type ${goType(v)}`);
}

function basicCompare(a: unknown, b: unknown, op: string): number {
  const x = numberOf(a);
  const y = numberOf(b);
  if (x !== undefined && y !== undefined) return x - y;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean' && (op === 'eq' || op === 'ne')) return a === b ? 0 : 1;
  if ((a === null || a === undefined) && (op === 'eq' || op === 'ne')) return b === null || b === undefined ? 0 : 1;
  if ((b === null || b === undefined) && (op === 'eq' || op === 'ne')) return 1;
  throw new FuncError(`incompatible types for comparison`);
}

/** What the js function escapes: quotes, backslash, the HTML specials and control characters. */
// eslint-disable-next-line no-control-regex
const JS_ESCAPED = /[\\'"<>&=]|[\u0000-\u001f]/g;

/** Go's builtin template functions. */
export function builtins(): Record<string, TemplateFunc> {
  return {
    // and / or are evaluated lazily by the executor; these are what `call and …` would do.
    and: (...a) => a.find((x) => !truth(x)) ?? a[a.length - 1],
    or: (...a) => a.find((x) => truth(x)) ?? a[a.length - 1],
    not: (...a) => {
      if (a.length !== 1) throw new FuncError(`wrong number of args for not: want 1 got ${a.length}`);
      return !truth(a[0]);
    },
    len: (v) => goLen(v),
    index: (v, ...keys) => {
      let cur = v;
      for (const k of keys) {
        if (Array.isArray(cur) || typeof cur === 'string') {
          if (typeof k !== 'number' || !Number.isInteger(k))
            throw new FuncError(`cannot index slice/array with type ${goType(k)}`);
          const len = typeof cur === 'string' ? new TextEncoder().encode(cur).length : cur.length;
          if (k < 0 || k >= len) throw new FuncError(`index out of range: ${k}`);
          cur = typeof cur === 'string' ? (new TextEncoder().encode(cur)[k] as number) : cur[k];
        } else if (cur instanceof Map) cur = cur.get(k);
        else if (typeof cur === 'object' && cur !== null) cur = (cur as Record<string, unknown>)[String(k)];
        else if (cur === null || cur === undefined) throw new FuncError(`index of untyped nil`);
        else throw new FuncError(`can't index item of type ${goType(cur)}`);
      }
      return cur;
    },
    slice: (v, ...idx) => {
      if (typeof v !== 'string' && !Array.isArray(v)) throw new FuncError(`can't slice item of type ${goType(v)}`);
      if (idx.length > 3) throw new FuncError(`too many slice indexes: ${idx.length}`);
      const len = v.length;
      const [lo = 0, hi = len] = idx as number[];
      if (lo < 0 || hi > len || lo > hi) throw new FuncError(`index out of range: ${lo}:${hi}`);
      return v.slice(lo, hi);
    },
    print: (...a) => {
      let s = '';
      a.forEach((x, i) => {
        if (i > 0 && typeof x !== 'string' && typeof a[i - 1] !== 'string') s += ' ';
        s += formatValue(x, false);
      });
      return s;
    },
    println: (...a) => `${a.map((x) => formatValue(x, false)).join(' ')}\n`,
    printf: (f, ...a) => sprintf(String(f), a),
    html: (...a) =>
      a
        .map((x) => formatValue(x, false))
        .join('')
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/"/g, '&#34;')
        .replace(/'/g, '&#39;')
        .replace(/\0/g, '\uFFFD'),
    js: (...a) =>
      a
        .map((x) => formatValue(x, false))
        .join('')
        .replace(JS_ESCAPED, (c) => {
          const named: Record<string, string> = {
            '\\': '\\\\',
            "'": "\\'",
            '"': '\\"',
          };
          return named[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
        }),
    urlquery: (...a) =>
      encodeURIComponent(a.map((x) => formatValue(x, false)).join(''))
        .replace(/%20/g, '+')
        .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    call: (fn, ...a) => {
      if (typeof fn !== 'function') throw new FuncError(`non-function of type ${goType(fn)}`);
      return (fn as TemplateFunc)(...a);
    },
    eq: (a, ...bs) => {
      if (bs.length === 0) throw new FuncError('missing argument for comparison');
      return bs.some((b) => basicCompare(a, b, 'eq') === 0);
    },
    ne: (a, b) => basicCompare(a, b, 'ne') !== 0,
    lt: (a, b) => basicCompare(a, b, 'lt') < 0,
    le: (a, b) => basicCompare(a, b, 'le') <= 0,
    gt: (a, b) => basicCompare(a, b, 'gt') > 0,
    ge: (a, b) => basicCompare(a, b, 'ge') >= 0,
  };
}
