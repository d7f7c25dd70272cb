import type { Clock, TimerHandle } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Writer } from '../pipeline/writer.js';
import {
  type FleetHeard,
  type FleetReport,
  type FleetSeenCommand,
  MAX_FLEET_MEMBERS,
  MAX_FLEET_REPORTS,
} from './types.js';

/** Options of a FleetReporter. */
export interface FleetReporterOptions {
  readonly writer: Writer;
  readonly clock: Clock;
  readonly logger: Logger;
  /** This server's name (recorded as the member's Server). */
  readonly server: string;
  /** How often gathered reports are written (default 1 s). */
  readonly flushMs?: number;
  /** This server's applied index (recorded with each report, so a member's lag can be told). */
  readonly appliedIndex: () => number;
}

/**
 * Gathers what agents and devices report to this server and writes it to the replicated fleet
 * table in batches, once per `flushMs`: a member heard many times in that window costs one row
 * of one command. At most MAX_FLEET_MEMBERS members wait (later new ones are dropped, counted in
 * `dropped`); a command carries at most MAX_FLEET_REPORTS. A failed write keeps its reports for
 * the next round unless newer ones replaced them.
 */
export class FleetReporter {
  private pending = new Map<string, { report: FleetHeard; at: number }>();
  private timer: TimerHandle | undefined;
  private flushing = false;
  private stopped = false;
  /** Reports dropped because too many members were waiting. */
  dropped = 0;

  constructor(private readonly o: FleetReporterOptions) {}

  /** Records that `report`'s member was heard now; the newest report of a member wins. */
  report(report: FleetReport): void {
    if (this.stopped) return;
    if (!this.pending.has(report.ID) && this.pending.size >= MAX_FLEET_MEMBERS) {
      this.dropped++;
      return;
    }
    this.pending.set(report.ID, {
      report: { ...report, ServerIndex: report.Kind === 'agent' ? this.o.appliedIndex() : 0 },
      at: this.o.clock.now(),
    });
    this.schedule();
  }

  /** Writes what is pending now (tests, shutdown). */
  async flush(): Promise<void> {
    if (this.flushing || this.pending.size === 0) return;
    this.flushing = true;
    const batch = [...this.pending.entries()].slice(0, MAX_FLEET_REPORTS);
    for (const [id] of batch) this.pending.delete(id);
    // One command per batch: its time is the newest report's (each was heard at or before it).
    const command: FleetSeenCommand = {
      type: 'fleet.seen',
      now: Math.max(...batch.map(([, p]) => p.at)),
      server: this.o.server,
      reports: batch.map(([, p]) => p.report),
    };
    try {
      await this.o.writer.submit(command);
    } catch (err) {
      // Put back what no newer report replaced, for the next round.
      for (const [id, p] of batch) if (!this.pending.has(id) && !this.stopped) this.pending.set(id, p);
      this.o.logger.warn('fleet reports not written, retrying', { error: (err as Error).message });
    } finally {
      this.flushing = false;
    }
    this.schedule();
  }

  /** Stops: nothing more is written. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.o.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.stopped || this.pending.size === 0) return;
    this.timer = this.o.clock.setTimer(() => {
      this.timer = undefined;
      void this.flush();
    }, this.o.flushMs ?? 1000);
  }
}
