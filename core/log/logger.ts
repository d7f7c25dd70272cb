import type { Clock } from '../ports/clock.js';
import type { LogFields, LogLevel, Logger } from '../ports/logger.js';
import type { LogFormat } from './format.js';
import { LogHub } from './hub.js';

export type { LogFormat } from './format.js';

/** Options of createLogger. */
export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  readonly clock: Pick<Clock, 'now'>;
  /** Receives each formatted line, without a trailing newline. */
  readonly write: (line: string) => void;
  /** Fields added to every line (for example the component name). */
  readonly fields?: LogFields;
}

/**
 * A structured logger writing text ("2026-01-01T00:00:00.000Z [INFO]  msg k=v") or JSON lines
 * ({"@timestamp","@level","@message",…fields}). Lines below `level` are dropped. Fields whose
 * name looks like a secret (token, secret, password, authorization, private) are redacted.
 */
export function createLogger(options: LoggerOptions): Logger {
  return new LogHub(options).logger(options.fields);
}
