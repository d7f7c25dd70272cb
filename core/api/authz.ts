import { Authorizer } from '../acl/authorizer.js';
import { type AclIdentity, requestSecret } from '../acl/resolve.js';
import type { TokenVerdict } from '../acl/token-watch.js';
import type { NamedResource, ScalarResource } from '../acl/rules.js';
import { PermissionDeniedError } from '../errors.js';
import type { SyncScope } from '../sync/types.js';
import type { TxnError, TxnOp, TxnResult } from '../txn/types.js';
import type { ApiDeps } from './context.js';
import { requestSlot } from './request-slot.js';

const OPEN: AclIdentity = { token: undefined, authz: new Authorizer([], 'allow', true) };
const resolved = requestSlot<AclIdentity>('konsul.identity');

/** Header set when ACLs removed items from a read's answer (as Consul). */
export const FILTERED_HEADER = 'X-Consul-Results-Filtered-By-ACLs';

/**
 * Who `req` acts as: everyone may do everything while ACLs are off; otherwise the token the
 * request carries (or the anonymous token), resolved once per request. Throws 403 "ACL not found"
 * for an unknown or expired token.
 */
export function identityOf(deps: ApiDeps, req: Request): AclIdentity {
  const acl = deps.acl;
  if (!acl.settings.enabled) return OPEN;
  const hit = resolved.get(req);
  if (hit) return hit;
  const who = deps.store.read((tx) => acl.resolve(tx, requestSecret(req, new URL(req.url)), deps.clock.now()));
  resolved.set(req, who);
  return who;
}

function denied(who: AclIdentity, permission: string, name?: string): PermissionDeniedError {
  const by = who.token ? ` with AccessorID '${who.token.AccessorID}'` : '';
  const on = name === undefined ? '' : ` on ${JSON.stringify(name)}`;
  return new PermissionDeniedError(`Permission denied: token${by} lacks permission '${permission}'${on}`);
}

/**
 * Follows the token of a long-lived request (a watch or sync stream): `onChange` gets its identity
 * again whenever ACL data changes, or the reason it no longer holds (token deleted or expired).
 * Returns the function that stops following. A no-op with ACLs off or without a TokenWatch.
 */
export function followToken(deps: ApiDeps, req: Request, onChange: (verdict: TokenVerdict) => void): () => void {
  if (!deps.acl.settings.enabled || !deps.tokenWatch) return () => undefined;
  return deps.tokenWatch.watch(requestSecret(req, new URL(req.url)), (v) => {
    // The next identityOf gives the new identity, or (the token gone) throws "ACL not found".
    if (v.ok) resolved.set(req, v.identity);
    else resolved.clear(req);
    onChange(v);
  });
}

/**
 * Makes `req` act as `who` from now on (a replayed edge write acts as the writer its grant
 * names, not as the agent that sends it). Checks made before this stay made.
 */
export function actAs(req: Request, who: AclIdentity): void {
  resolved.set(req, who);
}

/** The identity already resolved for `req`, if any (for audit records; never resolves). */
export function resolvedIdentity(req: Request): AclIdentity | undefined {
  return resolved.get(req);
}

/** The checks each request passed (with ACLs on), so a blocking read can make them again. */
const passed = requestSlot<Array<(who: AclIdentity) => void>>('konsul.checks');

/** Makes `check` now, and remembers it for recheckAccess. */
function checked(deps: ApiDeps, req: Request, check: (who: AclIdentity) => void): void {
  const who = identityOf(deps, req);
  check(who);
  if (who === OPEN) return;
  const list = passed.get(req);
  if (!list) passed.set(req, [check]);
  else if (list.length < 64) list.push(check);
}

/**
 * Makes every check `req` passed again with its token's identity now (its token changed while it
 * waited): throws 403 for the first one that fails, or "ACL not found" when the token is gone.
 */
export function recheckAccess(deps: ApiDeps, req: Request): void {
  const who = identityOf(deps, req);
  for (const check of passed.get(req) ?? []) check(who);
}

/** Throws 403 unless the request's token may `want` the `name` of `resource`. */
export function requireAccess(
  deps: ApiDeps,
  req: Request,
  resource: NamedResource,
  name: string,
  want: 'read' | 'list' | 'write',
): void {
  if (!deps.acl.settings.enabled) return;
  checked(deps, req, (who) => {
    if (!who.authz.decide(resource, name, want).allowed) throw denied(who, `${resource}:${want}`, name);
  });
}

/** Throws 403 unless the request's token may `want` a whole-resource permission (operator, acl…). */
export function requireScalar(deps: ApiDeps, req: Request, resource: ScalarResource, want: 'read' | 'write'): void {
  if (!deps.acl.settings.enabled) return;
  checked(deps, req, (who) => {
    if (!who.authz.decideScalar(resource, want).allowed) throw denied(who, `${resource}:${want}`);
  });
}

/** Throws 403 unless `want` is allowed on every key under `prefix` (recursive deletes, whole-tree reads). */
export function requireKeyAllUnder(deps: ApiDeps, req: Request, prefix: string, want: 'read' | 'write'): void {
  if (!deps.acl.settings.enabled) return;
  checked(deps, req, (who) => {
    if (!who.authz.allUnder('key', prefix, want).allowed) throw denied(who, `key:${want}`, prefix);
  });
}

/**
 * The first part of a replica's scope that `authz` may not read — a prefix not readable all the
 * way down, or a service — or undefined when the whole scope is readable. Edge sync over HTTP and
 * over MQTT both ask this.
 */
export function unreadableInScope(
  authz: Authorizer,
  scope: SyncScope,
): { readonly permission: string; readonly name: string } | undefined {
  for (const p of scope.prefixes)
    if (!authz.allUnder('key', p, 'read').allowed) return { permission: 'key:read', name: p };
  for (const s of scope.services) if (!authz.canRead('service', s)) return { permission: 'service:read', name: s };
  return undefined;
}

/** Throws 403 unless the request's token may read the whole scope (see unreadableInScope). */
export function requireScopeReadable(deps: ApiDeps, req: Request, scope: SyncScope): void {
  if (!deps.acl.settings.enabled) return;
  checked(deps, req, (who) => {
    const gap = unreadableInScope(who.authz, scope);
    if (gap) throw denied(who, gap.permission, gap.name);
  });
}

/**
 * Keeps the items the request's token may read (`nameOf` gives each item's resource and name,
 * or several that must all be readable). `filtered` tells whether anything was removed.
 */
export function filterReadable<T>(
  deps: ApiDeps,
  req: Request,
  items: readonly T[],
  nameOf: (item: T) => ReadonlyArray<readonly [NamedResource, string]>,
): { items: readonly T[]; filtered: boolean } {
  const who = identityOf(deps, req);
  if (who === OPEN) return { items, filtered: false };
  const kept = items.filter((i) => nameOf(i).every(([r, n]) => who.authz.canRead(r, n)));
  return { items: kept, filtered: kept.length !== items.length };
}

/**
 * Checks every operation of a transaction before anything is applied or read, as Consul's
 * Txn.preCheck does: writes need write (KV on the key, delete-tree on the whole tree; catalog
 * operations on their node, service — by name, looked up by ID when the operation gives none — or
 * check: its service, else its node), KV check-index/check-session/check-not-exists need
 * key:read. Returns one TxnError ("Permission denied: …") per refused operation, which the
 * transaction answers in its 409 body; gets are not refused but filtered (filterTxnResults).
 */
export function txnAccessErrors(
  deps: ApiDeps,
  req: Request,
  ops: readonly TxnOp[],
  serviceName: (node: string, id: string) => string | undefined,
): TxnError[] {
  if (identityOf(deps, req) === OPEN) return [];
  const errors: TxnError[] = [];
  ops.forEach((op, i) => {
    if (op.verb === 'get' || op.verb === 'get-tree') return;
    const want = op.verb.startsWith('check-') ? 'read' : 'write';
    try {
      switch (op.kind) {
        case 'kv':
          if (op.verb === 'delete-tree') requireKeyAllUnder(deps, req, op.key, want);
          else requireAccess(deps, req, 'key', op.key, want);
          break;
        case 'node':
          requireAccess(deps, req, 'node', op.node.Node, want);
          break;
        case 'service': {
          const name = op.service.Service || serviceName(op.node, op.service.ID);
          if (name) requireAccess(deps, req, 'service', name, want);
          else requireAccess(deps, req, 'node', op.node, want);
          break;
        }
        case 'check': {
          const name = op.check.ServiceID ? serviceName(op.node, op.check.ServiceID) : undefined;
          if (name) requireAccess(deps, req, 'service', name, want);
          else requireAccess(deps, req, 'node', op.node, want);
          break;
        }
      }
    } catch (err) {
      if (!(err instanceof PermissionDeniedError)) throw err;
      errors.push({ OpIndex: i, What: err.message });
    }
  });
  return errors;
}

/**
 * The results of a transaction the request's token may read (Consul's FilterTxnResults): KV
 * entries by key, nodes by name, services by service name, checks by their service (else node).
 */
export function filterTxnResults(deps: ApiDeps, req: Request, results: readonly TxnResult[]): readonly TxnResult[] {
  return filterReadable(deps, req, results, (r) => {
    switch (r.kind) {
      case 'kv':
        return [['key', r.entry.key]];
      case 'node':
        return [['node', r.node.Node]];
      case 'service':
        return [['service', r.service.Service]];
      case 'check':
        return r.check.ServiceName ? [['service', r.check.ServiceName]] : [['node', r.check.Node]];
    }
  }).items;
}
