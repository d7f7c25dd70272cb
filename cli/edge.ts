import { createLogger } from '../core/log/logger.js';
import { startEdgeAgent } from '../edge/agent.js';
import { EDGE_OPTIONS, toEdgeConfig } from './edge-options.js';
import { currentRuntime } from '../runtimes/current.js';
import { currentHost, type ProcessHost } from '../runtimes/host.js';
import { systemClock } from '../runtimes/node/clock.js';
import { systemRng } from '../runtimes/node/rng.js';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../core/errors.js';
import { parseKeyFile, type KeyFile } from '../core/secrets/keyring.js';
import { optionsHelp, parseFlags, readConfigFile, resolveOptions } from './options.js';

const USAGE = `Usage: konsul edge --upstream http://HOST:PORT --prefix PREFIX [--service NAME] [flags]

Runs an edge agent: a local replica of the given KV prefixes and services' health, served by a
local Consul-compatible read API that keeps working while the servers are unreachable, synced
over HTTP or MQTT. Runs on Node (konsul edge), Bun (bun dist/cli.js edge) and Deno
(deno run -A dist/cli.js edge).

Flags:
`;

// The wall clock and timers work alike on Node, Deno and Bun: clock.ts and rng.ts use only Date.now,
// setTimeout and crypto.getRandomValues, so they are imported on their own (never the whole Node adapter).
const clock = systemClock();

/**
 * Runs `konsul edge`: resolves configuration (defaults < --config file < KONSUL_* < flags),
 * starts the agent and stops it cleanly on SIGTERM or SIGINT. Returns the exit code. `host` gives
 * the output stream and the signals (default: this process's).
 */
export async function runEdgeCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  host: ProcessHost = currentHost(),
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    host.writeOut(`${USAGE}${optionsHelp(EDGE_OPTIONS)}\n`);
    return 0;
  }
  const flags = parseFlags(EDGE_OPTIONS, argv, 'edge');
  const file = await readConfigFile(EDGE_OPTIONS, flags, env);
  const base = toEdgeConfig(resolveOptions(EDGE_OPTIONS, flags, env, file));
  const cfg = base.encryptKeyFile ? { ...base, encryptKeys: await readEdgeKeyFile(base.encryptKeyFile) } : base;
  const logger = createLogger({
    level: cfg.logLevel,
    format: cfg.logFormat,
    clock,
    write: (line) => host.writeOut(`${line}\n`),
  });
  // Signal handlers go in before the agent starts (a signal during start-up stops it once it is
  // up) and stay installed (a repeated signal while stopping is not fatal on any runtime).
  let signalled: string | undefined;
  let onSignal: ((signal: string) => void) | undefined;
  const handler = (signal: string) => () => {
    if (signalled !== undefined) return;
    signalled = signal;
    onSignal?.(signal);
  };
  host.onSignal('SIGTERM', handler('SIGTERM'));
  host.onSignal('SIGINT', handler('SIGINT'));
  const runtime = await currentRuntime();
  const agent = await startEdgeAgent(cfg, runtime, logger, clock, systemRng);
  return new Promise<number>((resolve) => {
    onSignal = (signal: string): void => {
      logger.info('caught signal', { signal });
      agent.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error('shutdown failed', { error: (err as Error).message });
          resolve(1);
        },
      );
    };
    if (signalled !== undefined) onSignal(signalled);
  });
}

/** Reads --encrypt-key-file; ConfigError naming the flag and the file (never its content). */
async function readEdgeKeyFile(path: string): Promise<KeyFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read --encrypt-key-file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    return parseKeyFile(text);
  } catch (err) {
    throw new ConfigError(`--encrypt-key-file ${path}: ${(err as Error).message}`);
  }
}
