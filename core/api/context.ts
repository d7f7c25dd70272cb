import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Rng } from '../ports/rng.js';
import type { StateStore } from '../ports/state-store.js';
import type { WritePipeline } from '../pipeline/write-pipeline.js';
import type { WatchRegistry } from '../watch/watch-registry.js';

/** Identity of the node serving the API. */
export interface NodeInfo {
  readonly name: string;
  /** UUID of the node, stable across restarts. */
  readonly id: string;
  readonly datacenter: string;
  readonly version: string;
  /** Address other servers use for consensus traffic ("host:port"). */
  readonly raftAddr: string;
  /** Address of the HTTP API ("host:port"). */
  readonly httpAddr: string;
}

/** The node's view of cluster leadership, for status endpoints and response headers. */
export interface ClusterView {
  /** Raft address of the current leader, or undefined when none is known. */
  leader(): string | undefined;
  /** Raft addresses of the voting servers. */
  peers(): string[];
  /** Milliseconds since this node last heard from the leader (0 on the leader itself). */
  lastContactMs(): number;
}

/** Bounds and defaults of the HTTP API; all positive integers. */
export interface ApiLimits {
  /** Largest KV value in bytes (Consul's kv_max_value_size; default 512 KiB). */
  readonly kvMaxValueBytes: number;
  /** Blocking query wait when the client gives none (ms; Consul: 5 minutes). */
  readonly blockingDefaultWaitMs: number;
  /** Longest blocking query wait (ms; Consul: 10 minutes). */
  readonly blockingMaxWaitMs: number;
}

/** Consul's defaults. */
export const DEFAULT_API_LIMITS: ApiLimits = {
  kvMaxValueBytes: 512 * 1024,
  blockingDefaultWaitMs: 5 * 60_000,
  blockingMaxWaitMs: 10 * 60_000,
};

/** Everything the HTTP API needs, injected by a composition root. */
export interface ApiDeps {
  readonly node: NodeInfo;
  readonly store: StateStore;
  readonly writer: WritePipeline;
  readonly watches: WatchRegistry;
  readonly cluster: ClusterView;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly logger: Logger;
  readonly limits: ApiLimits;
  /** Resolves when the server begins shutting down; blocking queries then return at once. */
  readonly shutdownSignal?: AbortSignal;
}
