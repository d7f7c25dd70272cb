import type { Logger } from '../core/ports/logger.js';

/** One started part and how to close it. */
interface StartedPart {
  readonly name: string;
  readonly close: () => Promise<void> | void;
}

/**
 * What a start-up has started so far, to close again if a later step fails: each step that
 * starts something pushes how to close it, and unwind() closes them in reverse order (the last
 * started first), so nothing outlives a failed start (a bound port, a data-dir lock, an open
 * store, a timer).
 */
export class StartupStack {
  private readonly parts: StartedPart[] = [];

  /** `logger` hears about parts that fail to close while unwinding. */
  constructor(private readonly logger?: Logger) {}

  /** Records a started part; `close` must release what it holds and may be async. */
  push(name: string, close: () => Promise<void> | void): void {
    this.parts.push({ name, close });
  }

  /** Names of the started parts, oldest first. */
  names(): string[] {
    return this.parts.map((p) => p.name);
  }

  /**
   * Closes every part pushed so far, newest first, and forgets them (a second call closes
   * nothing). Never rejects: a part that fails to close is logged and the others still close.
   */
  async unwind(): Promise<void> {
    for (let part = this.parts.pop(); part; part = this.parts.pop()) {
      try {
        await part.close();
      } catch (err) {
        this.logger?.warn('closing after a failed start failed', {
          part: part.name,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }
}
