import { route } from '../registry.js';
import type { Hono } from 'hono';
import { BadRequestError } from '../../errors.js';
import { checkJson } from '../../catalog/json.js';
import { readAppliedIndex } from '../../fsm/meta.js';
import { kvEntryToJson } from '../../kv/json.js';
import { readTxn } from '../../txn/apply.js';
import { parseTxn } from '../../txn/input.js';
import { isReadOp, type TxnCommand, type TxnError, type TxnOutcome, type TxnResult } from '../../txn/types.js';
import { readJson } from '../body.js';
import { filterTxnResults, txnAccessErrors } from '../authz.js';
import { actUnderGrant } from './edge-acl.js';
import type { ApiDeps } from '../context.js';
import { nodeServices } from '../../catalog/queries.js';
import { checkDatacenter, consistentBarrier, parseReadOptions } from '../query.js';
import { jsonResponse, readHeaders } from '../respond.js';

function resultJson(r: TxnResult): string {
  switch (r.kind) {
    case 'kv':
      return `{"KV":${kvEntryToJson(r.entry, r.withValue)}}`;
    case 'node':
      return JSON.stringify({ Node: r.node });
    case 'service':
      return JSON.stringify({ Service: r.service });
    case 'check':
      return JSON.stringify({ Check: checkJson(r.check) });
  }
}

/** Header carrying a transaction's idempotency key (Konsul extension). */
export const IDEMPOTENCY_HEADER = 'X-Konsul-Idempotency-Key';
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Consul's TxnResponse: 200 with every result the token may read (`visible`), or 409 with every
 * error (nothing applied).
 */
async function outcomeResponse(
  deps: ApiDeps,
  outcome: TxnOutcome,
  visible: (results: readonly TxnResult[]) => readonly TxnResult[],
  headers: Record<string, string> = {},
): Promise<Response> {
  if (outcome.replayed) headers = { ...headers, 'X-Konsul-Idempotent-Replay': String(outcome.replayed.index) };
  if (!outcome.ok) return jsonResponse(JSON.stringify({ Results: null, Errors: outcome.errors }), 409, headers);
  const results = await openResults(deps, visible(outcome.results));
  return jsonResponse(`{"Results":[${results.map(resultJson).join(',')}],"Errors":null}`, 200, headers);
}

/** The KV results that carry a value, opened (docs/SECRETS.md), once the token's filter has run. */
async function openResults(deps: ApiDeps, results: readonly TxnResult[]): Promise<readonly TxnResult[]> {
  const secrets = deps.secrets;
  if (!secrets) return results;
  const withValues = results.filter((r) => r.kind === 'kv' && r.withValue);
  if (withValues.length === 0) return results;
  const opened = await secrets.openEntries(withValues.map((r) => (r as Extract<TxnResult, { kind: 'kv' }>).entry));
  let i = 0;
  return results.map((r) => (r.kind === 'kv' && r.withValue ? { ...r, entry: opened[i++] as typeof r.entry } : r));
}

/**
 * Registers PUT /v1/txn: KV, Node, Service and Check operations applied all-or-nothing as one
 * committed command (every write at one index). A transaction that only reads is answered from
 * local state (with ?stale, ?consistent and the query-meta headers) without the write pipeline.
 */
export function registerTxnRoutes(app: Hono, deps: ApiDeps): void {
  route(app, 'PUT', '/v1/txn', async (c) => {
    const url = new URL(c.req.url);
    checkDatacenter(url, deps);
    // A write an edge agent queued while offline acts as its writer (the grant's), not the agent.
    await actUnderGrant(deps, c.req.raw);
    const body = await readJson(c.req.raw, deps.limits.txnMaxBytes, deps.bodyReader);
    const ops = parseTxn(
      body,
      { maxOps: deps.limits.txnMaxOps, maxValueBytes: deps.limits.kvMaxValueBytes },
      deps.node.datacenter,
    );
    const visible = (results: readonly TxnResult[]) => filterTxnResults(deps, c.req.raw, results);
    const idempotencyKey = c.req.header(IDEMPOTENCY_HEADER);
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new BadRequestError(`Invalid ${IDEMPOTENCY_HEADER}: 1 to 128 of letters, digits, ".", "_", ":" and "-"`);
    }
    // As Consul: operations the token may not do are the transaction's errors (409, nothing
    // applied); what gets return is filtered to what it may read.
    const denied = txnAccessErrors(deps, c.req.raw, ops, (node, id) =>
      deps.store.read((tx) => nodeServices(tx, node).value.services.find((s) => s.ID === id)?.Service),
    );
    if (denied.length > 0) return outcomeResponse(deps, { ok: false, errors: denied }, visible);
    // As Consul's pre-check: a lock on a key within a lock delay this server saw begin fails the transaction.
    const delayed: TxnError[] = [];
    ops.forEach((op, i) => {
      if (op.kind === 'kv' && op.verb === 'lock' && deps.lockDelays?.inDelay(op.key))
        delayed.push({ OpIndex: i, What: `failed to lock key ${JSON.stringify(op.key)} due to lock delay` });
    });
    if (delayed.length > 0) return outcomeResponse(deps, { ok: false, errors: delayed }, visible);
    if (ops.every(isReadOp)) {
      const options = parseReadOptions(url, deps);
      await consistentBarrier(deps, options);
      const { index, outcome } = deps.store.read((tx) => ({ index: readAppliedIndex(tx), outcome: readTxn(tx, ops) }));
      return outcomeResponse(deps, outcome, visible, readHeaders(deps, Math.max(1, index), options));
    }
    const command: TxnCommand = {
      type: 'txn',
      datacenter: deps.node.datacenter,
      ops,
      now: deps.clock.now(),
      ...(idempotencyKey ? { idempotencyKey } : {}),
    };
    const { index, value } = await deps.writer.submit<TxnOutcome>(command);
    return outcomeResponse(deps, value, visible, { 'X-Consul-Index': String(index) });
  });
}
