import { TemplateError } from './errors.js';
import { lex, type Token } from './lex.js';

/** Where a node starts, for error messages. */
export interface Pos {
  readonly line: number;
  readonly col: number;
}

/** An operand of a command. */
export type Arg =
  | (Pos & { readonly type: 'field'; readonly names: readonly string[] })
  | (Pos & { readonly type: 'variable'; readonly name: string; readonly names: readonly string[] })
  | (Pos & { readonly type: 'chain'; readonly node: Arg; readonly names: readonly string[] })
  | (Pos & { readonly type: 'dot' })
  | (Pos & { readonly type: 'nil' })
  | (Pos & { readonly type: 'bool'; readonly value: boolean })
  | (Pos & {
      readonly type: 'number';
      readonly value: number;
      readonly text: string;
      /** Written as a float (`10.0`, `1e6`, `0x1p4`): a float64 to Go even when whole. */
      readonly float: boolean;
    })
  | (Pos & { readonly type: 'string'; readonly value: string })
  | (Pos & { readonly type: 'function'; readonly name: string })
  | (Pos & { readonly type: 'pipeline'; readonly pipe: Pipeline });

/** One command of a pipeline: a function or method call, or a single operand. */
export interface Command extends Pos {
  readonly args: readonly Arg[];
}

/** A pipeline, with the variables it declares (`$x :=`) or assigns (`$x =`). */
export interface Pipeline extends Pos {
  readonly vars: readonly string[];
  readonly assign: boolean;
  readonly cmds: readonly Command[];
  /** The text of the pipeline as written, for error messages. */
  readonly source: string;
}

/** A node of a parsed template. */
export type Node =
  | (Pos & { readonly type: 'text'; readonly text: string })
  | (Pos & { readonly type: 'action'; readonly pipe: Pipeline })
  | (Pos & {
      readonly type: 'if' | 'with' | 'range';
      readonly pipe: Pipeline;
      readonly list: readonly Node[];
      readonly elseList: readonly Node[] | undefined;
    })
  | (Pos & { readonly type: 'template'; readonly name: string; readonly pipe: Pipeline | undefined })
  | (Pos & { readonly type: 'break' | 'continue' });

/** Parsed templates by name: the one parsed (under its own name) and those it defines. */
export type TemplateSet = Map<string, readonly Node[]>;

/** Most nesting of control structures and parentheses (a bound on recursion). */
export const MAX_DEPTH = 200;

/**
 * Parses `src` as template `name` with Go's text/template grammar: actions, pipelines,
 * variables, `if`/`else if`/`else`, `range` (with `$i, $e :=`, `break`, `continue`), `with`
 * (`else with`), `define`, `template` and `block`. Returns every template it holds by name.
 * Throws TemplateError (name, line, column) on a syntax error, and, when `functions` is given, on
 * a call of a function it does not name (as Go's parser does with its FuncMap).
 */
export function parse(
  name: string,
  src: string,
  left?: string,
  right?: string,
  functions?: ReadonlySet<string>,
): TemplateSet {
  return new Parser(name, src, lex(name, src, left, right), functions).parseAll();
}

class Parser {
  private i = 0;
  private depth = 0;
  private rangeDepth = 0;
  private readonly set: TemplateSet = new Map();
  private readonly vars: string[][] = [['$']];

  constructor(
    private readonly name: string,
    private readonly src: string,
    private readonly tokens: readonly Token[],
    private readonly functions: ReadonlySet<string> | undefined,
  ) {}

  parseAll(): TemplateSet {
    const { list, end } = this.list(new Set());
    if (end) this.fail(end, `unexpected {{${end.text}}}`);
    // `define` bodies were added as they were met; the main one goes under its own name unless a
    // define of that name replaced an empty main template.
    const defined = this.set.get(this.name);
    if (!defined || list.some((n) => n.type !== 'text' || n.text.trim() !== '')) this.set.set(this.name, list);
    return this.set;
  }

  private fail(at: Pos | Token, msg: string): never {
    throw new TemplateError(this.name, at.line, at.col, msg);
  }

  private peek(k = 0): Token {
    return this.tokens[Math.min(this.i + k, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }

  private expect(kind: Token['kind'], what: string): Token {
    const t = this.next();
    if (t.kind !== kind) this.fail(t, `unexpected ${describe(t)} in ${what}`);
    return t;
  }

  /**
   * Nodes until EOF or one of `ends` (`end`, `else`) inside an action; returns the keyword token
   * it stopped at, having consumed `{{` and the keyword (not the rest of that action).
   */
  private list(ends: ReadonlySet<string>): { list: Node[]; end: Token | undefined } {
    const list: Node[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') return { list, end: undefined };
      if (t.kind === 'text') {
        this.next();
        list.push({ type: 'text', text: t.text, line: t.line, col: t.col });
        continue;
      }
      // An action.
      this.next();
      const k = this.peek();
      if (k.kind === 'keyword' && (k.text === 'end' || k.text === 'else')) {
        if (!ends.has(k.text)) this.fail(k, `unexpected {{${k.text}}}`);
        this.next();
        return { list, end: k };
      }
      const node = this.action(t);
      if (node) list.push(node);
    }
  }

  /** The action whose `{{` was `open`. */
  private action(open: Token): Node | undefined {
    const k = this.peek();
    if (k.kind === 'keyword') {
      this.next();
      switch (k.text) {
        case 'if':
        case 'with':
        case 'range':
          return this.control(k.text, k);
        case 'template':
          return this.templateCall(k);
        case 'define':
          this.define(k);
          return undefined;
        case 'block':
          return this.block(k);
        case 'break':
        case 'continue':
          if (this.rangeDepth === 0) this.fail(k, `{{${k.text}}} outside {{range}}`);
          this.expect('close', k.text);
          return { type: k.text, line: k.line, col: k.col };
        default:
          this.fail(k, `unexpected keyword ${k.text}`);
      }
    }
    const pipe = this.pipeline('command', open, true);
    return { type: 'action', pipe, line: open.line, col: open.col };
  }

  private enter(at: Token): void {
    if (++this.depth > MAX_DEPTH) this.fail(at, `nested deeper than ${MAX_DEPTH}`);
  }

  /** if / with / range, after the keyword: pipeline, body, optional else (or else if / else with), end. */
  private control(kind: 'if' | 'with' | 'range', k: Token): Node {
    this.enter(k);
    this.vars.push([...(this.vars[this.vars.length - 1] as string[])]);
    const pipe = this.pipeline(kind, k, true, kind === 'range');
    if (kind === 'range') this.rangeDepth++;
    const body = this.list(new Set(['end', 'else']));
    if (kind === 'range') this.rangeDepth--;
    if (!body.end) this.fail(k, `unexpected EOF: {{${kind}}} without {{end}}`);
    let elseList: Node[] | undefined;
    if (body.end.text === 'else') {
      const after = this.peek();
      // `else if` / `else with`: a nested structure closed by the same {{end}}.
      if (
        (kind === 'if' && after.kind === 'keyword' && after.text === 'if') ||
        (kind === 'with' && after.text === 'with')
      ) {
        this.next();
        const nested = this.control(after.text as 'if' | 'with', after);
        elseList = [nested];
        this.vars.pop();
        this.depth--;
        return { type: kind, pipe, list: body.list, elseList, line: k.line, col: k.col };
      }
      this.expect('close', 'else');
      const rest = this.list(new Set(['end']));
      if (!rest.end) this.fail(k, `unexpected EOF: {{${kind}}} without {{end}}`);
      elseList = rest.list;
    }
    this.expect('close', 'end');
    this.vars.pop();
    this.depth--;
    return { type: kind, pipe, list: body.list, elseList, line: k.line, col: k.col };
  }

  /** {{template "name" pipeline?}} */
  private templateCall(k: Token): Node {
    const nameTok = this.next();
    const tname = this.stringValue(nameTok, 'template clause');
    const pipe = this.peek().kind === 'close' ? undefined : this.pipeline('template clause', k, false);
    if (!pipe) this.expect('close', 'template clause');
    return { type: 'template', name: tname, pipe, line: k.line, col: k.col };
  }

  /** {{define "name"}} body {{end}} */
  private define(k: Token): void {
    const tname = this.stringValue(this.next(), 'define clause');
    this.expect('close', 'define clause');
    const saved = this.vars.splice(0);
    this.vars.push(['$']);
    const body = this.list(new Set(['end']));
    this.vars.splice(0, this.vars.length, ...saved);
    if (!body.end) this.fail(k, 'unexpected EOF: {{define}} without {{end}}');
    this.expect('close', 'end');
    this.set.set(tname, body.list);
  }

  /** {{block "name" pipeline}} body {{end}}: define it, and call it here. */
  private block(k: Token): Node {
    const tname = this.stringValue(this.next(), 'block clause');
    const pipe = this.pipeline('block clause', k, true);
    const saved = this.vars.splice(0);
    this.vars.push(['$']);
    const body = this.list(new Set(['end']));
    this.vars.splice(0, this.vars.length, ...saved);
    if (!body.end) this.fail(k, 'unexpected EOF: {{block}} without {{end}}');
    this.expect('close', 'end');
    this.set.set(tname, body.list);
    return { type: 'template', name: tname, pipe, line: k.line, col: k.col };
  }

  private stringValue(t: Token, what: string): string {
    if (t.kind === 'string') return unquote(t.text, (msg) => this.fail(t, msg));
    if (t.kind === 'rawString') return t.text.slice(1, -1);
    return this.fail(t, `unexpected ${describe(t)} in ${what}`);
  }

  /**
   * A pipeline up to the closing `}}` (or `)` when `inParens`), which it consumes. With
   * `decl`, it may start with `$x :=` / `$x =` (`range` also `$i, $e :=`).
   */
  private pipeline(what: string, at: Token, decl: boolean, twoVars = false, inParens = false): Pipeline {
    const first = this.peek();
    const vars: string[] = [];
    let assign = false;
    if (decl && first.kind === 'variable') {
      // $x :=, $x =, or $i, $e :=
      const a = this.peek(1);
      if (a.kind === 'declare' || a.kind === 'assign') {
        this.next();
        this.next();
        vars.push(first.text);
        assign = a.kind === 'assign';
      } else if (a.kind === 'comma' && twoVars && this.peek(2).kind === 'variable') {
        const second = this.peek(2);
        const d = this.peek(3);
        if (d.kind !== 'declare' && d.kind !== 'assign') this.fail(d, `unexpected ${describe(d)} in ${what}`);
        this.i += 4;
        vars.push(first.text, second.text);
        assign = d.kind === 'assign';
      }
      const scope = this.vars[this.vars.length - 1] as string[];
      for (const v of vars) {
        if (assign && !scope.includes(v)) this.fail(first, `undefined variable "${v}"`);
        if (!assign) scope.push(v);
      }
    }
    const cmds: Command[] = [];
    const startTok = this.peek();
    for (;;) {
      const t = this.peek();
      if (t.kind === (inParens ? 'rparen' : 'close')) {
        this.next();
        break;
      }
      if (t.kind === 'eof') this.fail(at, `unclosed action`);
      cmds.push(this.command(what));
      const sep = this.peek();
      if (sep.kind === 'pipe') {
        this.next();
        if (this.peek().kind === (inParens ? 'rparen' : 'close')) this.fail(sep, `missing command after |`);
        continue;
      }
      if (sep.kind !== (inParens ? 'rparen' : 'close')) this.fail(sep, `unexpected ${describe(sep)} in ${what}`);
    }
    if (cmds.length === 0) this.fail(at, `missing value for ${what}`);
    const endTok = this.tokens[this.i - 1] as Token;
    return {
      vars,
      assign,
      cmds,
      line: startTok.line,
      col: startTok.col,
      source: this.sourceBetween(startTok, endTok),
    };
  }

  /** The template text from token `a` up to (not including) token `b`, trimmed. */
  private sourceBetween(a: Token, b: Token): string {
    const offset = (t: Token): number => {
      let line = 1;
      let i = 0;
      while (line < t.line) {
        const nl = this.src.indexOf('\n', i);
        if (nl < 0) break;
        i = nl + 1;
        line++;
      }
      return i + t.col - 1;
    };
    return this.src.slice(offset(a), offset(b)).trim();
  }

  /** Operands up to `|`, `)` or `}}`. */
  private command(what: string): Command {
    const start = this.peek();
    const args: Arg[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'pipe' || t.kind === 'rparen' || t.kind === 'close' || t.kind === 'eof') break;
      args.push(this.operand(what));
    }
    if (args.length === 0) this.fail(start, `empty command`);
    return { args, line: start.line, col: start.col };
  }

  /** One operand, with any field chain after it. */
  private operand(what: string): Arg {
    const t = this.next();
    const pos = { line: t.line, col: t.col };
    let node: Arg;
    switch (t.kind) {
      case 'field':
        return { type: 'field', names: this.fieldNames(t), ...pos };
      case 'variable': {
        const scope = this.vars[this.vars.length - 1] as string[];
        if (!scope.includes(t.text)) this.fail(t, `undefined variable "${t.text}"`);
        return { type: 'variable', name: t.text, names: this.fieldNames(), ...pos };
      }
      case 'dot':
        node = { type: 'dot', ...pos };
        break;
      case 'nil':
        node = { type: 'nil', ...pos };
        break;
      case 'bool':
        node = { type: 'bool', value: t.text === 'true', ...pos };
        break;
      case 'number':
        node = {
          type: 'number',
          value: parseNumber(t.text, (m) => this.fail(t, m)),
          text: t.text,
          float: /^[+-]?0[xX]/.test(t.text) ? /[pP]/.test(t.text) : /[.eE]/.test(t.text),
          ...pos,
        };
        break;
      case 'char':
        node = {
          type: 'number',
          value: unquote(`"${t.text.slice(1, -1).replace(/"/g, '\\"')}"`, (m) => this.fail(t, m)).codePointAt(0) ?? 0,
          text: t.text,
          float: false,
          ...pos,
        };
        break;
      case 'string':
        node = { type: 'string', value: unquote(t.text, (m) => this.fail(t, m)), ...pos };
        break;
      case 'rawString':
        node = { type: 'string', value: t.text.slice(1, -1).replace(/\r/g, ''), ...pos };
        break;
      case 'identifier':
        if (this.functions && !this.functions.has(t.text))
          this.fail(t, `function ${JSON.stringify(t.text)} not defined`);
        node = { type: 'function', name: t.text, ...pos };
        break;
      case 'lparen': {
        this.enter(t);
        const pipe = this.pipeline('parenthesized pipeline', t, false, false, true);
        this.depth--;
        node = { type: 'pipeline', pipe, ...pos };
        break;
      }
      default:
        return this.fail(t, `unexpected ${describe(t)} in ${what}`);
    }
    const names = this.fieldNames();
    if (names.length === 0) return node;
    if (node.type === 'bool' || node.type === 'string' || node.type === 'number' || node.type === 'nil')
      this.fail(t, `unexpected . after term ${JSON.stringify(t.text)}`);
    return { type: 'chain', node, names, ...pos };
  }

  /**
   * The names of `first` (a field token) and of the field tokens written right after the last
   * token read, with no space between (`.A.B`, `$x.A`, `(…).A`); a field after a space is an
   * argument of its own.
   */
  private fieldNames(first?: Token): string[] {
    const names = first ? [first.text.slice(1)] : [];
    for (;;) {
      const prev = this.tokens[this.i - 1] as Token;
      const t = this.peek();
      if (t.kind !== 'field' || t.line !== prev.line || t.col !== prev.col + prev.text.length) break;
      names.push(this.next().text.slice(1));
    }
    return names;
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'EOF';
    case 'close':
      return `"${t.text}"`;
    default:
      return `<${t.text}>`;
  }
}

/** The value of a Go interpreted string literal ("…" with escapes). */
export function unquote(lit: string, fail: (msg: string) => never): string {
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body.charAt(i);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body.charAt(++i);
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
      '"': '"',
      "'": "'",
    };
    if (e in simple) out += simple[e];
    else if (e === 'x') {
      const h = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) fail(`invalid syntax: bad \\x escape in ${lit}`);
      out += String.fromCharCode(parseInt(h, 16));
      i += 2;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      const h = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) fail(`invalid syntax: bad \\${e} escape in ${lit}`);
      out += String.fromCodePoint(parseInt(h, 16));
      i += n;
    } else if (/[0-7]/.test(e)) {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o)) fail(`invalid syntax: bad octal escape in ${lit}`);
      out += String.fromCharCode(parseInt(o, 8));
      i += 2;
    } else fail(`invalid syntax: unknown escape \\${e} in ${lit}`);
  }
  return out;
}

/** A Go number literal's value (integers in bases 2, 8, 10, 16 with underscores; floats). */
function parseNumber(text: string, fail: (msg: string) => never): number {
  if (text.endsWith('i')) fail(`complex numbers are not supported: ${text}`);
  const sign = text.startsWith('-') ? -1 : 1;
  const t = text.replace(/^[+-]/, '').replace(/_/g, '');
  let v: number;
  if (/^0[xX]/.test(t) && !/[.pP]/.test(t)) v = parseInt(t.slice(2), 16);
  else if (/^0[oO]/.test(t)) v = parseInt(t.slice(2), 8);
  else if (/^0[bB]/.test(t)) v = parseInt(t.slice(2), 2);
  else if (/^0[0-7]+$/.test(t)) v = parseInt(t.slice(1), 8);
  else v = Number(t);
  if (!Number.isFinite(v)) fail(`bad number syntax: ${text}`);
  return sign * v;
}
