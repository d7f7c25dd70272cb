import { BadRequestError } from '../errors.js';

/** A compiled filter expression: true when a result object matches. */
export type Filter = (obj: unknown) => boolean;

type Token = { kind: 'word' | 'string' | 'punct'; text: string; at: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === '`') {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== c) {
        if (c === '"' && src[j] === '\\' && j + 1 < src.length) j++;
        text += src[j];
        j++;
      }
      if (j >= src.length)
        throw new BadRequestError(`Failed to create boolean expression evaluator: unterminated string at ${i}`);
      out.push({ kind: 'string', text, at: i });
      i = j + 1;
      continue;
    }
    if (src.startsWith('==', i) || src.startsWith('!=', i)) {
      out.push({ kind: 'punct', text: src.slice(i, i + 2), at: i });
      i += 2;
      continue;
    }
    if ('()[].'.includes(c)) {
      out.push({ kind: 'punct', text: c, at: i });
      i++;
      continue;
    }
    const m = /^[A-Za-z0-9_\-:/]+/.exec(src.slice(i));
    if (!m)
      throw new BadRequestError(
        `Failed to create boolean expression evaluator: unexpected ${JSON.stringify(c)} at ${i}`,
      );
    out.push({ kind: 'word', text: m[0], at: i });
    i += m[0].length;
  }
  return out;
}

function lookup(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

function contains(container: unknown, value: string): boolean {
  if (Array.isArray(container)) return container.some((x) => String(x) === value);
  if (typeof container === 'string') return container.includes(value);
  if (container && typeof container === 'object') return Object.hasOwn(container, value);
  return false;
}

/**
 * Compiles a Consul `filter` expression (the common subset of go-bexpr): selectors such as
 * `Service.Tags` or `Meta.env` / `Meta["env"]`; `==`, `!=`, `contains`, `not contains`, `in`,
 * `not in`, `is empty`, `is not empty`, `matches`, `not matches`; `and`, `or`, `not` and
 * parentheses; values quoted with "" or ``, or bare words and numbers.
 * Throws BadRequestError for an expression that does not parse.
 */
export function compileFilter(src: string): Filter {
  const toks = tokenize(src);
  let pos = 0;
  const peek = (o = 0): Token | undefined => toks[pos + o];
  const fail = (what: string): never => {
    const t = peek();
    throw new BadRequestError(
      `Failed to create boolean expression evaluator: ${what} at ${t ? `position ${t.at}` : 'end of input'}`,
    );
  };
  const word = (w: string, o = 0): boolean => peek(o)?.kind === 'word' && peek(o)?.text.toLowerCase() === w;
  const selector = (): string[] => {
    const t = peek();
    if (t?.kind !== 'word') return fail('expected a selector');
    pos++;
    const path = [t.text];
    for (;;) {
      if (peek()?.text === '.' && peek(1)?.kind === 'word') {
        path.push((peek(1) as Token).text);
        pos += 2;
      } else if (peek()?.text === '[' && peek(1)?.kind === 'string' && peek(2)?.text === ']') {
        path.push((peek(1) as Token).text);
        pos += 3;
      } else return path;
    }
  };
  const value = (): string => {
    const t = peek();
    if (!t || t.kind === 'punct') return fail('expected a value');
    pos++;
    return t.text;
  };
  const primary = (): Filter => {
    if (peek()?.text === '(') {
      pos++;
      const inner = or();
      if (peek()?.text !== ')') return fail('expected ")"');
      pos++;
      return inner;
    }
    // value in selector / value not in selector
    if (peek(1) && (word('in', 1) || (word('not', 1) && word('in', 2)))) {
      const v = value();
      const negate = word('not');
      pos += negate ? 2 : 1;
      const sel = selector();
      return (o) => contains(lookup(o, sel), v) !== negate;
    }
    const sel = selector();
    if (word('is')) {
      pos++;
      const negate = word('not');
      if (negate) pos++;
      if (!word('empty')) return fail('expected "empty"');
      pos++;
      return (o) => isEmpty(lookup(o, sel)) !== negate;
    }
    const negate = word('not');
    if (negate) pos++;
    const op = peek();
    if (!op) return fail('expected an operator');
    pos++;
    if (!negate && (op.text === '==' || op.text === '!=')) {
      const v = value();
      return (o) => {
        const f = lookup(o, sel);
        const eq = f !== undefined && f !== null && typeof f !== 'object' && String(f) === v;
        return op.text === '==' ? eq : !eq;
      };
    }
    if (op.kind === 'word' && op.text.toLowerCase() === 'contains') {
      const v = value();
      return (o) => contains(lookup(o, sel), v) !== negate;
    }
    if (op.kind === 'word' && op.text.toLowerCase() === 'matches') {
      const v = value();
      let re: RegExp;
      try {
        re = new RegExp(v);
      } catch {
        return fail(`invalid regular expression ${JSON.stringify(v)}`);
      }
      return (o) => {
        const f = lookup(o, sel);
        return (typeof f === 'string' && re.test(f)) !== negate;
      };
    }
    return fail(`unknown operator ${JSON.stringify(op.text)}`);
  };
  const not = (): Filter => {
    if (word('not') && !word('in', 1)) {
      pos++;
      const inner = not();
      return (o) => !inner(o);
    }
    return primary();
  };
  const and = (): Filter => {
    let left = not();
    while (word('and')) {
      pos++;
      const l = left;
      const r = not();
      left = (o) => l(o) && r(o);
    }
    return left;
  };
  const or = (): Filter => {
    let left = and();
    while (word('or')) {
      pos++;
      const l = left;
      const r = and();
      left = (o) => l(o) || r(o);
    }
    return left;
  };
  if (toks.length === 0) return () => true;
  const f = or();
  if (pos !== toks.length) fail('unexpected input');
  return f;
}
