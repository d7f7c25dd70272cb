import {
  type CatalogBindings,
  type CatalogDeregisterCommand,
  type CatalogRegisterCommand,
  catalogDeregister,
  catalogRegister,
} from '../catalog/state-machine.js';
import {
  type CatalogCheck,
  type CatalogNode,
  type CatalogService,
  CHECKS_TABLE,
  childKey,
  NODES_TABLE,
  SERVICES_TABLE,
} from '../catalog/types.js';
import { KonsulError } from '../errors.js';
import { META_TABLE } from '../fsm/meta.js';
import { OverlayTxn } from '../fsm/overlay-txn.js';
import type { ApplyContext, CommandHandler, StateModule } from '../fsm/state-machine.js';
import { kvCas, kvDelete, kvDeleteCas, kvDeleteTree, kvLock, kvSet, kvUnlock } from '../kv/ops.js';
import { KV_TABLE, type KvRecord } from '../kv/types.js';
import type { ReadTxn } from '../ports/state-store.js';
import { sessionLockHolders } from '../session/bindings.js';
import type { Change } from '../watch/change.js';
import {
  IDEMPOTENCY_ORDER_TABLE,
  IDEMPOTENCY_TABLE,
  isReadOp,
  MAX_IDEMPOTENCY_KEYS,
  type TxnCommand,
  type TxnError,
  type TxnOp,
  type TxnOutcome,
  type TxnResult,
} from './types.js';

/** An operation's precondition failed; `message` becomes its What. */
class OpFailed extends KonsulError {
  constructor(message: string) {
    super('conflict', message);
  }
}

const q = (s: string): string => JSON.stringify(s);

function kvResult(key: string, rec: KvRecord, withValue: boolean): TxnResult {
  return { kind: 'kv', entry: { key, ...rec }, withValue };
}

/** The entry at `key`; OpFailed `<what>key "k" doesn't exist` (Consul's texts) when there is none. */
function existingKv(tx: ReadTxn, key: string, what = ''): KvRecord {
  const rec = tx.get<KvRecord>(KV_TABLE, key);
  if (!rec) throw new OpFailed(`${what}key ${q(key)} doesn't exist`);
  return rec;
}

/** Runs a read-only operation (see isReadOp) against `tx`. Throws OpFailed when a check fails. */
function readOp(tx: ReadTxn, op: TxnOp): TxnResult[] {
  if (op.kind === 'kv') {
    switch (op.verb) {
      case 'get':
        return [kvResult(op.key, existingKv(tx, op.key), true)];
      case 'get-tree':
        return [...tx.range<KvRecord>(KV_TABLE, { prefix: op.key })].map(([k, r]) => kvResult(k, r, true));
      case 'check-index': {
        const rec = existingKv(tx, op.key, 'failed to check index, ');
        if (rec.modifyIndex !== op.index) {
          throw new OpFailed(
            `failed index check for key ${q(op.key)}, current modify index ${rec.modifyIndex} != ${op.index}`,
          );
        }
        return [kvResult(op.key, rec, false)];
      }
      case 'check-session': {
        const rec = existingKv(tx, op.key, 'failed to check session, ');
        if ((rec.session ?? '') !== op.session) {
          throw new OpFailed(
            `failed session check for key ${q(op.key)}, current session ${q(rec.session ?? '')} != ${q(op.session)}`,
          );
        }
        return [kvResult(op.key, rec, false)];
      }
      case 'check-not-exists':
        if (tx.get(KV_TABLE, op.key)) throw new OpFailed(`key ${q(op.key)} exists`);
        return [];
      default:
        throw new Error(`not a read verb: ${op.verb}`);
    }
  }
  if (op.kind === 'node') {
    const node = tx.get<CatalogNode>(NODES_TABLE, op.node.Node);
    if (!node) throw new OpFailed(`node ${q(op.node.Node)} doesn't exist`);
    return [{ kind: 'node', node }];
  }
  if (op.kind === 'service') {
    const service = tx.get<CatalogService>(SERVICES_TABLE, childKey(op.node, op.service.ID));
    if (!service) throw new OpFailed(`service ${q(op.service.ID)} on node ${q(op.node)} doesn't exist`);
    return [{ kind: 'service', service }];
  }
  const check = tx.get<CatalogCheck>(CHECKS_TABLE, childKey(op.node, op.check.CheckID));
  if (!check) throw new OpFailed(`check ${q(op.check.CheckID)} on node ${q(op.node)} doesn't exist`);
  return [{ kind: 'check', check }];
}

/** Fails unless the record's ModifyIndex is `index` (0: unless it is absent). */
function casGuard(existing: { ModifyIndex: number } | undefined, index: number, what: string): void {
  if (index === 0 ? existing !== undefined : existing?.ModifyIndex !== index)
    throw new OpFailed(`failed to set ${what}, index is stale`);
}

function writeKv(ctx: ApplyContext, op: Extract<TxnOp, { kind: 'kv' }>, now: number): TxnResult[] {
  const { key } = op;
  switch (op.verb) {
    case 'set':
      return [kvResult(key, kvSet(ctx, key, op.value, op.flags), false)];
    case 'cas': {
      const rec = kvCas(ctx, key, op.value, op.flags, op.index);
      if (!rec) throw new OpFailed(`failed to set key ${q(key)}, index is stale`);
      return [kvResult(key, rec, false)];
    }
    case 'lock': {
      const rec = kvLock(ctx, key, op.value, op.flags, op.session, now, sessionLockHolders);
      if (!rec) throw new OpFailed(`failed to lock key ${q(key)}, lock is already held or in its lock delay`);
      return [kvResult(key, rec, false)];
    }
    case 'unlock': {
      const rec = kvUnlock(ctx, key, op.value, op.flags, op.session);
      if (!rec) throw new OpFailed(`failed to unlock key ${q(key)}, lock isn't held, or is held by another session`);
      return [kvResult(key, rec, false)];
    }
    case 'delete':
      kvDelete(ctx, key);
      return [];
    case 'delete-cas':
      if (!kvDeleteCas(ctx, key, op.index)) throw new OpFailed(`failed to delete key ${q(key)}, index is stale`);
      return [];
    case 'delete-tree':
      kvDeleteTree(ctx, key);
      return [];
    default:
      return readOp(ctx.tx, op);
  }
}

function requireNode(tx: ReadTxn, node: string): void {
  if (!tx.get(NODES_TABLE, node)) throw new OpFailed(`node ${q(node)} doesn't exist`);
}

/** What a catalog operation addresses: its current record, and how to write, remove and show it. */
interface CatalogTarget {
  readonly existing: { ModifyIndex: number } | undefined;
  readonly what: string;
  /** A service or check needs its node to exist already. */
  readonly needsNode: boolean;
  readonly put: Omit<CatalogRegisterCommand, 'type'>;
  readonly remove: Omit<CatalogDeregisterCommand, 'type'>;
  readonly result: (tx: ReadTxn) => TxnResult;
}

function catalogTarget(
  tx: ReadTxn,
  op: Exclude<TxnOp, { kind: 'kv' }>,
  now: number,
  datacenter: string,
): CatalogTarget {
  const bare = (node: string) => ({ ID: '', Node: node, Address: '', TaggedAddresses: {}, Meta: {} });
  if (op.kind === 'node') {
    const name = op.node.Node;
    return {
      existing: tx.get<CatalogNode>(NODES_TABLE, name),
      what: `node ${q(name)}`,
      needsNode: false,
      put: { datacenter, node: op.node, skipNodeUpdate: false, checks: [], now },
      remove: { node: name, now },
      result: (t) => ({ kind: 'node', node: t.get<CatalogNode>(NODES_TABLE, name) as CatalogNode }),
    };
  }
  if (op.kind === 'service') {
    const key = childKey(op.node, op.service.ID);
    return {
      existing: tx.get<CatalogService>(SERVICES_TABLE, key),
      what: `service ${q(op.service.ID)} on node ${q(op.node)}`,
      needsNode: true,
      put: { datacenter, node: bare(op.node), skipNodeUpdate: true, service: op.service, checks: [], now },
      remove: { node: op.node, serviceID: op.service.ID, now },
      result: (t) => ({ kind: 'service', service: t.get<CatalogService>(SERVICES_TABLE, key) as CatalogService }),
    };
  }
  const key = childKey(op.node, op.check.CheckID);
  return {
    existing: tx.get<CatalogCheck>(CHECKS_TABLE, key),
    what: `check ${q(op.check.CheckID)} on node ${q(op.node)}`,
    needsNode: true,
    put: { datacenter, node: bare(op.node), skipNodeUpdate: true, checks: [op.check], now },
    remove: { node: op.node, checkID: op.check.CheckID, now },
    result: (t) => ({ kind: 'check', check: t.get<CatalogCheck>(CHECKS_TABLE, key) as CatalogCheck }),
  };
}

/** Node, Service and Check verbs (Consul's txn catalog operations). */
function writeCatalog(
  ctx: ApplyContext,
  op: Exclude<TxnOp, { kind: 'kv' }>,
  now: number,
  datacenter: string,
  bound: CatalogBindings,
): TxnResult[] {
  if (op.verb === 'get') return readOp(ctx.tx, op);
  const t = catalogTarget(ctx.tx, op, now, datacenter);
  if (op.verb === 'delete' || op.verb === 'delete-cas') {
    // Unlike KV's, a catalog delete-cas of something absent fails (as in Consul).
    if (op.verb === 'delete-cas' && t.existing?.ModifyIndex !== op.index)
      throw new OpFailed(`failed to delete ${t.what}, index is stale`);
    catalogDeregister(ctx, t.remove, bound);
    return [];
  }
  if (t.needsNode && op.kind !== 'node') requireNode(ctx.tx, op.node);
  if (op.verb === 'cas') casGuard(t.existing, op.index, t.what);
  catalogRegister(ctx, t.put, bound);
  return [t.result(ctx.tx)];
}

function collect(ops: readonly TxnOp[], run: (op: TxnOp) => TxnResult[]): TxnOutcome {
  const results: TxnResult[] = [];
  const errors: TxnError[] = [];
  ops.forEach((op, i) => {
    try {
      results.push(...run(op));
    } catch (err) {
      // Deliberate failures (preconditions, unknown sessions, bad registrations) roll back; bugs propagate.
      if (!(err instanceof KonsulError)) throw err;
      errors.push({ OpIndex: i, What: err.message });
    }
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, results };
}

/**
 * Applies a transaction all-or-nothing: every operation runs in order over a buffered view that
 * sees the earlier operations' writes; if any fails, the buffer is dropped (nothing is written,
 * no change is reported) and every failure is returned; otherwise all writes land at this one index.
 * Catalog operations end what is `bound` to the checks and nodes they take away (sessions, and
 * through them their prepared queries), as the catalog commands do.
 */
export function applyTxn(
  ctx: ApplyContext,
  cmd: Pick<TxnCommand, 'ops' | 'now' | 'datacenter' | 'idempotencyKey'>,
  bound: CatalogBindings,
): TxnOutcome {
  const key = cmd.idempotencyKey;
  if (key !== undefined) {
    const seen = ctx.tx.get<{ index: number; outcome: TxnOutcome }>(IDEMPOTENCY_TABLE, key);
    if (seen) return { ...seen.outcome, replayed: { index: seen.index } };
  }
  const outcome = applyTxnOnce(ctx, cmd, bound);
  if (key !== undefined) rememberOutcome(ctx, key, outcome);
  return outcome;
}

/** Records an outcome under its idempotency key, forgetting the oldest keys beyond the bound. */
function rememberOutcome(ctx: ApplyContext, key: string, outcome: TxnOutcome): void {
  ctx.tx.put(IDEMPOTENCY_TABLE, key, { index: ctx.index, outcome });
  ctx.tx.put(IDEMPOTENCY_ORDER_TABLE, `${String(ctx.index).padStart(16, '0')}\u0000${key}`, '');
  const count = (ctx.tx.get<number>(META_TABLE, IDEMPOTENCY_COUNT) ?? 0) + 1;
  const excess = count - MAX_IDEMPOTENCY_KEYS;
  const oldest = excess > 0 ? [...ctx.tx.range(IDEMPOTENCY_ORDER_TABLE, { limit: excess })].map(([k]) => k) : [];
  for (const k of oldest) {
    ctx.tx.delete(IDEMPOTENCY_ORDER_TABLE, k);
    ctx.tx.delete(IDEMPOTENCY_TABLE, k.slice(k.indexOf('\u0000') + 1));
  }
  ctx.tx.put(META_TABLE, IDEMPOTENCY_COUNT, count - oldest.length);
}

const IDEMPOTENCY_COUNT = 'txn-idempotency-count';

function applyTxnOnce(
  ctx: ApplyContext,
  cmd: Pick<TxnCommand, 'ops' | 'now' | 'datacenter'>,
  bound: CatalogBindings,
): TxnOutcome {
  const overlay = new OverlayTxn(ctx.tx);
  const changes: Change[] = [];
  const inner: ApplyContext = { tx: overlay, index: ctx.index, changed: (c) => changes.push(c) };
  const outcome = collect(cmd.ops, (op) =>
    op.kind === 'kv' ? writeKv(inner, op, cmd.now) : writeCatalog(inner, op, cmd.now, cmd.datacenter, bound),
  );
  if (!outcome.ok) return outcome;
  overlay.commit();
  for (const c of changes) ctx.changed(c);
  return outcome;
}

/** Runs a transaction whose operations all read (no write pipeline): results, or every failed check. */
export function readTxn(tx: ReadTxn, ops: readonly TxnOp[]): TxnOutcome {
  if (!ops.every(isReadOp)) throw new Error('readTxn: the transaction writes');
  return collect(ops, (op) => readOp(tx, op));
}

/**
 * The transaction module: the `txn` command. `bound` is what ends with the checks and nodes its
 * catalog operations take away: the same bindings the catalog module is given (core/modules.ts).
 */
export function txnModule(bound: CatalogBindings): StateModule {
  return {
    tables: [IDEMPOTENCY_TABLE, IDEMPOTENCY_ORDER_TABLE],
    handlers: {
      txn: {
        apply(ctx, command) {
          return applyTxn(ctx, command as unknown as TxnCommand, bound);
        },
      } satisfies CommandHandler,
    },
  };
}
