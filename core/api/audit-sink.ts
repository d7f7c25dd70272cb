import type { ChaosEndReason, ChaosExperimentView } from '../chaos/types.js';

/**
 * What a chaos experiment's record adds (method `CHAOS`, path `/v1/operator/chaos/<ID>`): whether
 * it started or ended, why it ended, and the experiment's fields.
 */
export type ChaosAuditDetail = {
  readonly action: 'start' | 'end';
  readonly reason?: ChaosEndReason;
} & ChaosExperimentView;

/**
 * One audit record: who did what, from where, and how it ended. Never holds a secret. Besides the
 * record of every HTTP request it covers, each chaos experiment's start and end (an end nobody
 * asked for too) has its own record with method `CHAOS` and `chaos` set.
 */
export interface AuditEvent {
  readonly time: string;
  /** Also sent to the client as X-Konsul-Request-Id. */
  readonly requestId: string;
  readonly source: string;
  /** The token's AccessorID when one was resolved (never the SecretID). */
  readonly accessor?: string;
  readonly method: string;
  /** Path and query, with any `token` parameter removed. */
  readonly path: string;
  readonly kind: 'read' | 'write';
  readonly status: number;
  /** `denied`: 401/403 (no or insufficient permission), `allowed` otherwise. */
  readonly decision: 'allowed' | 'denied';
  /** Chaos experiment records only (method `CHAOS`). */
  readonly chaos?: ChaosAuditDetail;
}

/** Where audit records go. `record` must not block and must bound what it holds. */
export interface AuditSink {
  record(event: AuditEvent): void;
}

/** An AuditSink that keeps nothing (no --audit-log). */
export const NO_AUDIT: AuditSink = { record: () => undefined };
