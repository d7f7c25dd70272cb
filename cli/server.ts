import { fileURLToPath } from 'node:url';
import { LogHub } from '../core/log/hub.js';
import { systemClock } from '../runtimes/node/index.js';
import { SERVER_OPTIONS, toServerConfig } from './server-options.js';
import { type RunningServer, startServer } from '../server/server.js';
import { StartupError } from '../server/start-errors.js';
import { optionsHelp, parseFlags, readConfigFile, resolveOptions } from './options.js';

const USAGE = `Usage: konsul server [flags]

Starts a Konsul server. With --dev it runs a single-node server with embedded defaults
(HTTP on 127.0.0.1:8500, LMDB data in ./.konsul).

Flags:
`;

/**
 * Runs `konsul server`: resolves configuration (defaults < --config file < KONSUL_* < flags),
 * starts the server and stops it cleanly on SIGTERM or SIGINT. Returns the process exit code.
 * Configuration errors throw ConfigError (the CLI prints them and exits 2). A server that cannot
 * start because of what a flag names (a taken port, a locked data dir, an unreadable or broken
 * certificate) prints one line naming the flag and its value on stderr and returns 1.
 */
export async function runServerCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}${optionsHelp(SERVER_OPTIONS)}\n`);
    return 0;
  }
  const flags = parseFlags(SERVER_OPTIONS, argv, 'server');
  const config = await readConfigFile(SERVER_OPTIONS, flags, env);
  const resolved = toServerConfig(resolveOptions(SERVER_OPTIONS, flags, env, config));
  // OpenTelemetry's standard variables, under --otlp-endpoint.
  const otlpEndpoint = resolved.otlpEndpoint ?? env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  const cfg = {
    ...resolved,
    ...(otlpEndpoint ? { otlpEndpoint } : {}),
    otlpServiceName: env['OTEL_SERVICE_NAME'] || 'konsul',
    // The Web UI's files, built next to this bundle (dist/ui).
    uiDir: fileURLToPath(new URL('./ui/', import.meta.url)),
  };
  // A step of the wall clock is ignored (see systemClock) and logged once per step.
  let onClockStep = (_ms: number): void => undefined;
  const clock = systemClock((ms) => onClockStep(ms));
  // One hub for every logger of the process: its level changes at run time (PUT
  // /v1/agent/log-level, SIGHUP) and /v1/agent/monitor streams its lines.
  const logs = new LogHub({
    level: cfg.logLevel,
    format: cfg.logFormat,
    clock,
    write: (line) => process.stdout.write(`${line}\n`),
  });
  const logger = logs.logger();
  onClockStep = (ms) =>
    logger.warn('the wall clock stepped; Konsul keeps counting monotonic time until it restarts', {
      stepMs: Math.round(ms),
    });
  let server: RunningServer;
  try {
    server = await startServer(cfg, logger, clock, logs);
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    process.stderr.write(`konsul: ${err.message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        logger.warn('second signal, exiting without waiting', { signal });
        resolve(1);
        return;
      }
      logger.info('caught signal', { signal });
      server.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error('shutdown failed', { error: (err as Error).message });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // SIGHUP re-reads the log level (config file, KONSUL_*, flags) and reloads the HTTPS
    // certificate without dropping the listener.
    process.on('SIGHUP', () => {
      readConfigFile(SERVER_OPTIONS, flags, env)
        .then((again) => {
          const level = toServerConfig(resolveOptions(SERVER_OPTIONS, flags, env, again)).logLevel;
          if (level !== logs.level()) {
            logs.setLevel(level);
            logger.info('SIGHUP: log level changed', { level });
          }
        })
        .catch((err: unknown) =>
          logger.error('SIGHUP: configuration not re-read; keeping the log level', {
            error: (err as Error).message,
          }),
        );
      server.reloadTls().then(
        (done) => {
          if (!done) logger.info('SIGHUP: no HTTPS certificate to reload');
        },
        (err: unknown) =>
          logger.error('TLS reload failed; keeping the previous certificate', { error: (err as Error).message }),
      );
    });
    // After a graceful leave the server stops by itself.
    void server.left.then(() => server.stop()).then(() => resolve(0));
    // A Raft loop that cannot write (a full disk) leaves nothing to serve: exit 1, so a supervisor
    // restarts it; the restart recovers from what is on disk once the cause is fixed.
    void server.failed.then((err) => {
      logger.error('stopping: the Raft log or state could not be written; restart once the cause is fixed', {
        error: err.message,
      });
      return server.stop().then(() => resolve(1));
    });
  });
}
