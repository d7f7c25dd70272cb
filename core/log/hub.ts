import { OverloadedError, ShuttingDownError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import { LOG_LEVELS, type LogFields, type LogLevel, type Logger } from '../ports/logger.js';
import { formatLine, type LogFormat, redact } from './format.js';

/** Lines a monitor holds for a reader that has not taken them; beyond, lines are dropped and counted. */
export const MONITOR_BUFFER_LINES = 512;
/** Monitors open at once on one process; more are refused. */
export const MAX_MONITORS = 32;

/** What a monitor reader gets: the lines logged since it last read, and how many it missed. */
export interface MonitorBatch {
  readonly lines: readonly string[];
  /** Lines dropped since the last batch because the buffer was full. */
  readonly dropped: number;
}

/** A stream of a process's log lines at its own level and format (GET /v1/agent/monitor). */
export interface LogMonitor {
  /** Resolves with the next lines (at once when some wait); undefined once closed. */
  next(): Promise<MonitorBatch | undefined>;
  /** Stops the stream; a pending next() resolves undefined. */
  close(): void;
}

/** The run-time controls of a process's logs: its level, and monitors of its lines. */
export interface LogControl {
  /** The level below which lines are dropped (monitors may ask for more verbose ones). */
  level(): LogLevel;
  /** Changes the level from now on. */
  setLevel(level: LogLevel): void;
  /**
   * Opens a monitor of lines at `level` or above, formatted as `format`. Throws OverloadedError
   * beyond MAX_MONITORS, ShuttingDownError once the hub is closed.
   */
  monitor(level: LogLevel, format: LogFormat): LogMonitor;
}

interface Monitor {
  readonly threshold: number;
  readonly format: LogFormat;
  lines: string[];
  dropped: number;
  wake: ((batch: MonitorBatch | undefined) => void) | undefined;
  closed: boolean;
}

/**
 * A process's logs: lines at the hub's level (changeable at run time) go to `write`, and every
 * open monitor gets those at its own level, each in a bounded buffer (a slow reader loses lines,
 * counted, never memory). Loggers made by `logger()` all share it. Secret-looking fields are
 * redacted before any line is made (see createLogger).
 */
export class LogHub implements LogControl {
  private threshold: number;
  private readonly monitors = new Set<Monitor>();
  /** The lowest threshold of the monitors (LOG_LEVELS.length when none). */
  private monitorThreshold: number = LOG_LEVELS.length;
  private closed = false;

  constructor(
    private readonly o: {
      readonly level: LogLevel;
      readonly format: LogFormat;
      readonly clock: Pick<Clock, 'now'>;
      /** Receives each line at the hub's level, without a trailing newline. */
      readonly write: (line: string) => void;
    },
  ) {
    this.threshold = LOG_LEVELS.indexOf(o.level);
  }

  level(): LogLevel {
    return LOG_LEVELS[this.threshold] as LogLevel;
  }

  setLevel(level: LogLevel): void {
    this.threshold = LOG_LEVELS.indexOf(level);
  }

  /** A logger writing through the hub, with `fields` on every line. */
  logger(fields: LogFields = {}): Logger {
    const emit = (level: LogLevel, msg: string, more?: LogFields): void => this.emit(level, msg, fields, more);
    return {
      trace: (m, f) => emit('trace', m, f),
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (more) => this.logger({ ...fields, ...more }),
    };
  }

  monitor(level: LogLevel, format: LogFormat): LogMonitor {
    if (this.closed) throw new ShuttingDownError('log monitor');
    if (this.monitors.size >= MAX_MONITORS)
      throw new OverloadedError(`too many log monitors open (limit ${MAX_MONITORS})`);
    const m: Monitor = {
      threshold: LOG_LEVELS.indexOf(level),
      format,
      lines: [],
      dropped: 0,
      wake: undefined,
      closed: false,
    };
    this.monitors.add(m);
    this.recountMonitors();
    const take = (): MonitorBatch => {
      const batch = { lines: m.lines, dropped: m.dropped };
      m.lines = [];
      m.dropped = 0;
      return batch;
    };
    return {
      next: () => {
        if (m.closed) return Promise.resolve(undefined);
        if (m.lines.length > 0 || m.dropped > 0) return Promise.resolve(take());
        return new Promise((resolve) => {
          m.wake = (batch) => resolve(batch);
        });
      },
      close: () => this.closeMonitor(m),
    };
  }

  /** Closes every monitor (their readers get undefined); later monitor() calls throw. */
  close(): void {
    this.closed = true;
    for (const m of [...this.monitors]) this.closeMonitor(m);
  }

  private closeMonitor(m: Monitor): void {
    if (m.closed) return;
    m.closed = true;
    this.monitors.delete(m);
    this.recountMonitors();
    const wake = m.wake;
    m.wake = undefined;
    wake?.(undefined);
  }

  private recountMonitors(): void {
    let lowest: number = LOG_LEVELS.length;
    for (const m of this.monitors) lowest = Math.min(lowest, m.threshold);
    this.monitorThreshold = lowest;
  }

  private emit(level: LogLevel, msg: string, base: LogFields, fields: LogFields | undefined): void {
    const rank = LOG_LEVELS.indexOf(level);
    if (rank < this.threshold && rank < this.monitorThreshold) return;
    const all = redact({ ...base, ...fields });
    const time = new Date(this.o.clock.now()).toISOString();
    if (rank >= this.threshold) this.o.write(formatLine(this.o.format, time, level, msg, all));
    for (const m of this.monitors) {
      if (rank < m.threshold) continue;
      if (m.lines.length >= MONITOR_BUFFER_LINES) {
        m.dropped++;
        continue;
      }
      m.lines.push(formatLine(m.format, time, level, msg, all));
      const wake = m.wake;
      if (wake) {
        m.wake = undefined;
        const batch = { lines: m.lines, dropped: m.dropped };
        m.lines = [];
        m.dropped = 0;
        wake(batch);
      }
    }
  }
}
