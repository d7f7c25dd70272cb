/**
 * Chaos experiments (PUT /v1/operator/chaos): faults a server injects into itself on purpose, each
 * rolled back by itself after its duration. The types here are shared by the request parser, the
 * controller that runs experiments (controller.ts) and the API routes.
 */

/** What an experiment does. */
export const CHAOS_KINDS = ['latency', 'loss', 'partition', 'pause-apply', 'step-down'] as const;

/** One of CHAOS_KINDS. */
export type ChaosKind = (typeof CHAOS_KINDS)[number];

/** The kinds that act on Raft links to named peers (and take `Peers`). */
export const LINK_KINDS: ReadonlySet<ChaosKind> = new Set(['latency', 'loss', 'partition']);

/** Bounds of experiments and of their requests; all positive integers. */
export interface ChaosLimits {
  /** Experiments active at once on one server; starting one more is refused (429). */
  readonly maxActive: number;
  /** Names in one request's `Peers`. */
  readonly maxPeers: number;
  /** Largest `DelayMs` and `JitterMs`. */
  readonly maxDelayMs: number;
  readonly maxJitterMs: number;
  /** Longest `DurationSeconds`. */
  readonly maxDurationSeconds: number;
  /** Largest request body (bytes). */
  readonly maxBodyBytes: number;
}

/** The bounds every server uses. */
export const CHAOS_LIMITS: ChaosLimits = {
  maxActive: 16,
  maxPeers: 64,
  maxDelayMs: 10_000,
  maxJitterMs: 10_000,
  maxDurationSeconds: 3600,
  maxBodyBytes: 16 * 1024,
};

/** A validated request to start an experiment (parseChaosSpec); fields absent when they do not apply. */
export interface ChaosSpec {
  readonly kind: ChaosKind;
  /** The server to run it on (absent: the one that received the request). */
  readonly server?: string;
  /** Link kinds: the peers whose links it affects (absent: every other server). */
  readonly peers?: readonly string[];
  /** latency: added to every message sent to the peers (1..maxDelayMs). */
  readonly delayMs?: number;
  /** latency: each message's delay varies uniformly by up to ± this (0..maxJitterMs). */
  readonly jitterMs?: number;
  /** loss: the chance, in percent (1..100), that a message sent to the peers is dropped. */
  readonly lossPercent?: number;
  /** Every kind but step-down: how long it lasts before it rolls itself back (ms). */
  readonly durationMs?: number;
}

/** An experiment as the API shows it (Consul-style field names; times in RFC 3339). */
export interface ChaosExperimentView {
  readonly ID: string;
  readonly Kind: ChaosKind;
  /** The server it runs on. */
  readonly Server: string;
  /** The peers whose links it affects (empty for pause-apply and step-down). */
  readonly Peers: readonly string[];
  readonly DelayMs?: number;
  readonly JitterMs?: number;
  readonly LossPercent?: number;
  readonly Started: string;
  /** When it rolls back (for step-down, which is over once answered: when it finished). */
  readonly Ends: string;
  /** step-down: the leader afterwards. */
  readonly Leader?: string;
}

/** Why an experiment ended. */
export type ChaosEndReason = 'expired' | 'stopped' | 'shutdown' | 'completed';

/** Who asked for a start or a stop: the caller's address and its token's AccessorID (never a secret). */
export interface ChaosActor {
  readonly source: string;
  readonly accessor?: string;
}

/** A start or an end, as the controller reports it for the audit log. */
export interface ChaosEvent {
  readonly action: 'start' | 'end';
  /** Ends only. */
  readonly reason?: ChaosEndReason;
  readonly experiment: ChaosExperimentView;
  /** Clock ms of the event. */
  readonly time: number;
  /** The caller, for starts and stops asked for over the API; absent for ends nobody asked for. */
  readonly by?: ChaosActor;
}
