import { HEALTH_WATCH_TABLE } from '../core/catalog/state-machine.js';
import type { CatalogCheck } from '../core/catalog/types.js';
import { INSIGHT_KINDS, type InsightAnalyser } from '../core/insights/analyser.js';
import type { Metrics } from '../core/ports/metrics.js';
import type { ApplyListener, IndexedChange } from '../core/watch/change.js';

/**
 * Feeds the analyser from what this server applies — every check's status as the instances'
 * health changes (checks of nodes without a service instance are not seen), and the number of
 * entries applied — and from the API's answers (5xx and 429 count as errors); closes a bucket
 * every `bucketMs`; reports konsul_insights_findings{kind}.
 */
export class InsightsFeed implements ApplyListener {
  private lastIndex: number | undefined;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly analyser: InsightAnalyser,
    bucketMs: number,
    metrics: Metrics,
  ) {
    this.timer = setInterval(() => analyser.tick(), bucketMs);
    this.timer.unref();
    metrics.gauge(
      'konsul_insights_findings',
      'Insights found now, by kind (GET /v1/operator/insights)',
      ['kind'],
      () => {
        const counts = analyser.counts();
        return INSIGHT_KINDS.map((kind) => [{ kind }, counts[kind]] as const);
      },
    );
  }

  applied(changes: readonly IndexedChange[], appliedIndex: number): void {
    if (this.lastIndex !== undefined && appliedIndex > this.lastIndex)
      this.analyser.writes(appliedIndex - this.lastIndex);
    this.lastIndex = appliedIndex;
    for (const { change } of changes) {
      if (change.table !== HEALTH_WATCH_TABLE || !('key' in change)) continue;
      const entry = change.entry as { checks?: readonly CatalogCheck[] } | null | undefined;
      for (const c of entry?.checks ?? []) this.analyser.checkStatus(`${c.Node}/${c.CheckID}`, c.Status);
    }
  }

  replaced(index: number): void {
    this.lastIndex = index;
  }

  /** An API answer: server-side failures and rate limiting count as errors. */
  answered(status: number): void {
    if (status >= 500 || status === 429) this.analyser.errors(1);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
