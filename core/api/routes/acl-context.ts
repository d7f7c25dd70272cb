import type { Hono } from 'hono';
import type { AclCommand, AclLinkInput } from '../../acl/commands.js';
import { type AclIdentity, requestSecret } from '../../acl/resolve.js';
import { ACL_WATCH_TABLE } from '../../acl/types.js';
import { AclDisabledError, BadRequestError, PermissionDeniedError } from '../../errors.js';
import type { ReadTxn } from '../../ports/state-store.js';
import { readJson } from '../body.js';
import type { ApiDeps } from '../context.js';
import { indexedRead } from '../read.js';
import { jsonResponse } from '../respond.js';

/** Largest ACL request body (policies carry rules text). */
const MAX_ACL_BODY = 256 * 1024;

/** Names of policies, roles and auth methods: letters, digits, `-` and `_`, 1 to 128 of them. */
export const ACL_NAME = /^[A-Za-z0-9_-]{1,128}$/;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What every ACL endpoint uses: the app and its dependencies, the caller's identity and permission
 * checks, command submission and blocking reads over the ACL watch table.
 */
export interface AclRouteContext {
  readonly app: Hono;
  readonly deps: ApiDeps;
  /** The caller's identity from its token. Throws AclDisabledError while ACLs are off. */
  identity(req: Request): AclIdentity;
  /** The caller's identity if it holds `acl:<want>`; PermissionDeniedError otherwise. */
  need(req: Request, want: 'read' | 'write'): AclIdentity;
  /** Submits `command` through the write pipeline and resolves with its result. */
  submit<T>(command: AclCommand): Promise<T>;
  /** Submits `command` and answers its result as JSON. */
  answer(command: AclCommand): Promise<Response>;
  /** A blocking read of one record at its ModifyIndex; 404 naming `what` and `label` when there is none. */
  readOne<T extends { ModifyIndex: number }>(
    req: Request,
    what: string,
    label: string,
    find: (tx: ReadTxn) => T | undefined,
    render?: (v: T) => unknown,
  ): Promise<Response>;
  /** A blocking read of a list at its table's index, each item rendered by `render`. */
  readList<T>(
    req: Request,
    list: (tx: ReadTxn) => { index: number; value: T[] },
    render?: (v: T) => unknown,
  ): Promise<Response>;
}

/** Builds the context the ACL endpoint groups share. */
export function aclRouteContext(app: Hono, deps: ApiDeps): AclRouteContext {
  const watch = { table: ACL_WATCH_TABLE, prefix: '' };
  const identity = (req: Request): AclIdentity => {
    const acl = deps.acl;
    if (!acl.settings.enabled) throw new AclDisabledError();
    return deps.store.read((tx) => acl.resolve(tx, requestSecret(req, new URL(req.url)), deps.clock.now()));
  };
  const submit = async <T>(command: AclCommand): Promise<T> => (await deps.writer.submit<T, AclCommand>(command)).value;
  return {
    app,
    deps,
    identity,
    need(req, want) {
      const who = identity(req);
      if (!who.authz.decideScalar('acl', want).allowed)
        throw new PermissionDeniedError(`Permission denied: token lacks permission 'acl:${want}'`);
      return who;
    },
    submit,
    answer: async (command) => jsonResponse(JSON.stringify(await submit(command))),
    readOne: (req, what, label, find, render = (v) => v) =>
      indexedRead(
        deps,
        req,
        watch,
        (tx) => {
          const v = find(tx);
          return { index: Math.max(1, v?.ModifyIndex ?? 1), value: v };
        },
        (v) => (v ? render(v) : { status: 404, body: `ACL ${what} not found: ${JSON.stringify(label)}` }),
      ),
    readList: (req, list, render = (v) => v) =>
      indexedRead(
        deps,
        req,
        watch,
        (tx) => {
          const r = list(tx);
          return { index: Math.max(1, r.index), value: r.value };
        },
        (l) => l.map(render),
      ),
  };
}

/** Reads an ACL request body: a JSON object of at most 256 KiB. BadRequestError naming `what` otherwise. */
export async function readAclBody(req: Request, what: string): Promise<Record<string, unknown>> {
  const b = await readJson(req, MAX_ACL_BODY);
  if (!isObj(b)) throw new BadRequestError(`Invalid ${what}: the body must be a JSON object`);
  return b;
}

/** `body[field]` as a string, undefined when absent or null; BadRequestError naming it otherwise. */
export function optString(body: Record<string, unknown>, field: string, what: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BadRequestError(`Invalid ${what}: ${field} must be a string`);
  return v;
}

/**
 * `body[field]` as a list of at most 256 links, each with a non-empty ID or Name ([] when absent);
 * BadRequestError naming the field otherwise.
 */
export function readLinks(body: Record<string, unknown>, field: string, what: string): AclLinkInput[] {
  const v = body[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > 256)
    throw new BadRequestError(`Invalid ${what}: ${field} must be a list of at most 256 links`);
  return v.map((l, i) => {
    if (!isObj(l)) throw new BadRequestError(`Invalid ${what}: ${field}[${i}] must be an object with ID or Name`);
    const id = optString(l, 'ID', what);
    const name = optString(l, 'Name', what);
    if (!id && !name) throw new BadRequestError(`Invalid ${what}: ${field}[${i}] needs an ID or a Name`);
    return { ...(id ? { ID: id } : {}), ...(name ? { Name: name } : {}) };
  });
}
