import type { HealthStatus } from '../catalog/types.js';

/** What one probe found. Output is capped by the agent. */
export interface ProbeResult {
  readonly status: HealthStatus;
  readonly output: string;
}

/**
 * Runs health-check probes (network and process I/O, so a runtime adapter implements it). Every
 * probe resolves within `timeoutMs` and never rejects: failures are critical results.
 */
export interface Probes {
  /** 2xx passing, 429 warning, anything else (or no answer) critical. */
  http(req: {
    url: string;
    method: string;
    headers: Readonly<Record<string, readonly string[]>>;
    body: string;
    tlsSkipVerify: boolean;
    timeoutMs: number;
  }): Promise<ProbeResult>;
  /** Passing when a TCP connection opens. */
  tcp(addr: string, timeoutMs: number): Promise<ProbeResult>;
  /** Sends a datagram: passing on an answer or silence, critical on an error (port unreachable). */
  udp(addr: string, timeoutMs: number): Promise<ProbeResult>;
  /** The gRPC health protocol (grpc.health.v1.Health/Check): SERVING is passing. */
  grpc(target: string, useTls: boolean, timeoutMs: number): Promise<ProbeResult>;
  /** Runs a command: exit 0 passing, 1 warning, anything else critical. Only when script checks are enabled. */
  script(args: readonly string[], timeoutMs: number): Promise<ProbeResult>;
}
