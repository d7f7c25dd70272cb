import type { LogFields, LogLevel } from '../ports/logger.js';

/** Output format of a log line: human-readable text or one JSON object per line. */
export type LogFormat = 'text' | 'json';

/** Field names whose values are never written (secrets must not reach logs). */
const SECRET_FIELD = /token|secret|password|authorization|private/i;

/** One line in `format` (text: "time [LEVEL]  msg k=v"; json: {"@timestamp","@level","@message",…}). */
export function formatLine(format: LogFormat, time: string, level: LogLevel, msg: string, fields: LogFields): string {
  return format === 'json'
    ? JSON.stringify({ '@timestamp': time, '@level': level, '@message': msg, ...fields })
    : formatText(time, level, msg, fields);
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

/** `fields` with the values of secret-looking names (token, secret, password, …) replaced. */
export function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_FIELD.test(k) && v !== undefined ? '[redacted]' : v;
  return out;
}
