import type { Command } from 'commander';
import { KonsulError } from '../../core/errors.js';
import { configEntries, type OptionSpec, resolveOptions } from '../options.js';
import { CliError } from '../client/errors.js';
import { readFileOrFail } from '../client/files.js';
import type { LocalCommand } from './common.js';

/**
 * Every problem of a server or edge agent config file: unknown keys, bad values (each named with
 * its key), then what the whole configuration gets wrong (options that go together, files that
 * cannot be read). [] when it is valid.
 */
export async function configProblems(kind: 'server' | 'edge', path: string, text: string): Promise<string[]> {
  // Loaded here only: the server's options pull in its HTTP defaults.
  const { SERVER_OPTIONS, toServerConfig } = await import('../server-options.js');
  const { EDGE_OPTIONS, toEdgeConfig } = await import('../edge-options.js');
  const specs: readonly OptionSpec[] = kind === 'server' ? SERVER_OPTIONS : EDGE_OPTIONS;
  const { problems } = configEntries(specs, { path, text });
  if (problems.length > 0) return problems;
  try {
    const values = resolveOptions(specs, new Map(), {}, { path, text });
    if (kind === 'server') toServerConfig(values);
    else toEdgeConfig(values);
    return [];
  } catch (err) {
    return [err instanceof KonsulError ? err.message : String(err)];
  }
}

/** Registers `validate`. */
export function registerValidateCommand(program: Command, local: LocalCommand): void {
  local(
    program
      .command('validate')
      .description('check server or edge agent config files and name every bad key')
      .argument('<files...>', 'JSON config files (keys are flag names in snake_case)')
      .option('--type <type>', 'server or edge (default: edge when the file sets upstream, else server)'),
    async (io, files: string[], o: { type?: string }) => {
      if (o.type !== undefined && o.type !== 'server' && o.type !== 'edge')
        throw new CliError('-type must be server or edge', 2);
      let bad = 0;
      for (const path of files) {
        const text = readFileOrFail(path, undefined).toString('utf8');
        let kind = o.type as 'server' | 'edge' | undefined;
        if (kind === undefined) {
          try {
            kind = 'upstream' in (JSON.parse(text) as object) ? 'edge' : 'server';
          } catch {
            kind = 'server';
          }
        }
        const problems = await configProblems(kind, path, text);
        for (const p of problems) io.err(`${p}\n`);
        if (problems.length > 0) bad++;
      }
      if (bad > 0) return 1;
      io.out('Configuration is valid!\n');
      return 0;
    },
  );
}
