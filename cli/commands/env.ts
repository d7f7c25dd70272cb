import type { Command } from 'commander';
import type { Dependency } from '../../core/template/functions.js';
import { CliError } from '../client/errors.js';
import { Supervisor } from '../template/supervisor.js';
import { blockingWatcher } from '../template/watcher.js';
import { type ClientCommand, collect } from './common.js';

interface KvRow {
  Key: string;
  Value: string | null;
}

/** The environment variables of `prefixes`' keys (later prefixes win), named as envconsul names them. */
export function envFromKv(
  prefixes: readonly string[],
  rows: ReadonlyMap<string, readonly KvRow[] | null>,
  o: { sanitize: boolean; upcase: boolean },
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of prefixes) {
    for (const row of rows.get(p) ?? []) {
      if (!row.Key.startsWith(p) || row.Key.endsWith('/')) continue;
      let name = row.Key.slice(p.length);
      if (o.sanitize) name = name.replace(/[^A-Za-z0-9_]/g, '_');
      if (o.upcase) name = name.toUpperCase();
      if (name === '') continue;
      out[name] = row.Value ? Buffer.from(row.Value, 'base64').toString('utf8') : '';
    }
  }
  return out;
}

const SIGNALS = new Set(['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2']);

/** A signal flag's value (`HUP`, `SIGHUP`), or undefined when not given; a CliError (2) for another. */
export function signalFlag(text: string | undefined, name: string): NodeJS.Signals | undefined {
  if (text === undefined) return undefined;
  const s = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
  if (!SIGNALS.has(s)) throw new CliError(`-${name} ${text}: want one of ${[...SIGNALS].join(', ')}`, 2);
  return s as NodeJS.Signals;
}

/**
 * Registers `konsul env` (envconsul's job): runs a command with the keys under KV prefixes as
 * environment variables, and restarts it (or sends it the reload signal) when they change.
 */
export function registerEnvCommand(program: Command, client: ClientCommand): void {
  client(
    program
      .command('env')
      .description(
        'run a command with the keys under KV prefixes as environment variables; restart it when they change',
      )
      .argument('<command...>', 'the command to run')
      .option('--prefix <prefix>', 'a KV prefix whose keys become variables (repeatable; later ones win)', collect)
      .option('--sanitize', 'replace characters not allowed in variable names with _')
      .option('--upcase', 'upper-case the variable names')
      .option('--pristine', 'give the command only these variables, not this process environment')
      .option('--reload-signal <signal>', 'send this signal on a change instead of restarting the command')
      .option('--kill-signal <signal>', 'the signal that stops the command', 'SIGTERM')
      .option('--once', 'do not follow changes: run the command with the values at start'),
    async (
      c,
      io,
      command: string[],
      o: {
        prefix?: string[];
        sanitize?: boolean;
        upcase?: boolean;
        pristine?: boolean;
        reloadSignal?: string;
        killSignal: string;
        once?: boolean;
      },
    ) => {
      const prefixes = (o.prefix ?? []).map((p) => p.replace(/^\/+/, ''));
      if (prefixes.length === 0) throw new CliError('at least one -prefix is needed', 2);
      const reloadSignal = signalFlag(o.reloadSignal, 'reload-signal');
      const killSignal = signalFlag(o.killSignal, 'kill-signal') ?? 'SIGTERM';
      const rows = new Map<string, readonly KvRow[] | null>();
      const stops: Array<() => void> = [];
      let vars: Record<string, string> = {};
      const supervisor = new Supervisor({
        command,
        env: () => ({ ...(o.pristine ? {} : process.env), ...vars }),
        ...(reloadSignal ? { reloadSignal } : {}),
        killSignal,
        // As envconsul: when the command ends by itself, so does this, with its code.
        onDied: (code) => {
          for (const s of stops.splice(0)) s();
          done(code);
        },
        log: (l) => io.err(`env: ${l}\n`),
      });
      let done!: (code: number) => void;
      const finished = new Promise<number>((resolve) => (done = resolve));
      const watcher = blockingWatcher(c, { onError: (d, m) => io.err(`env: watching ${d.id}: ${m}\n`) });
      const update = (): void => {
        if (rows.size < prefixes.length) return;
        const next = envFromKv(prefixes, rows, { sanitize: o.sanitize === true, upcase: o.upcase === true });
        const same = JSON.stringify(next) === JSON.stringify(vars);
        vars = next;
        if (supervisor.starts === 0) {
          supervisor.start();
          if (o.once) for (const s of stops.splice(0)) s();
        } else if (!same) void supervisor.changed();
      };
      for (const p of prefixes) {
        const dep: Dependency = { id: `/v1/kv/${p}?recurse`, kind: 'kv-tree' };
        stops.push(
          watcher.watch(dep, (value) => {
            rows.set(p, value as KvRow[] | null);
            update();
          }),
        );
      }
      const onSignal = (sig: NodeJS.Signals) => {
        if (sig === 'SIGINT' || sig === 'SIGTERM') {
          for (const s of stops.splice(0)) s();
          void supervisor.stop().then(done);
        } else supervisor.forward(sig);
      };
      const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const).map(
        (sig) => [sig, () => onSignal(sig)] as const,
      );
      for (const [sig, h] of handlers) process.on(sig, h);
      const code = await finished;
      for (const [sig, h] of handlers) process.off(sig, h);
      return code;
    },
  );
}
