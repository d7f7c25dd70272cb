import { appendFile } from 'node:fs/promises';
import type { AuditEvent, AuditSink } from '../core/api/audit-sink.js';
import type { Logger } from '../core/ports/logger.js';

/** Most records waiting to be written; when full, new records are dropped and counted. */
export const AUDIT_QUEUE_MAX = 10_000;
/** Most records written in one append. */
const BATCH = 512;

/**
 * The audit log: JSON lines appended to a file by one background writer. `record` never blocks:
 * records wait in a queue of at most AUDIT_QUEUE_MAX; beyond it the newest record is dropped and
 * `dropped` counts it (so a slow disk cannot stall or exhaust the server). Write errors are logged
 * once per kind and the batch is counted as dropped.
 */
export class AuditFile implements AuditSink {
  private queue: string[] = [];
  private writing: Promise<void> | undefined;
  private lastError = '';
  /** Records accepted, and records dropped (queue full or write failed). */
  written = 0;
  dropped = 0;

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
    private readonly onDrop: (n: number) => void = () => undefined,
  ) {}

  record(event: AuditEvent): void {
    if (this.queue.length >= AUDIT_QUEUE_MAX) {
      this.dropped++;
      this.onDrop(1);
      return;
    }
    this.queue.push(`${JSON.stringify(event)}\n`);
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH);
      try {
        await appendFile(this.path, batch.join(''), { mode: 0o600 });
        this.written += batch.length;
      } catch (err) {
        this.dropped += batch.length;
        this.onDrop(batch.length);
        const message = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        if (message !== this.lastError)
          this.logger.error('writing the audit log failed; records dropped', { path: this.path, error: message });
        this.lastError = message;
      }
    }
  }

  /** Resolves once every queued record was written (or dropped). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }
}
