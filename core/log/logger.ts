import type { Clock } from '../ports/clock.js';
import { LOG_LEVELS, type LogFields, type LogLevel, type Logger } from '../ports/logger.js';

/** Output format of createLogger: human-readable text or one JSON object per line. */
export type LogFormat = 'text' | 'json';

/** Field names whose values are never written (secrets must not reach logs). */
const SECRET_FIELD = /token|secret|password|authorization|private/i;

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

function formatText(time: string, level: LogLevel, msg: string, fields: LogFields): string {
  let line = `${time} [${level.toUpperCase()}]${' '.repeat(6 - level.length)}${msg}`;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const text = String(v);
    line += ` ${k}=${/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)}`;
  }
  return line;
}

function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_FIELD.test(k) && v !== undefined ? '[redacted]' : v;
  return out;
}

/**
 * A structured logger writing text ("2026-01-01T00:00:00.000Z [INFO]  msg k=v") or JSON lines
 * ({"@timestamp","@level","@message",…fields}). Lines below `level` are dropped. Fields whose
 * name looks like a secret (token, secret, password, authorization, private) are redacted.
 */
export function createLogger(options: LoggerOptions): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const base = options.fields ?? {};
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    const all = redact({ ...base, ...fields });
    const time = new Date(options.clock.now()).toISOString();
    options.write(
      options.format === 'json'
        ? JSON.stringify({ '@timestamp': time, '@level': level, '@message': msg, ...all })
        : formatText(time, level, msg, all),
    );
  };
  return {
    trace: (m, f) => emit('trace', m, f),
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}
