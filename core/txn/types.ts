import type { CheckInput, NodeInput, ServiceInput } from '../catalog/state-machine.js';
import type { CatalogCheck, CatalogNode, CatalogService } from '../catalog/types.js';
import type { KvEntry } from '../kv/types.js';

/** KV verbs of /v1/txn (Consul's api.KVOp). */
export const KV_VERBS = [
  'set',
  'cas',
  'lock',
  'unlock',
  'get',
  'get-tree',
  'check-index',
  'check-session',
  'check-not-exists',
  'delete',
  'delete-tree',
  'delete-cas',
] as const;
export type KvVerb = (typeof KV_VERBS)[number];

/** Node, Service and Check verbs of /v1/txn. */
export const CATALOG_VERBS = ['get', 'set', 'cas', 'delete', 'delete-cas'] as const;
export type CatalogVerb = (typeof CATALOG_VERBS)[number];

/** KV verbs that only read. */
export const KV_READ_VERBS: ReadonlySet<KvVerb> = new Set([
  'get',
  'get-tree',
  'check-index',
  'check-session',
  'check-not-exists',
]);

/** One operation of a transaction, validated. Index is the expected ModifyIndex where a verb uses one. */
export type TxnOp =
  | {
      readonly kind: 'kv';
      readonly verb: KvVerb;
      readonly key: string;
      readonly value: Uint8Array;
      readonly flags: string;
      readonly index: number;
      readonly session: string;
    }
  | { readonly kind: 'node'; readonly verb: CatalogVerb; readonly node: NodeInput; readonly index: number }
  | {
      readonly kind: 'service';
      readonly verb: CatalogVerb;
      readonly node: string;
      readonly service: ServiceInput;
      readonly index: number;
    }
  | {
      readonly kind: 'check';
      readonly verb: CatalogVerb;
      readonly node: string;
      readonly check: CheckInput;
      readonly index: number;
    };

/** Applies every operation or none, as one committed command. Result: TxnOutcome. */
export interface TxnCommand {
  readonly type: 'txn';
  readonly datacenter: string;
  readonly ops: readonly TxnOp[];
  /** Proposer's clock (ms since epoch), for lock delays. */
  readonly now: number;
  /**
   * A client-chosen key that makes the transaction apply at most once: a later transaction with
   * the same key is not applied and gets the first one's outcome (see IDEMPOTENCY_TABLE).
   */
  readonly idempotencyKey?: string;
}

/** One result of a transaction, in operation order (writes of KV entries carry no value). */
export type TxnResult =
  | { readonly kind: 'kv'; readonly entry: KvEntry; readonly withValue: boolean }
  | { readonly kind: 'node'; readonly node: CatalogNode }
  | { readonly kind: 'service'; readonly service: CatalogService }
  | { readonly kind: 'check'; readonly check: CatalogCheck };

/** Why one operation failed (Consul's TxnError). */
export interface TxnError {
  readonly OpIndex: number;
  readonly What: string;
}

/**
 * A transaction's outcome: every result, or (nothing applied) every error. `replayed` is set when
 * an earlier transaction with the same idempotency key already produced it (at `index`).
 */
export type TxnOutcome = (
  | { readonly ok: true; readonly results: readonly TxnResult[] }
  | { readonly ok: false; readonly errors: readonly TxnError[] }
) & { readonly replayed?: { readonly index: number } };

/** Outcomes of transactions with an idempotency key: key → { index, outcome }. */
export const IDEMPOTENCY_TABLE = 'txn_idempotency';
/** Insertion order of IDEMPOTENCY_TABLE: 16-digit index + NUL + key → ''. */
export const IDEMPOTENCY_ORDER_TABLE = 'txn_idempotency_order';
/** How many idempotency keys are remembered; the oldest are forgotten first. */
export const MAX_IDEMPOTENCY_KEYS = 16_384;

/** Whether `op` only reads. */
export function isReadOp(op: TxnOp): boolean {
  return op.kind === 'kv' ? KV_READ_VERBS.has(op.verb) : op.verb === 'get';
}
