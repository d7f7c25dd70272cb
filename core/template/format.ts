/**
 * Go's fmt formatting, as templates print values: %v of strings, numbers, booleans, nil, slices
 * and maps (keys sorted), and Printf with its common verbs, flags, width and precision.
 */

/** What a missing value prints as in a template (a nil interface at the top level). */
export const NO_VALUE = '<no value>';

/**
 * A float64 whose value is whole (`10.0` in a template, a number parseJSON read): Go keeps it apart
 * from an int, and so does the engine, because it prints (`1e+06`) and divides (`2.5`) as a float.
 * A JavaScript number that is whole is an int; one with a fraction is a float64.
 */
export class GoFloat {
  readonly #value: number;
  constructor(value: number) {
    this.#value = value;
  }
  /** The number. */
  get value(): number {
    return this.#value;
  }
  valueOf(): number {
    return this.#value;
  }
  toJSON(): number {
    return this.#value;
  }
}

/** `v` as a float64: a GoFloat when whole, else the number itself. */
export function float64(v: number): number | GoFloat {
  return Number.isInteger(v) ? new GoFloat(v) : v;
}

/** The number in `v` (an int, a float64 or a GoFloat), or undefined. */
export function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  return v instanceof GoFloat ? v.value : undefined;
}

/** Whether `v` is a float64 to Go (a GoFloat, or a number with a fraction). */
export function isFloat(v: unknown): boolean {
  return v instanceof GoFloat || (typeof v === 'number' && !Number.isInteger(v));
}

/**
 * A number as Go's %v prints it: an int (a whole JavaScript number) in full; a float64 (GoFloat or
 * a number with a fraction) in its shortest form, with an exponent when that is below -4 or
 * from 6 on (`1e+06`, `1.2345678e+07`, `1e-05`), as strconv's shortest %g does.
 */
export function formatFloat(v: number | GoFloat): string {
  if (v instanceof GoFloat) return shortestG(v.value);
  if (Number.isInteger(v)) return String(v);
  return shortestG(v);
}

function shortestG(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(v)));
  // log10 can be off by one at powers of ten: take the exponent the shortest digits give.
  const e = Number(/e([+-]\d+)$/.exec(v.toExponential())?.[1] ?? exp);
  if (e < -4 || e >= 6) return goExponent(v.toExponential());
  return String(v);
}

/** JavaScript's exponent form (1e-7, 1.5e+21) as Go writes it (1e-07, 1.5e+21): at least two exponent digits. */
function goExponent(s: string): string {
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** `v` as Go's %v prints it; `top` is whether it is the value printed (undefined or null then prints "<no value>"). */
export function formatValue(v: unknown, top = true): string {
  // JSON's null is a nil interface to Go, which prints as a missing value at the top level.
  if (v === undefined || v === null) return top ? NO_VALUE : '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || v instanceof GoFloat) return formatFloat(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'function') return `${v.name || 'func'}`;
  if (v instanceof Uint8Array) return `[${[...v].join(' ')}]`;
  if (Array.isArray(v)) return `[${v.map((x) => formatValue(x, false)).join(' ')}]`;
  if (v instanceof Map)
    return `map[${[...v.keys()]
      .sort(compareKeys)
      .map((k) => `${formatValue(k, false)}:${formatValue(v.get(k), false)}`)
      .join(' ')}]`;
  if (typeof v === 'object') {
    const custom = (v as { toString?: () => string }).toString;
    if (custom && custom !== Object.prototype.toString) return custom.call(v);
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o)
      .sort(compareKeys)
      .map((k) => `${k}:${formatValue(o[k], false)}`)
      .join(' ')}]`;
  }
  return String(v);
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A Go-quoted string (%q): double quotes, Go's escapes for control characters. */
export function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** The bytes of `s` in UTF-8. */
function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/**
 * Go's fmt.Sprintf for the verbs templates use: %v %s %q %d %x %X %o %b %c %f %F %e %E %g %G %t
 * %T %%, with flags `-+# 0`, width and precision (`*` taken from the arguments). A verb that does
 * not fit its argument prints Go's `%!verb(type=value)`; missing and extra arguments print as
 * Go's do.
 */
export function sprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const ch = format.charAt(i);
    if (ch !== '%') {
      out += ch;
      continue;
    }
    i++;
    let flags = '';
    while ('-+# 0'.includes(format.charAt(i)) && i < format.length) flags += format.charAt(i++);
    let width: number | undefined;
    if (format.charAt(i) === '*') {
      width = Number(args[argi++]);
      i++;
    } else {
      const m = /^\d+/.exec(format.slice(i));
      if (m) {
        width = Number(m[0]);
        i += m[0].length;
      }
    }
    let prec: number | undefined;
    if (format.charAt(i) === '.') {
      i++;
      if (format.charAt(i) === '*') {
        prec = Number(args[argi++]);
        i++;
      } else {
        const m = /^\d*/.exec(format.slice(i)) as RegExpExecArray;
        prec = m[0] === '' ? 0 : Number(m[0]);
        i += m[0].length;
      }
    }
    const verb = format.charAt(i);
    if (verb === '') {
      out += '%!(NOVERB)';
      break;
    }
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += pad(formatOne(verb, args[argi++], flags, prec), width, flags);
  }
  if (argi < args.length)
    out += `%!(EXTRA ${args
      .slice(argi)
      .map((a) => `${goType(a)}=${formatValue(a, false)}`)
      .join(', ')})`;
  return out;
}

/** Go's type name of a value, as %T and bad-verb messages print it. */
export function goType(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (v instanceof GoFloat) return 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof Uint8Array) return '[]uint8';
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'function') return 'func';
  return 'map[string]interface {}';
}

function pad(s: string, width: number | undefined, flags: string): string {
  if (width === undefined || s.length >= width) return s;
  if (flags.includes('-')) return s + ' '.repeat(width - s.length);
  if (flags.includes('0') && /^[+-]?[0-9.]/.test(s)) {
    const sign = /^[+-]/.test(s) ? s.charAt(0) : '';
    return sign + '0'.repeat(width - s.length) + s.slice(sign.length);
  }
  return ' '.repeat(width - s.length) + s;
}

function signed(s: string, v: number, flags: string): string {
  if (v >= 0 && flags.includes('+')) return `+${s}`;
  if (v >= 0 && flags.includes(' ')) return ` ${s}`;
  return s;
}

function formatOne(verb: string, v: unknown, flags: string, prec: number | undefined): string {
  const bad = () => `%!${verb}(${goType(v)}=${formatValue(v, false)})`;
  switch (verb) {
    case 'v':
      return typeof v === 'number' || v instanceof GoFloat
        ? signed(formatFloat(v), v.valueOf(), flags)
        : formatValue(v, false);
    case 's': {
      if (typeof v === 'string') return prec === undefined ? v : [...v].slice(0, prec).join('');
      if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return bad();
      return formatValue(v, false);
    }
    case 'q':
      if (typeof v === 'string') return quote(v);
      if (typeof v === 'number' && Number.isInteger(v)) return `'${String.fromCodePoint(v)}'`;
      return bad();
    case 't':
      return typeof v === 'boolean' ? String(v) : bad();
    case 'T':
      return goType(v);
    case 'c':
      return typeof v === 'number' && Number.isInteger(v) ? String.fromCodePoint(v) : bad();
    case 'd':
    case 'o':
    case 'b':
    case 'x':
    case 'X': {
      if ((verb === 'x' || verb === 'X') && typeof v === 'string') {
        const hex = [...utf8(v)].map((b) => b.toString(16).padStart(2, '0')).join('');
        return verb === 'X' ? hex.toUpperCase() : hex;
      }
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        if ((verb === 'x' || verb === 'X') && typeof v === 'number') {
          return bad();
        }
        return bad();
      }
      const base = verb === 'd' ? 10 : verb === 'o' ? 8 : verb === 'b' ? 2 : 16;
      let digits = Math.abs(v).toString(base);
      if (verb === 'X') digits = digits.toUpperCase();
      if (prec !== undefined && digits.length < prec) digits = '0'.repeat(prec - digits.length) + digits;
      if (flags.includes('#')) digits = (verb === 'o' ? '0' : verb === 'x' ? '0x' : verb === 'X' ? '0X' : '') + digits;
      return signed(v < 0 ? `-${digits}` : digits, v, flags);
    }
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      const n = numberOf(v);
      if (n === undefined) return bad();
      let s: string;
      if (verb === 'f' || verb === 'F') s = n.toFixed(prec ?? 6);
      else if (verb === 'e' || verb === 'E') s = goExponent(n.toExponential(prec ?? 6));
      else s = prec === undefined ? shortestG(n) : goG(n, prec);
      if (verb === 'E' || verb === 'G') s = s.toUpperCase();
      return signed(s, n, flags);
    }
    default:
      return `%!${verb}(${goType(v)}=${formatValue(v, false)})`;
  }
}

/** %.<prec>g: `prec` significant digits, exponent form when the exponent is < -4 or >= prec. */
function goG(v: number, prec: number): string {
  const p = prec === 0 ? 1 : prec;
  if (v === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= p) return goExponent(v.toExponential(p - 1).replace(/\.?0+e/, 'e'));
  return String(Number(v.toPrecision(p)));
}
