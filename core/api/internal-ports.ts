/**
 * Small ports for the server-only routes (core/api/routes/internal.ts and agent-metrics.ts): what
 * a composition root hands them, so the routes stay free of any runtime.
 */

/** The leader's side of /v1/internal/propose, where followers send internal writes. */
export interface PeerProposals {
  /**
   * Proposes an encoded command on behalf of another server and returns the outcome encoded for
   * it (msgpack). Never rejects: failures are encoded with their error code.
   */
  proposeForPeer(command: Uint8Array): Promise<Uint8Array>;
}

/** The server's counters behind /v1/agent/metrics. */
export interface MetricsPort {
  /** The Prometheus text exposition and its Content-Type. */
  prometheus(): Promise<{ readonly body: string; readonly contentType: string }>;
  /** The counters in Consul's /v1/agent/metrics JSON shape. */
  json(): Promise<unknown>;
}

/** Test-only fault injection: simulated partitions of the Raft traffic. */
export interface FaultsPort {
  /** Drops Raft traffic to and from exactly these servers (by node name) from now on; [] heals. */
  block(peers: readonly string[]): void;
}
