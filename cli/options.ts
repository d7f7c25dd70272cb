import { ConfigError } from '../core/errors.js';
import { parseHostPort } from '../core/util/host-port.js';

/** How an option's text is parsed and validated. */
export type OptionKind =
  | { readonly type: 'boolean' }
  | { readonly type: 'string'; readonly pattern?: RegExp; readonly patternHint?: string }
  | { readonly type: 'addr' }
  | { readonly type: 'int'; readonly min: number; readonly max: number }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  /** Repeatable: each flag adds one value; the environment variable is comma-separated; the file key an array. */
  | { readonly type: 'list'; readonly item: 'addr' | 'string' };

/**
 * One command-line option. Its environment variable is KONSUL_<NAME_IN_UPPER_SNAKE> and its
 * config-file key is <name_in_snake>. Precedence: default < config file < environment < flag.
 */
export interface OptionSpec {
  /** Kebab-case flag name without dashes, e.g. "http-addr". */
  readonly name: string;
  readonly kind: OptionKind;
  readonly describe: string;
  readonly default?: string | number | boolean | string[];
  /** Left out of --help (test-only switches). */
  readonly hidden?: boolean;
}

/** Resolved option values by flag name (absent when no default and not given). */
export type OptionValues = Record<string, string | number | boolean | string[] | undefined>;

/** The environment variable that overrides an option. */
export function envName(spec: OptionSpec): string {
  return `KONSUL_${spec.name.replace(/-/g, '_').toUpperCase()}`;
}

/** The config-file key of an option. */
export function fileKey(spec: OptionSpec): string {
  return spec.name.replace(/-/g, '_');
}

function parseValue(spec: OptionSpec, raw: unknown, source: string): string | number | boolean | string[] {
  const kind = spec.kind;
  const bad = (why: string): never => {
    throw new ConfigError(`invalid value for ${source}: ${JSON.stringify(raw)} ${why}`);
  };
  switch (kind.type) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return bad('is not a boolean (true or false)');
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?[0-9]+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) return bad('is not an integer');
      if (n < kind.min || n > kind.max) return bad(`is out of range ${kind.min}..${kind.max}`);
      return n;
    }
    case 'string':
      if (typeof raw !== 'string' || raw.length === 0) return bad('is not a non-empty string');
      if (kind.pattern && !kind.pattern.test(raw)) return bad(kind.patternHint ?? `does not match ${kind.pattern}`);
      return raw;
    case 'addr':
      if (typeof raw !== 'string') return bad('is not HOST:PORT');
      parseHostPort(raw, source);
      return raw;
    case 'enum':
      if (typeof raw !== 'string' || !kind.values.includes(raw)) return bad(`is not one of ${kind.values.join(', ')}`);
      return raw;
    case 'list': {
      const items = Array.isArray(raw)
        ? raw
        : typeof raw === 'string'
          ? raw.split(',').filter((x) => x.length > 0)
          : undefined;
      if (!items || !items.every((x) => typeof x === 'string' && x.length > 0)) return bad('is not a list of strings');
      if (kind.item === 'addr') for (const x of items as string[]) parseHostPort(x, source);
      return items as string[];
    }
  }
}

/** Splits argv into option texts by flag name. Throws ConfigError on unknown or valueless flags. */
export function parseFlags(
  specs: readonly OptionSpec[],
  argv: readonly string[],
  command: string,
): Map<string, string | boolean | string[]> {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const out = new Map<string, string | boolean | string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const m = /^--?([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new ConfigError(`${command}: unexpected argument ${JSON.stringify(arg)}`);
    const name = m[1] as string;
    const spec = byName.get(name);
    if (!spec) throw new ConfigError(`${command}: unknown flag --${name} (see 'konsul ${command} --help')`);
    const list = spec.kind.type === 'list';
    if (out.has(name) && !list) throw new ConfigError(`${command}: flag --${name} given more than once`);
    let value: string | boolean;
    if (m[2] !== undefined) value = m[2];
    else if (spec.kind.type === 'boolean') value = true;
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--'))
        throw new ConfigError(`${command}: flag --${name} needs a value`);
      value = next;
      i++;
    }
    if (list) out.set(name, [...((out.get(name) as string[] | undefined) ?? []), String(value)]);
    else out.set(name, value);
  }
  return out;
}

/**
 * Resolves every option from defaults, an optional JSON config file (an object of snake_case
 * keys), KONSUL_* environment variables and flags, in increasing precedence. `configText` is the
 * file's content when a config file was named. Throws ConfigError naming the bad flag, variable
 * or key.
 */
export function resolveOptions(
  specs: readonly OptionSpec[],
  flags: ReadonlyMap<string, string | boolean | string[]>,
  env: Readonly<Record<string, string | undefined>>,
  config?: { readonly path: string; readonly text: string },
): OptionValues {
  const values: OptionValues = {};
  for (const s of specs) values[s.name] = s.default;
  if (config) {
    const { entries, problems } = configEntries(specs, config);
    if (problems.length > 0) throw new ConfigError(problems[0] as string);
    for (const [spec, value] of entries) values[spec.name] = value;
  }
  for (const s of specs) {
    const raw = env[envName(s)];
    if (raw !== undefined && raw !== '') values[s.name] = parseValue(s, raw, envName(s));
  }
  for (const s of specs) {
    const raw = flags.get(s.name);
    if (raw !== undefined) values[s.name] = parseValue(s, raw, `--${s.name}`);
  }
  return values;
}

/**
 * The options a config file sets, checked: every unknown key and every bad value is a problem
 * (each message names the key and the file). A nested object stands for its keys with the
 * object's name in front, as Consul's `acl { enabled = true }` is `{"acl": {"enabled": true}}`,
 * the same as `acl_enabled`.
 */
export function configEntries(
  specs: readonly OptionSpec[],
  config: { readonly path: string; readonly text: string },
): { entries: Array<[OptionSpec, string | number | boolean | string[]]>; problems: string[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(config.text);
  } catch (err) {
    return { entries: [], problems: [`config file ${config.path} is not valid JSON: ${(err as Error).message}`] };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { entries: [], problems: [`config file ${config.path} must hold a JSON object`] };
  const byKey = new Map(specs.map((s) => [fileKey(s), s]));
  const raw: Array<[string, unknown]> = [];
  for (const [key, v] of Object.entries(parsed)) {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && !byKey.has(key)) {
      for (const [sub, x] of Object.entries(v)) raw.push([`${key}_${sub}`, x]);
    } else raw.push([key, v]);
  }
  const entries: Array<[OptionSpec, string | number | boolean | string[]]> = [];
  const problems: string[] = [];
  for (const [key, v] of raw) {
    const spec = byKey.get(key);
    if (!spec || spec.name === 'config') {
      problems.push(`config file ${config.path}: unknown key ${JSON.stringify(key)}`);
      continue;
    }
    try {
      entries.push([spec, parseValue(spec, v, `${key} in ${config.path}`)]);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return { entries, problems };
}

/** Help text listing the options of a command. */
export function optionsHelp(specs: readonly OptionSpec[]): string {
  return specs
    .filter((s) => !s.hidden)
    .map((s) => {
      const def = s.default !== undefined ? ` (default ${JSON.stringify(s.default)})` : '';
      return (
        `  --${s.name.padEnd(22)} ${s.describe}${def}\n` +
        `  ${' '.repeat(24)} env ${envName(s)}, config key ${fileKey(s)}`
      );
    })
    .join('\n');
}

/**
 * Reads the JSON config file named by `--config` (or its KONSUL_ variable), if any, for
 * resolveOptions. Throws ConfigError naming the file when it cannot be read.
 */
export async function readConfigFile(
  specs: readonly OptionSpec[],
  flags: ReadonlyMap<string, string | boolean | string[]>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ path: string; text: string } | undefined> {
  const spec = specs.find((s) => s.name === 'config');
  if (!spec) return undefined;
  const path = (flags.get('config') as string | undefined) ?? env[envName(spec)];
  if (path === undefined || path === '') return undefined;
  try {
    // Loaded only when a file is given: on Deno, node:fs brings in the Node compatibility layer.
    const { readFile } = await import('node:fs/promises');
    return { path, text: await readFile(path, 'utf8') };
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}
