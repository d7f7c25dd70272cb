import { execFileSync } from 'node:child_process';
import type { Command } from 'commander';
import { TemplateRunner, type Wait } from '../../core/template/runner.js';
import { parseDuration } from '../../core/util/duration.js';
import { systemClock } from '../../runtimes/node/clock.js';
import { CliError } from '../client/errors.js';
import { readFileOrFail } from '../client/files.js';
import { readTemplateConfig } from '../template/config.js';
import { runCommand, writeRendered } from '../template/output.js';
import { Supervisor } from '../template/supervisor.js';
import { blockingWatcher } from '../template/watcher.js';
import { type ClientCommand, collect } from './common.js';
import { signalFlag } from './env.js';

/** One `-template "in:out[:command]"`. */
export interface TemplateSpec {
  readonly source: string;
  readonly destination: string;
  readonly command: string | undefined;
}

/** Parses `in.tpl:out.conf[:command]` (the command may itself hold colons). */
export function parseTemplateSpec(text: string): TemplateSpec {
  const first = text.indexOf(':');
  if (first <= 0) throw new CliError(`-template ${JSON.stringify(text)}: want "source:destination[:command]"`, 2);
  const second = text.indexOf(':', first + 1);
  const destination = second < 0 ? text.slice(first + 1) : text.slice(first + 1, second);
  if (destination === '') throw new CliError(`-template ${JSON.stringify(text)}: the destination is empty`, 2);
  const command = second < 0 ? undefined : text.slice(second + 1);
  return { source: text.slice(0, first), destination, command: command === '' ? undefined : command };
}

/** Longest a plugin may run (ms). */
const PLUGIN_TIMEOUT_MS = 30_000;

/**
 * Runs a template's `plugin "NAME" args…` (with -plugins): NAME found on PATH, one argument per
 * value, its standard output trimmed as consul-template does; a non-zero exit is an error
 * carrying its standard error.
 */
function runPlugin(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      timeout: PLUGIN_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 16 * 1024 * 1024,
    }).trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`plugin ${command} failed: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
  }
}

/** A template to render, from a flag or a config file. */
type Job = TemplateSpec & {
  readonly backup: boolean;
  readonly commandTimeoutMs: number;
  readonly left: string | undefined;
  readonly right: string | undefined;
};

/** `-wait min:max` (or `min`, when max is 4 × min, as consul-template does). */
export function parseWait(text: string): Wait {
  const [a, b] = text.split(':', 2) as [string, string | undefined];
  const min = parseDuration(a);
  const max = b === undefined ? (min === undefined ? undefined : min * 4) : parseDuration(b);
  if (min === undefined || max === undefined || max < min)
    throw new CliError(`-wait ${JSON.stringify(text)}: want "min:max" durations with min <= max, like 2s:10s`, 2);
  return { min, max };
}

/**
 * Registers `konsul template`: renders consul-template templates from the API (a server's or an
 * edge agent's), push-driven, writing each destination atomically when its content changes and
 * running its command then.
 */
export function registerTemplateCommand(program: Command, client: ClientCommand): void {
  client(
    program
      .command('template')
      .description('render templates from KV and the catalog into files, again whenever what they read changes')
      .option(
        '--template <in:out[:command]>',
        'a template, its destination and a command to run after a change',
        collect,
      )
      .option('--config <file>', 'a consul-template config file, JSON or HCL (repeatable)', collect)
      .option('--plugins', 'let templates run programs with plugin (off by default)')
      .option('--once', 'render each template once and exit')
      .option('--dry', 'print the renders to stdout instead of writing files')
      .option('--wait <min:max>', 'wait for this much quiet after a change before rendering (max: at the latest)')
      .option('--backup', 'keep the previous file as <destination>.bak')
      .option('--command-timeout <duration>', 'kill a command that runs longer', '30s')
      .option('--exec <command>', 'supervise this command: start it after the first full render, reload it on changes')
      .option('--exec-reload-signal <signal>', 'send this to the -exec command on a change (default: restart it)')
      .option('--exec-kill-signal <signal>', 'the signal that stops the -exec command', 'SIGTERM')
      .option('--exec-kill-timeout <duration>', 'SIGKILL the -exec command this long after the kill signal', '30s'),
    async (
      c,
      io,
      o: {
        template?: string[];
        config?: string[];
        plugins?: boolean;
        once?: boolean;
        dry?: boolean;
        wait?: string;
        backup?: boolean;
        commandTimeout: string;
        exec?: string;
        execReloadSignal?: string;
        execKillSignal: string;
        execKillTimeout: string;
      },
    ) => {
      const commandTimeout = parseDuration(o.commandTimeout);
      if (commandTimeout === undefined) throw new CliError(`-command-timeout ${o.commandTimeout}: not a duration`, 2);
      const configs = await Promise.all((o.config ?? []).map(readTemplateConfig));
      const specs: Job[] = [
        ...(o.template ?? []).map((t) => ({
          ...parseTemplateSpec(t),
          backup: o.backup === true,
          commandTimeoutMs: commandTimeout,
          left: undefined,
          right: undefined,
        })),
        ...configs.flatMap((c) =>
          c.templates.map((t) => ({ ...t, commandTimeoutMs: t.commandTimeoutMs ?? commandTimeout })),
        ),
      ];
      if (specs.length === 0)
        throw new CliError('at least one -template "source:destination[:command]" (or -config) is needed', 2);
      const wait = o.wait === undefined ? configs.find((c) => c.wait)?.wait : parseWait(o.wait);
      const fromConfig = configs.find((c) => c.exec)?.exec;
      if (o.exec === undefined && fromConfig) {
        o.exec = fromConfig.command;
        o.execReloadSignal ??= fromConfig.reloadSignal;
        if (fromConfig.killSignal) o.execKillSignal = fromConfig.killSignal;
        if (fromConfig.killTimeoutMs !== undefined) o.execKillTimeout = `${fromConfig.killTimeoutMs}ms`;
      }
      const sources = specs.map((s) => readFileOrFail(s.source, 'template').toString('utf8'));
      if (o.exec !== undefined && o.once) throw new CliError('-exec and -once do not go together', 2);
      const killTimeout = parseDuration(o.execKillTimeout);
      if (killTimeout === undefined) throw new CliError(`-exec-kill-timeout ${o.execKillTimeout}: not a duration`, 2);
      const reloadSignal = signalFlag(o.execReloadSignal, 'exec-reload-signal');
      const supervisor =
        o.exec === undefined
          ? undefined
          : new Supervisor({
              command: ['sh', '-c', o.exec],
              ...(reloadSignal ? { reloadSignal } : {}),
              killSignal: signalFlag(o.execKillSignal, 'exec-kill-signal') ?? 'SIGTERM',
              killTimeoutMs: killTimeout,
              log: (l) => io.err(`template: exec: ${l}\n`),
            });
      let failures = 0;
      const done = new Set<number>();
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      // Commands of one template run one after another.
      const chains = specs.map(() => Promise.resolve());
      let runner: TemplateRunner;
      try {
        runner = new TemplateRunner(
          specs.map((s, i) => ({
            name: s.source,
            source: sources[i] as string,
            ...(s.left ? { left: s.left } : {}),
            ...(s.right ? { right: s.right } : {}),
          })),
          {
            watcher: blockingWatcher(c, { onError: (d, m) => io.err(`template: watching ${d.id}: ${m}\n`) }),
            clock: systemClock(),
            env: {
              env: (n) => process.env[n],
              now: () => Date.now(),
              ...(o.plugins ? { plugin: runPlugin } : {}),
            },
            ...(wait ? { wait } : {}),
            events: {
              rendered: (i, content) => {
                const s = specs[i] as Job;
                if (o.dry) io.out(`> ${s.destination}\n${content}`);
                else {
                  const outcome = writeRendered(s.destination, content, { backup: s.backup });
                  if (outcome === 'written' && s.command !== undefined) {
                    const cmd = s.command;
                    chains[i] = (chains[i] as Promise<void>).then(async () => {
                      const r = await runCommand(cmd, s.commandTimeoutMs);
                      if (r.code !== 0)
                        io.err(
                          `template: ${s.destination}: command ${JSON.stringify(cmd)} ` +
                            `${r.timedOut ? 'timed out' : `exited with ${r.code ?? r.signal}`}\n${r.output}`,
                        );
                    });
                  }
                }
                const first = done.size < specs.length;
                done.add(i);
                if (o.once && done.size === specs.length) finish();
                // The supervised command starts once every template has rendered, and hears of later changes.
                if (supervisor) {
                  if (done.size === specs.length && supervisor.starts === 0) supervisor.start();
                  else if (!first || done.size < specs.length) void supervisor.changed();
                }
              },
              failed: (i, err) => {
                failures++;
                io.err(`${err.message}\n`);
                done.add(i);
                if (o.once && done.size === specs.length) finish();
              },
            },
          },
        );
      } catch (err) {
        throw new CliError((err as Error).message, 1);
      }
      const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const).map(
        (sig) => [sig, () => (sig === 'SIGINT' || sig === 'SIGTERM' ? finish() : supervisor?.forward(sig))] as const,
      );
      for (const [sig, h] of handlers) process.on(sig, h);
      runner.start();
      await finished;
      runner.stop();
      for (const [sig, h] of handlers) process.off(sig, h);
      await Promise.all(chains);
      // With -exec, the exit code is the supervised command's.
      if (supervisor) return supervisor.stop();
      return failures > 0 ? 1 : 0;
    },
  );
}
