import type { SyncStream } from './stream.js';

/** A stream as OpenSyncStreams needs it. */
type Tracked = Pick<SyncStream, 'behind'>;

/**
 * The replication streams open on this server, by the agent that named itself (`?agent=` of
 * GET /v1/edge/sync), so insights can follow how far behind each agent falls. Bounded by the
 * change feed's subscriber limit (every stream holds a subscription).
 */
export class OpenSyncStreams {
  private readonly streams = new Map<Tracked, string>();

  /** Tracks `stream` of `agent` until the returned function is called. */
  add(agent: string, stream: Tracked): () => void {
    this.streams.set(stream, agent);
    return () => {
      this.streams.delete(stream);
    };
  }

  /** Per agent, the changes its stream has not read yet (the most, when it has several open). */
  lags(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [stream, agent] of this.streams) out.set(agent, Math.max(out.get(agent) ?? 0, stream.behind));
    return out;
  }
}
