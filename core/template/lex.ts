import { TemplateError } from './errors.js';

/** The kinds of token the lexer makes (Go's text/template item types, those it needs). */
export type TokenKind =
  | 'text'
  | 'open'
  | 'close'
  | 'identifier'
  | 'field'
  | 'variable'
  | 'string'
  | 'rawString'
  | 'char'
  | 'number'
  | 'bool'
  | 'nil'
  | 'dot'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'keyword'
  | 'eof';

/** Words that begin or end actions (Go's keywords, plus `else`). */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'block',
  'break',
  'continue',
  'define',
  'else',
  'end',
  'if',
  'range',
  'template',
  'with',
]);

/** One token: its kind, its text as written and where it starts (1-based line and column). */
export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly line: number;
  readonly col: number;
}

/** Most tokens one template may have (a bound, so a huge input fails clearly instead of exhausting memory). */
export const MAX_TOKENS = 1_000_000;

const SPACE = /[ \t\r\n]/;
/** A Go number literal: sign, hex (with a hex float's fraction and exponent), octal, binary or decimal. */
const NUMBER = new RegExp(
  '^[+-]?(0[xX][0-9a-fA-F_]+(\\.[0-9a-fA-F_]*)?([pP][+-]?[0-9_]+)?|0[oO][0-7_]+|0[bB][01_]+|' +
    '([0-9][0-9_]*)?\\.?[0-9_]*([eE][+-]?[0-9_]+)?)i?',
);
const ALNUM = /[\p{L}\p{N}_]/u;

/**
 * Splits a template into tokens, as Go's text/template lexer does: text outside `{{ }}`, and
 * inside an action its words. Handles `{{-`/`-}}` trim markers (which remove the white space
 * before or after, and must be followed or preceded by white space), `{{/* comments *\/}}`,
 * quoted, raw and character literals, Go number syntax, fields (`.A.B`), variables (`$x`) and
 * the operators `| ( ) := = ,`. Throws TemplateError naming `name`, the line and the column.
 */
export function lex(name: string, src: string, left = '{{', right = '}}'): Token[] {
  const out: Token[] = [];
  let pos = 0;
  let line = 1;
  let lineStart = 0;
  const fail = (at: number, msg: string): never => {
    const { l, c } = where(at);
    throw new TemplateError(name, l, c, msg);
  };
  const where = (at: number): { l: number; c: number } => {
    let l = line;
    let ls = lineStart;
    // Positions before `pos` are looked up from the start (rare: errors only).
    if (at < lineStart) {
      l = 1;
      ls = 0;
      for (let i = 0; i < at; i++)
        if (src.charCodeAt(i) === 10) {
          l++;
          ls = i + 1;
        }
    }
    return { l, c: at - ls + 1 };
  };
  const advanceTo = (to: number): void => {
    for (let i = pos; i < to; i++)
      if (src.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    pos = to;
  };
  const emit = (kind: TokenKind, start: number, text: string): void => {
    if (out.length >= MAX_TOKENS) fail(start, `template has more than ${MAX_TOKENS} tokens`);
    const { l, c } = where(start);
    out.push({ kind, text, line: l, col: c });
  };

  let trimNextText = false;
  while (pos < src.length) {
    const open = src.indexOf(left, pos);
    const textEnd = open < 0 ? src.length : open;
    // A trim marker after the left delimiter removes the white space before it.
    const trimBefore =
      open >= 0 && src.startsWith('-', open + left.length) && SPACE.test(src.charAt(open + left.length + 1));
    let text = src.slice(pos, textEnd);
    if (trimNextText) text = text.replace(/^[ \t\r\n]+/, '');
    if (trimBefore) text = text.replace(/[ \t\r\n]+$/, '');
    if (text.length > 0) emit('text', pos, text);
    trimNextText = false;
    advanceTo(textEnd);
    if (open < 0) break;
    const actionStart = pos;
    advanceTo(pos + left.length + (trimBefore ? 2 : 0));
    // A comment: the whole action, delimiters and all.
    if (src.startsWith('/*', pos)) {
      const end = src.indexOf('*/', pos + 2);
      if (end < 0) fail(pos, 'unclosed comment');
      advanceTo(end + 2);
      if (/^[ \t\r\n]-/.test(src.slice(pos, pos + 2)) && src.startsWith(right, pos + 2)) {
        advanceTo(pos + 2 + right.length);
        trimNextText = true;
      } else if (src.startsWith(right, pos)) advanceTo(pos + right.length);
      else fail(pos, 'comment ends before closing delimiter');
      continue;
    }
    emit('open', actionStart, left);
    let parens = 0;
    for (;;) {
      if (pos >= src.length) fail(actionStart, 'unclosed action');
      // The right delimiter, with or without a trim marker before it.
      if (SPACE.test(src.charAt(pos)) && src.startsWith('-' + right, pos + 1) && parens === 0) {
        advanceTo(pos + 2);
        emit('close', pos, right);
        advanceTo(pos + right.length);
        trimNextText = true;
        break;
      }
      if (src.startsWith(right, pos)) {
        if (parens > 0) fail(pos, 'unclosed left paren');
        emit('close', pos, right);
        advanceTo(pos + right.length);
        break;
      }
      const c = src.charAt(pos);
      const start = pos;
      if (SPACE.test(c)) {
        if (c === '\n' && parens === 0) {
          // Go allows newlines inside actions since 1.16; they are only space.
        }
        advanceTo(pos + 1);
        continue;
      }
      if (c === '|') {
        emit('pipe', start, c);
        advanceTo(pos + 1);
      } else if (c === '(') {
        parens++;
        emit('lparen', start, c);
        advanceTo(pos + 1);
      } else if (c === ')') {
        if (parens === 0) fail(pos, 'unexpected right paren');
        parens--;
        emit('rparen', start, c);
        advanceTo(pos + 1);
      } else if (c === ',') {
        emit('comma', start, c);
        advanceTo(pos + 1);
      } else if (c === ':') {
        if (src.charAt(pos + 1) !== '=') fail(pos, 'expected :=');
        emit('declare', start, ':=');
        advanceTo(pos + 2);
      } else if (c === '=') {
        emit('assign', start, c);
        advanceTo(pos + 1);
      } else if (c === '"') {
        let i = pos + 1;
        for (; i < src.length; i++) {
          const d = src.charAt(i);
          if (d === '\\') i++;
          else if (d === '"') break;
          else if (d === '\n') fail(i, 'unterminated quoted string');
        }
        if (i >= src.length) fail(pos, 'unterminated quoted string');
        emit('string', start, src.slice(pos, i + 1));
        advanceTo(i + 1);
      } else if (c === '`') {
        const end = src.indexOf('`', pos + 1);
        if (end < 0) fail(pos, 'unterminated raw quoted string');
        emit('rawString', start, src.slice(pos, end + 1));
        advanceTo(end + 1);
      } else if (c === "'") {
        let i = pos + 1;
        for (; i < src.length; i++) {
          const d = src.charAt(i);
          if (d === '\\') i++;
          else if (d === "'") break;
          else if (d === '\n') fail(i, 'unterminated character constant');
        }
        if (i >= src.length) fail(pos, 'unterminated character constant');
        emit('char', start, src.slice(pos, i + 1));
        advanceTo(i + 1);
      } else if (c === '$') {
        let i = pos + 1;
        while (i < src.length && ALNUM.test(src.charAt(i))) i++;
        emit('variable', start, src.slice(pos, i));
        advanceTo(i);
        lexFields();
      } else if (c === '.') {
        // A number like .5, a field, or the dot itself.
        if (/[0-9]/.test(src.charAt(pos + 1))) lexNumber();
        else if (ALNUM.test(src.charAt(pos + 1))) lexFields();
        else {
          emit('dot', start, c);
          advanceTo(pos + 1);
        }
      } else if (/[0-9+-]/.test(c)) {
        lexNumber();
      } else if (ALNUM.test(c)) {
        let i = pos;
        while (i < src.length && ALNUM.test(src.charAt(i))) i++;
        const word = src.slice(pos, i);
        emit(
          KEYWORDS.has(word)
            ? 'keyword'
            : word === 'true' || word === 'false'
              ? 'bool'
              : word === 'nil'
                ? 'nil'
                : 'identifier',
          start,
          word,
        );
        advanceTo(i);
        lexFields();
      } else if (c === ')' || c === '}') {
        fail(pos, `unexpected ${JSON.stringify(c)} in command`);
      } else {
        fail(pos, `unrecognized character in action: ${JSON.stringify(c)}`);
      }
    }
  }
  emit('eof', pos, '');
  return out;

  /** Field names following right after (`.A.B`), each a token. */
  function lexFields(): void {
    while (src.charAt(pos) === '.' && ALNUM.test(src.charAt(pos + 1)) && !/[0-9]/.test(src.charAt(pos + 1))) {
      let i = pos + 1;
      while (i < src.length && ALNUM.test(src.charAt(i))) i++;
      emit('field', pos, src.slice(pos, i));
      advanceTo(i);
    }
  }

  /** A Go number literal (sign, base prefix, digits with underscores, fraction, exponent). */
  function lexNumber(): void {
    const m = NUMBER.exec(src.slice(pos));
    const text = m?.[0] ?? '';
    if (text === '' || text === '+' || text === '-' || ALNUM.test(src.charAt(pos + text.length)))
      fail(pos, `bad number syntax: ${JSON.stringify(src.slice(pos, pos + Math.max(1, text.length + 1)))}`);
    emit('number', pos, text);
    advanceTo(pos + text.length);
  }
}
