import { Command, CommanderError } from 'commander';
import { KonsulClient } from '../client/api.js';
import { resolveClientConfig } from '../client/config.js';
import { CliError } from '../client/errors.js';
import type { Io } from '../client/output.js';
import { VERSION } from '../version.js';
import { registerAclCommands } from './acl.js';
import { registerAgentCommands } from './agent.js';
import { registerCatalogCommands } from './catalog.js';
import { registerChaosCommands } from './chaos.js';
import { registerCompletionCommand } from './completion.js';
import { registerDebugCommand } from './debug.js';
import { addClientFlags, type ClientCommand, clientFlags, type LocalCommand } from './common.js';
import { registerEdgeCommands } from './edge.js';
import { registerEnvCommand } from './env.js';
import { registerReplicateCommand } from './replicate.js';
import { registerKvCommands } from './kv.js';
import { registerLockCommand } from './lock.js';
import { registerMemberCommands } from './members.js';
import { registerOperatorCommands } from './operator.js';
import { registerSecretsCommands } from './secrets.js';
import { registerServiceCommands } from './services.js';
import { registerSnapshotCommands } from './snapshot.js';
import { registerTemplateCommand } from './template.js';
import { registerTlsCommands } from './tls.js';
import { registerValidateCommand } from './validate.js';
import { registerWatchCommand } from './watch.js';

/** Flags of every client command that take a value (the next word, unless written -flag=value). */
const CLIENT_VALUE_FLAGS = [
  'http-addr',
  'token',
  'token-file',
  'ca-file',
  'client-cert',
  'client-key',
  'tls-server-name',
  'datacenter',
];

/**
 * Commands that end with a command line of their own (lock PREFIX CMD…, watch … HANDLER…): how
 * many of their own arguments come before it, and which of their flags take a value. That command
 * line is passed on as written.
 */
const TRAILING_COMMAND: Record<string, { readonly before: number; readonly valueFlags: readonly string[] }> = {
  lock: { before: 1, valueFlags: ['n', 'name', 'timeout'] },
  watch: { before: 0, valueFlags: ['type', 'key', 'prefix', 'service', 'state', 'name', 'state-file'] },
  env: { before: 0, valueFlags: ['prefix', 'reload-signal', 'kill-signal'] },
};

/**
 * Consul's single-dash long flags (`-recurse`, `-format=json`, `-modify-index 5`) as the parser's
 * double-dash ones; `-h`, short flags (`-n 3`), `-` (stdin), everything after `--`, and the
 * command line that `lock` and `watch` run are kept as written.
 */
export function normalizeFlags(argv: readonly string[]): string[] {
  const trailing = TRAILING_COMMAND[argv[0] ?? ''];
  const out: string[] = [];
  let rest = false;
  let positionals = 0;
  let takesValue = false;
  for (const [i, a] of argv.entries()) {
    if (rest || a === '--') {
      rest = true;
      out.push(a);
      continue;
    }
    if (takesValue) {
      takesValue = false;
      out.push(a);
      continue;
    }
    const long = /^-{1,2}([A-Za-z][A-Za-z0-9-]*)(=.*)?$/s.exec(a);
    if (long && (a.startsWith('--') || (long[1] as string).length > 1 || long[2] !== undefined)) {
      out.push(a.startsWith('--') ? a : `-${a}`);
      const name = long[1] as string;
      if (trailing && long[2] === undefined && [...CLIENT_VALUE_FLAGS, ...trailing.valueFlags].includes(name))
        takesValue = true;
      continue;
    }
    if (trailing && a === '-n' && trailing.valueFlags.includes('n')) {
      out.push(a);
      takesValue = true;
      continue;
    }
    out.push(a);
    if (trailing && i > 0 && !a.startsWith('-')) {
      positionals++;
      // The command line starts: pass it on untouched (with -- so the parser takes it as arguments).
      if (positionals > trailing.before) {
        out.splice(out.length - 1, 0, '--');
        rest = true;
      }
    }
  }
  return out;
}

/** Builds the command tree; `exit` receives each action's exit code. */
export function buildProgram(
  io: Io,
  env: Readonly<Record<string, string | undefined>>,
  exit: (code: number) => void,
  /** Rewrites the parser's messages (flags as the user spelled them); identity by default. */
  spell: (text: string) => string = (t) => t,
): Command {
  const program = new Command('konsul')
    .version(VERSION, '--version', 'print the version')
    .description('Konsul: service discovery and configuration, Consul-compatible')
    .exitOverride()
    .configureOutput({ writeOut: (t) => io.out(t), writeErr: (t) => io.err(spell(t)) })
    .showHelpAfterError('(run with -h for the flags)');
  const client: ClientCommand = (cmd, action) =>
    addClientFlags(cmd)
      .exitOverride()
      .configureOutput({ writeOut: (t) => io.out(t), writeErr: (t) => io.err(spell(t)) })
      .action(async (...args: unknown[]) => {
        const self = args[args.length - 1] as Command;
        const c = new KonsulClient(resolveClientConfig(clientFlags(self.opts()), env));
        exit(await action(c, io, ...args.slice(0, -1)));
      });
  const local: LocalCommand = (cmd, action) =>
    cmd
      .exitOverride()
      .configureOutput({ writeOut: (t) => io.out(t), writeErr: (t) => io.err(spell(t)) })
      .action(async (...args: unknown[]) => exit(await action(io, ...args.slice(0, -1))));
  registerKvCommands(program, client);
  registerSnapshotCommands(program, client, local);
  registerServiceCommands(program, client);
  registerAclCommands(program, client);
  registerWatchCommand(program, client);
  registerLockCommand(program, client);
  registerTemplateCommand(program, client);
  registerEnvCommand(program, client);
  registerReplicateCommand(program, client);
  registerTlsCommands(program, local);
  registerValidateCommand(program, local);
  registerCompletionCommand(program, local);
  registerDebugCommand(program, client);
  registerCatalogCommands(program, client);
  registerMemberCommands(program, client);
  registerEdgeCommands(program, client);
  registerAgentCommands(program, client);
  registerOperatorCommands(program, client);
  registerChaosCommands(program, client);
  registerSecretsCommands(program, client, local);
  return program;
}

/**
 * Runs a client command: 0 on success, 1 when it failed (the message names the cause), 2 when it
 * was used wrongly (unknown command or flag, missing argument).
 */
export async function runClientCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  let code = 0;
  // Commander names a flag as it parsed it (--bogus): say it as the user wrote it (-bogus).
  const written = new Set(argv.filter((a) => /^-[A-Za-z]/.test(a)).map((a) => a.split('=')[0] as string));
  const spell = (text: string) =>
    text.replace(/'--([A-Za-z][\w-]*)'/g, (m, name: string) => (written.has(`-${name}`) ? `'-${name}'` : m));
  const program = buildProgram(io, env, (c) => (code = c), spell);
  try {
    await program.parseAsync(normalizeFlags(argv), { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end with exit code 0; usage mistakes with 2 (commander printed the message).
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    if (err instanceof CliError) {
      io.err(`${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
