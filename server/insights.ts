import { CHECK_STATUS_WATCH_TABLE } from '../core/catalog/state-machine.js';
import {
  type Finding,
  INSIGHT_KINDS,
  type InsightAnalyser,
  type InsightKind,
  LOCAL_INSIGHT_KINDS,
} from '../core/insights/analyser.js';
import type { InsightsPort } from '../core/api/routes/insights.js';
import type { Logger } from '../core/ports/logger.js';
import type { Metrics } from '../core/ports/metrics.js';
import type { ApplyListener, IndexedChange } from '../core/watch/change.js';

/** The name of the user events that announce findings (GET /v1/event/list?name=konsul-insight). */
export const INSIGHT_EVENT = 'konsul-insight';
/** Events fired per bucket at most; the rest wait for the next buckets. */
const MAX_EVENTS_PER_TICK = 4;
/** A user event's payload limit (MAX_EVENT_PAYLOAD_BYTES). */
const MAX_PAYLOAD_BYTES = 512;

/** How a server announces findings as user events. */
export interface InsightAnnouncer {
  /** This server's node name (the Server field of what it announces). */
  readonly server: string;
  /** Whether this server leads now: the leader announces the findings every server makes alike. */
  isLeader(): boolean;
  /** Fires a `konsul-insight` user event with `payload` (through Raft); may reject. */
  fire(payload: Uint8Array): Promise<void>;
}

/** What the feed needs besides the analyser. */
export interface InsightsFeedOptions {
  readonly bucketMs: number;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Per edge agent syncing from this server, the changes its stream has not read (sampled each bucket). */
  readonly edgeLags?: () => ReadonlyMap<string, number>;
  /** Where findings are announced; none when absent. */
  readonly announce?: InsightAnnouncer;
}

/**
 * Feeds the analyser from what this server applies — every check's status change (node checks
 * included) and the number of entries applied — from the API's answers (5xx and 429 count as
 * errors), and, every bucket, from the lag of the edge agents syncing from it; closes a bucket
 * every `bucketMs`; reports konsul_insights_findings{kind}. Each finding that appears or ends is
 * announced once as a `konsul-insight` user event (so it is on the change feed and in
 * /v1/event/list): by the leader for the kinds every server finds alike, by each server for
 * those only it sees (LOCAL_INSIGHT_KINDS).
 */
export class InsightsFeed implements ApplyListener {
  private lastIndex: number | undefined;
  private readonly timer: ReturnType<typeof setInterval>;
  private agents = new Set<string>();
  /** Findings announced as found (by kind and subject), and not yet as resolved. */
  private readonly announced = new Map<string, Finding>();
  private announcing = false;

  constructor(
    private readonly analyser: InsightAnalyser,
    private readonly o: InsightsFeedOptions,
  ) {
    this.timer = setInterval(() => this.tick(), o.bucketMs);
    this.timer.unref();
    o.metrics.gauge(
      'konsul_insights_findings',
      'Insights found now, by kind (GET /v1/operator/insights)',
      ['kind'],
      () => {
        const counts = analyser.counts();
        return INSIGHT_KINDS.map((kind) => [{ kind }, counts[kind]] as const);
      },
    );
    const lags = o.edgeLags;
    if (lags) {
      o.metrics.gauge(
        'konsul_edge_sync_streams_named',
        'Edge sync streams open here whose agent named itself',
        [],
        () => lags().size,
      );
      o.metrics.gauge(
        'konsul_edge_sync_lag_max',
        'Changes the furthest-behind named edge sync stream here has not read (0: none behind)',
        [],
        () => Math.max(0, ...lags().values()),
      );
    }
  }

  applied(changes: readonly IndexedChange[], appliedIndex: number): void {
    if (this.lastIndex !== undefined && appliedIndex > this.lastIndex)
      this.analyser.writes(appliedIndex - this.lastIndex);
    this.lastIndex = appliedIndex;
    for (const { change } of changes) {
      if (change.table !== CHECK_STATUS_WATCH_TABLE || !('key' in change)) continue;
      const entry = change.entry as { Status: string } | null | undefined;
      if (entry) this.analyser.checkStatus(change.key, entry.Status);
      else this.analyser.checkRemoved(change.key);
    }
  }

  replaced(index: number): void {
    this.lastIndex = index;
  }

  /** An API answer: server-side failures and rate limiting count as errors. */
  answered(status: number): void {
    if (status >= 500 || status === 429) this.analyser.errors(1);
  }

  /** Closes a bucket: samples the agents' lag, judges the rates, announces what changed. */
  tick(): void {
    const lags = this.o.edgeLags?.() ?? new Map<string, number>();
    for (const [agent, lag] of lags) this.analyser.edgeLag(agent, lag);
    for (const agent of this.agents) if (!lags.has(agent)) this.analyser.edgeGone(agent);
    this.agents = new Set(lags.keys());
    this.analyser.tick();
    void this.announce();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Fires up to MAX_EVENTS_PER_TICK events for findings that appeared or ended since the last. */
  private async announce(): Promise<void> {
    const a = this.o.announce;
    if (!a || this.announcing) return;
    this.announcing = true;
    try {
      const leader = a.isLeader();
      const mine = (kind: InsightKind) => LOCAL_INSIGHT_KINDS.has(kind) || leader;
      const now = new Map<string, Finding>();
      for (const f of this.analyser.findings()) if (mine(f.Kind)) now.set(`${f.Kind}\u0000${f.Subject}`, f);
      const due: Array<[string, Finding, 'found' | 'resolved']> = [];
      for (const [key, f] of now) if (!this.announced.has(key)) due.push([key, f, 'found']);
      for (const [key, f] of this.announced) if (!now.has(key)) due.push([key, f, 'resolved']);
      for (const [key, f, state] of due.slice(0, MAX_EVENTS_PER_TICK)) {
        await a.fire(insightPayload(f, state, a.server));
        if (state === 'found') this.announced.set(key, f);
        else this.announced.delete(key);
      }
    } catch (err) {
      this.o.logger.warn('announcing an insight failed; retrying next time', { error: (err as Error).message });
    } finally {
      this.announcing = false;
    }
  }
}

/**
 * A finding as a user event's payload: compact JSON with its kind, subject, figure, baseline,
 * window, start, state (found or resolved) and the server that found it, within 512 bytes (a
 * long subject is cut).
 */
export function insightPayload(f: Finding, state: 'found' | 'resolved', server: string): Uint8Array {
  const enc = new TextEncoder();
  const encode = (subject: string) =>
    enc.encode(
      JSON.stringify({
        Kind: f.Kind,
        Subject: subject,
        State: state,
        Figure: f.Figure,
        Baseline: f.Baseline,
        Window: f.Window,
        Since: f.Since,
        Server: server,
      }),
    );
  let out = encode(f.Subject);
  if (out.byteLength <= MAX_PAYLOAD_BYTES) return out;
  let subject = f.Subject;
  while (out.byteLength > MAX_PAYLOAD_BYTES && subject.length > 0) {
    subject = subject.slice(0, Math.max(0, subject.length - (out.byteLength - MAX_PAYLOAD_BYTES) - 1));
    out = encode(`${subject}…`);
  }
  return out;
}

/** How long the leader waits for another server's findings (ms). */
const GATHER_TIMEOUT_MS = 2000;
/** Findings taken from another server at most. */
const MAX_FINDINGS_PER_SERVER = 1000;

/**
 * The insights routes' port: this server's findings, and (for GET /v1/operator/insights) those of
 * the kinds only each server sees, asked of every other server at /v1/internal/insights with the
 * caller's token. A server that does not answer within 2 s is left out (and logged at debug).
 */
export function insightsPort(
  analyser: InsightAnalyser,
  server: string,
  cluster: {
    askServers(
      path: string,
      headers: Record<string, string>,
      timeoutMs: number,
    ): Promise<Array<{ readonly server: string; readonly body?: unknown; readonly error?: string }>>;
  },
  logger: Logger,
): InsightsPort {
  const own = (): Finding[] =>
    analyser.findings().map((f) => (LOCAL_INSIGHT_KINDS.has(f.Kind) ? { ...f, Server: server } : f));
  return {
    local: () => own().filter((f) => LOCAL_INSIGHT_KINDS.has(f.Kind)),
    gather: async (req) => {
      const headers: Record<string, string> = {};
      for (const name of ['x-consul-token', 'authorization']) {
        const v = req.headers.get(name);
        if (v !== null) headers[name] = v;
      }
      const token = new URL(req.url).searchParams.get('token');
      if (token !== null && headers['x-consul-token'] === undefined) headers['x-consul-token'] = token;
      const out = own();
      for (const a of await cluster.askServers('/v1/internal/insights', headers, GATHER_TIMEOUT_MS)) {
        if (!Array.isArray(a.body)) {
          logger.debug('a server did not give its insights', { server: a.server, error: a.error ?? 'not a list' });
          continue;
        }
        for (const f of a.body.slice(0, MAX_FINDINGS_PER_SERVER) as Finding[])
          if (f !== null && typeof f === 'object' && LOCAL_INSIGHT_KINDS.has(f.Kind)) out.push(f);
      }
      return out;
    },
  };
}
