import { readFileOrFail } from '../client/files.js';
import { CliError } from '../client/errors.js';
import { parseDuration } from '../../core/util/duration.js';
import type { Wait } from '../../core/template/runner.js';

/** One template of a config file (consul-template's `template` block). */
export interface TemplateConfigEntry {
  readonly source: string;
  readonly destination: string;
  readonly command: string | undefined;
  readonly commandTimeoutMs: number | undefined;
  readonly backup: boolean;
  readonly left: string | undefined;
  readonly right: string | undefined;
}

/** What a template config file holds. */
export interface TemplateConfig {
  readonly templates: TemplateConfigEntry[];
  readonly wait: Wait | undefined;
  readonly exec:
    | {
        readonly command: string;
        readonly reloadSignal: string | undefined;
        readonly killSignal: string | undefined;
        readonly killTimeoutMs: number | undefined;
      }
    | undefined;
}

type Json = Record<string, unknown>;

/** A block that HCL gives as a list of objects and JSON as an object or a list. */
const blocks = (v: unknown): Json[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).filter((x): x is Json => x !== null && typeof x === 'object');

/**
 * Reads a consul-template config file, JSON or HCL (by its `.hcl` extension): `template` blocks
 * (source, destination, command, command_timeout, backup, left_delimiter, right_delimiter), a
 * `wait` block (min, max) and an `exec` block (command, reload_signal, kill_signal, kill_timeout).
 * Unknown keys are refused, naming them. CliError (exit 2) says what is wrong and where.
 */
export async function readTemplateConfig(path: string): Promise<TemplateConfig> {
  const text = readFileOrFail(path, 'config', 2).toString('utf8');
  let doc: unknown;
  try {
    if (path.endsWith('.hcl')) {
      const { parse } = await import('@cdktf/hcl2json');
      doc = await parse(path, text);
    } else doc = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${path} is not valid ${path.endsWith('.hcl') ? 'HCL' : 'JSON'}: ${(err as Error).message}`, 2);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new CliError(`${path}: expected an object`, 2);
  const d = doc as Json;
  const fail = (msg: string): never => {
    throw new CliError(`${path}: ${msg}`, 2);
  };
  const only = (o: Json, where: string, keys: readonly string[]) => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`unknown key ${JSON.stringify(k)} in ${where}`);
  };
  const str = (o: Json, k: string, where: string): string | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') fail(`${where}.${k} must be a string`);
    return v as string;
  };
  const duration = (o: Json, k: string, where: string): number | undefined => {
    const v = str(o, k, where);
    if (v === undefined) return undefined;
    const ms = parseDuration(v);
    if (ms === undefined) fail(`${where}.${k}: ${JSON.stringify(v)} is not a duration`);
    return ms;
  };
  only(d, 'the file', ['template', 'wait', 'exec']);
  const waitBlock = blocks(d['wait'])[0];
  let wait: Wait | undefined;
  if (waitBlock) {
    only(waitBlock, 'wait', ['min', 'max']);
    const min = duration(waitBlock, 'min', 'wait') ?? 0;
    const max = duration(waitBlock, 'max', 'wait') ?? min * 4;
    if (max < min) fail('wait.max is less than wait.min');
    wait = { min, max };
  }
  const templates = blocks(d['template']).map((t, i): TemplateConfigEntry => {
    const where = `template ${i + 1}`;
    only(t, where, [
      'source',
      'destination',
      'command',
      'command_timeout',
      'backup',
      'left_delimiter',
      'right_delimiter',
    ]);
    const source = str(t, 'source', where);
    const destination = str(t, 'destination', where);
    if (!source) fail(`${where} has no source`);
    if (!destination) fail(`${where} has no destination`);
    if (t['backup'] !== undefined && typeof t['backup'] !== 'boolean') fail(`${where}.backup must be true or false`);
    return {
      source: source as string,
      destination: destination as string,
      command: str(t, 'command', where),
      commandTimeoutMs: duration(t, 'command_timeout', where),
      backup: t['backup'] === true,
      left: str(t, 'left_delimiter', where),
      right: str(t, 'right_delimiter', where),
    };
  });
  const execBlock = blocks(d['exec'])[0];
  let exec: TemplateConfig['exec'];
  if (execBlock) {
    only(execBlock, 'exec', ['command', 'reload_signal', 'kill_signal', 'kill_timeout']);
    const command = str(execBlock, 'command', 'exec');
    if (!command) fail('exec has no command');
    exec = {
      command: command as string,
      reloadSignal: str(execBlock, 'reload_signal', 'exec'),
      killSignal: str(execBlock, 'kill_signal', 'exec'),
      killTimeoutMs: duration(execBlock, 'kill_timeout', 'exec'),
    };
  }
  return { templates, wait, exec };
}
