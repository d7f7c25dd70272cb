import { BadRequestError } from '../errors.js';

/** A rule's disposition. `list` exists for keys only (read plus recursive listing). */
export type Access = 'deny' | 'read' | 'list' | 'write';

/** Resources whose rules name a segment, exactly (`key "a"`) or by prefix (`key_prefix "a"`). */
export const NAMED_RESOURCES = ['key', 'service', 'node', 'session', 'event', 'query', 'agent'] as const;
export type NamedResource = (typeof NAMED_RESOURCES)[number];

/** Resources with one rule for the whole resource (`operator = "read"`). */
export const SCALAR_RESOURCES = ['operator', 'acl', 'keyring', 'mesh', 'peering'] as const;
export type ScalarResource = (typeof SCALAR_RESOURCES)[number];

/** The rules of one policy, by resource: exact names and prefixes, each with its access. */
export interface PolicyRules {
  readonly exact: Readonly<Record<NamedResource, ReadonlyMap<string, Access>>>;
  readonly prefix: Readonly<Record<NamedResource, ReadonlyMap<string, Access>>>;
  readonly scalar: Readonly<Partial<Record<ScalarResource, Access>>>;
}

const ACCESS: readonly Access[] = ['deny', 'read', 'list', 'write'];
const RANK: Record<Access, number> = { deny: 0, read: 1, list: 2, write: 3 };

/** Combines two rules at the same specificity: deny wins, otherwise the broader access. */
export function mergeAccess(a: Access | undefined, b: Access): Access {
  if (a === undefined) return b;
  if (a === 'deny' || b === 'deny') return 'deny';
  return RANK[a] >= RANK[b] ? a : b;
}

/** Whether `have` grants at least `want` (list counts as read for resources other than keys). */
export function grants(have: Access, want: 'read' | 'list' | 'write'): boolean {
  return have !== 'deny' && RANK[have] >= RANK[want];
}

/** Most bytes of rules text accepted. */
export const MAX_RULES_BYTES = 128 * 1024;

function emptyRules(): {
  exact: Record<NamedResource, Map<string, Access>>;
  prefix: Record<NamedResource, Map<string, Access>>;
  scalar: Partial<Record<ScalarResource, Access>>;
} {
  const make = () =>
    Object.fromEntries(NAMED_RESOURCES.map((r) => [r, new Map<string, Access>()])) as Record<
      NamedResource,
      Map<string, Access>
    >;
  return { exact: make(), prefix: make(), scalar: {} };
}

// ---- a small HCL tokenizer (the subset Consul rules use) ---------------------------------------

type Tok = { kind: 'ident' | 'string' | 'punct' | 'number'; text: string; line: number };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  const fail = (what: string): never => {
    throw new BadRequestError(`Failed to parse ACL rules: ${what} at line ${line}`);
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === ',') {
      i++;
    } else if (c === '#' || (c === '/' && src[i + 1] === '/')) {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated comment');
      for (let j = i; j < end; j++) if (src[j] === '\n') line++;
      i = end + 2;
    } else if (c === '{' || c === '}' || c === '=') {
      out.push({ kind: 'punct', text: c, line });
      i++;
    } else if (c === '"') {
      let text = '';
      i++;
      for (;;) {
        if (i >= src.length || src[i] === '\n') fail('unterminated string');
        const d = src[i] as string;
        if (d === '"') break;
        if (d === '\\') {
          const e = src[i + 1];
          if (e === '"' || e === '\\' || e === '/') text += e;
          else if (e === 'n') text += '\n';
          else if (e === 't') text += '\t';
          else fail('unknown escape in string');
          i += 2;
        } else {
          text += d;
          i++;
        }
      }
      i++;
      out.push({ kind: 'string', text, line });
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_-]/.test(src[j] as string)) j++;
      out.push({ kind: 'ident', text: src.slice(i, j), line });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i;
      while (j < src.length && /[0-9.]/.test(src[j] as string)) j++;
      out.push({ kind: 'number', text: src.slice(i, j), line });
      i = j;
    } else {
      fail(`unexpected ${JSON.stringify(c)}`);
    }
  }
  return out;
}

/** One parsed statement: `name "label" { field = "v" … }` or `name = "v"`. */
type Stmt = { name: string; label?: string; fields?: Map<string, string>; value?: string; line: number };

function parseHcl(src: string): Stmt[] {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const fail = (what: string, t = peek()): never => {
    throw new BadRequestError(`Failed to parse ACL rules: ${what}${t ? ` at line ${t.line}` : ' at the end'}`);
  };
  const expect = (kind: Tok['kind'], text?: string): Tok => {
    const t = peek();
    if (!t || t.kind !== kind || (text !== undefined && t.text !== text))
      return fail(`expected ${text ? JSON.stringify(text) : kind}`);
    p++;
    return t;
  };
  const stmts: Stmt[] = [];
  while (p < toks.length) {
    const name = expect('ident');
    const next = peek();
    if (next?.kind === 'punct' && next.text === '=') {
      p++;
      const v = peek();
      if (!v || (v.kind !== 'string' && v.kind !== 'ident')) return fail(`expected a value for ${name.text}`);
      p++;
      stmts.push({ name: name.text, value: v.text, line: name.line });
      continue;
    }
    const label = expect('string');
    expect('punct', '{');
    const fields = new Map<string, string>();
    while (!(peek()?.kind === 'punct' && peek()?.text === '}')) {
      const f = expect('ident');
      expect('punct', '=');
      const v = peek();
      if (!v || v.kind === 'punct') return fail(`expected a value for ${f.text}`);
      p++;
      fields.set(f.text, v.text);
    }
    expect('punct', '}');
    stmts.push({ name: name.text, label: label.text, fields, line: name.line });
  }
  return stmts;
}

// ---- JSON form ----------------------------------------------------------------------------------

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJsonRules(src: string): Stmt[] {
  let doc: unknown;
  try {
    doc = JSON.parse(src);
  } catch {
    throw new BadRequestError('Failed to parse ACL rules: not valid JSON');
  }
  if (!isObj(doc)) throw new BadRequestError('Failed to parse ACL rules: expected a JSON object');
  const stmts: Stmt[] = [];
  // HCL's JSON form allows a list of objects wherever an object goes.
  const objects = (v: unknown): Array<Record<string, unknown>> =>
    Array.isArray(v) ? v.filter(isObj) : isObj(v) ? [v] : [];
  for (const [name, v] of Object.entries(doc)) {
    if (typeof v === 'string') {
      stmts.push({ name, value: v, line: 0 });
      continue;
    }
    const blocks = objects(v);
    if (blocks.length === 0)
      throw new BadRequestError(`Failed to parse ACL rules: ${JSON.stringify(name)} must be an object of rules`);
    for (const block of blocks) {
      for (const [label, body] of Object.entries(block)) {
        for (const fieldsObj of objects(body)) {
          const fields = new Map<string, string>();
          for (const [f, fv] of Object.entries(fieldsObj)) {
            if (typeof fv !== 'string' && typeof fv !== 'boolean' && typeof fv !== 'number')
              throw new BadRequestError(
                `Failed to parse ACL rules: ${name} ${JSON.stringify(label)}: ${f} must be a string`,
              );
            fields.set(f, String(fv));
          }
          stmts.push({ name, label, fields, line: 0 });
        }
      }
    }
  }
  return stmts;
}

// ---- semantics ------------------------------------------------------------------------------------

function access(value: string, where: string, allowList: boolean): Access {
  if (!(ACCESS as readonly string[]).includes(value) || (value === 'list' && !allowList)) {
    const allowed = allowList ? 'read, list, write, deny' : 'read, write, deny';
    throw new BadRequestError(
      `Invalid ACL rules: ${where}: invalid policy ${JSON.stringify(value)} (one of ${allowed})`,
    );
  }
  return value as Access;
}

/** Fields a rule block may carry besides `policy` (accepted, not enforced). */
const IGNORED_FIELDS = new Set(['intentions']);

/**
 * Parses a policy's `Rules` in Consul's syntax — the HCL subset (`key_prefix "app/" { policy =
 * "read" }`, `operator = "read"`, comments) or the equivalent JSON — into rules by resource.
 * Throws BadRequestError naming the line or rule at fault.
 */
export function parseRules(text: string): PolicyRules {
  if (new TextEncoder().encode(text).byteLength > MAX_RULES_BYTES)
    throw new BadRequestError(`Invalid ACL rules: larger than ${MAX_RULES_BYTES} bytes`);
  const stmts = text.trimStart().startsWith('{') ? parseJsonRules(text) : parseHcl(text);
  const rules = emptyRules();
  for (const s of stmts) {
    const at = s.line > 0 ? ` (line ${s.line})` : '';
    if ((SCALAR_RESOURCES as readonly string[]).includes(s.name)) {
      let v = s.value;
      if (v === undefined && s.fields) v = s.fields.get('policy');
      if (v === undefined) throw new BadRequestError(`Invalid ACL rules: ${s.name}${at} needs a policy`);
      const r = s.name as ScalarResource;
      rules.scalar[r] = mergeAccess(rules.scalar[r], access(v, `${s.name}${at}`, false));
      continue;
    }
    const isPrefix = s.name.endsWith('_prefix');
    const base = isPrefix ? s.name.slice(0, -'_prefix'.length) : s.name;
    if (!(NAMED_RESOURCES as readonly string[]).includes(base))
      throw new BadRequestError(`Invalid ACL rules: unknown resource ${JSON.stringify(s.name)}${at}`);
    if (s.label === undefined || !s.fields)
      throw new BadRequestError(
        `Invalid ACL rules: ${s.name}${at} needs a name and a block, e.g. ${s.name} "x" { policy = "read" }`,
      );
    for (const f of s.fields.keys())
      if (f !== 'policy' && !IGNORED_FIELDS.has(f))
        throw new BadRequestError(
          `Invalid ACL rules: ${s.name} ${JSON.stringify(s.label)}${at}: unknown field ${JSON.stringify(f)}`,
        );
    const v = s.fields.get('policy');
    if (v === undefined)
      throw new BadRequestError(`Invalid ACL rules: ${s.name} ${JSON.stringify(s.label)}${at} needs a policy`);
    const r = base as NamedResource;
    const table = isPrefix ? rules.prefix[r] : rules.exact[r];
    table.set(
      s.label,
      mergeAccess(table.get(s.label), access(v, `${s.name} ${JSON.stringify(s.label)}${at}`, r === 'key')),
    );
  }
  return rules;
}
