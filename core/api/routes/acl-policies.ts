import { route } from '../registry.js';
import type {
  AclPolicyDeleteCommand,
  AclPolicySetCommand,
  AclRoleDeleteCommand,
  AclRoleSetCommand,
} from '../../acl/commands.js';
import { getPolicy, getRole, listPolicies, listRoles, policyByName, roleByName } from '../../acl/queries.js';
import { parseRules } from '../../acl/rules.js';
import type { AclPolicy, AclRole } from '../../acl/types.js';
import { BadRequestError } from '../../errors.js';
import type { ReadTxn } from '../../ports/state-store.js';
import { randomUuid } from '../../util/uuid.js';
import { jsonResponse } from '../respond.js';
import { ACL_NAME, type AclRouteContext, optString, readAclBody, readLinks } from './acl-context.js';

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((d) => typeof d === 'string');

function parsePolicy(b: Record<string, unknown>, id: string): AclPolicySetCommand['policy'] {
  const name = optString(b, 'Name', 'Policy');
  if (!name || !ACL_NAME.test(name))
    throw new BadRequestError(
      'Invalid Policy: invalid Name. Only alphanumeric characters, "-" and "_" are allowed (at most 128)',
    );
  const rules = optString(b, 'Rules', 'Policy') ?? '';
  parseRules(rules);
  const dcs: unknown = b['Datacenters'] ?? [];
  if (!isStringList(dcs)) throw new BadRequestError('Invalid Policy: Datacenters must be a list of names');
  return {
    ID: id,
    Name: name,
    Description: optString(b, 'Description', 'Policy') ?? '',
    Rules: rules,
    Datacenters: dcs,
  };
}

function parseRole(b: Record<string, unknown>, id: string): AclRoleSetCommand['role'] {
  const name = optString(b, 'Name', 'Role');
  if (!name || !ACL_NAME.test(name))
    throw new BadRequestError(
      'Invalid Role: invalid Name. Only alphanumeric characters, "-" and "_" are allowed (at most 128)',
    );
  return {
    ID: id,
    Name: name,
    Description: optString(b, 'Description', 'Role') ?? '',
    Policies: readLinks(b, 'Policies', 'Role'),
  };
}

/** A policy list entry, as Consul's list shows it (no rules). */
function policyStub(p: AclPolicy): Omit<AclPolicy, 'Rules'> {
  const { Rules: _rules, ...rest } = p;
  return rest;
}

/** How the endpoints of one kind of named record (policy or role) parse, write and read it. */
interface NamedEndpoints<T extends { ModifyIndex: number }> {
  readonly path: 'policy' | 'role';
  readonly what: 'Policy' | 'Role';
  readonly set: (b: Record<string, unknown>, id: string, create: boolean) => AclPolicySetCommand | AclRoleSetCommand;
  readonly remove: (id: string) => AclPolicyDeleteCommand | AclRoleDeleteCommand;
  readonly get: (tx: ReadTxn, id: string) => T | undefined;
  readonly byName: (tx: ReadTxn, name: string) => T | undefined;
  readonly list: (tx: ReadTxn) => { index: number; value: T[] };
  readonly listItem: (item: T) => unknown;
}

/** Create, update, delete, read by ID or Name, and list, for policies and roles alike. */
function registerNamed<T extends { ModifyIndex: number }>(acl: AclRouteContext, k: NamedEndpoints<T>): void {
  const { app, deps } = acl;
  route(app, 'PUT', `/v1/acl/${k.path}`, async (c) => {
    acl.need(c.req.raw, 'write');
    const b = await readAclBody(c.req.raw, k.what);
    if (optString(b, 'ID', k.what))
      throw new BadRequestError(`Invalid ${k.what}: ID must be empty when creating a ${k.path}`);
    return jsonResponse(JSON.stringify(await acl.submit<T>(k.set(b, randomUuid(deps.rng), true))));
  });
  route(app, 'PUT', `/v1/acl/${k.path}/:id`, async (c) => {
    acl.need(c.req.raw, 'write');
    const id = c.req.param('id');
    const b = await readAclBody(c.req.raw, k.what);
    const bodyId = optString(b, 'ID', k.what);
    if (bodyId && bodyId !== id)
      throw new BadRequestError(`Invalid ${k.what}: the ID in the body does not match the URL`);
    return jsonResponse(JSON.stringify(await acl.submit<T>(k.set(b, id, false))));
  });
  route(app, 'DELETE', `/v1/acl/${k.path}/:id`, async (c) => {
    acl.need(c.req.raw, 'write');
    return acl.answer(k.remove(c.req.param('id')));
  });
  const one = (req: Request, label: string, find: (tx: ReadTxn) => T | undefined) => {
    acl.need(req, 'read');
    return acl.readOne(req, k.path, label, find);
  };
  route(app, 'GET', `/v1/acl/${k.path}/name/:name`, (c) =>
    one(c.req.raw, c.req.param('name'), (tx) => k.byName(tx, c.req.param('name'))),
  );
  route(app, 'GET', `/v1/acl/${k.path}/:id`, (c) =>
    one(c.req.raw, c.req.param('id'), (tx) => k.get(tx, c.req.param('id'))),
  );
  route(app, 'GET', `/v1/acl/${k.path === 'policy' ? 'policies' : 'roles'}`, (c) => {
    acl.need(c.req.raw, 'read');
    return acl.readList(c.req.raw, k.list, k.listItem);
  });
}

/**
 * Registers the policy and role endpoints: create (PUT without ID), update, delete, read by ID or
 * Name, and list (policies listed without their rules). Reads need `acl:read`, writes `acl:write`.
 */
export function registerAclPolicyRoutes(acl: AclRouteContext): void {
  registerNamed<AclPolicy>(acl, {
    path: 'policy',
    what: 'Policy',
    set: (b, id, create) => ({ type: 'acl.policy.set', policy: parsePolicy(b, id), create }),
    remove: (id) => ({ type: 'acl.policy.delete', id }),
    get: getPolicy,
    byName: policyByName,
    list: listPolicies,
    listItem: policyStub,
  });
  registerNamed<AclRole>(acl, {
    path: 'role',
    what: 'Role',
    set: (b, id, create) => ({ type: 'acl.role.set', role: parseRole(b, id), create }),
    remove: (id) => ({ type: 'acl.role.delete', id }),
    get: getRole,
    byName: roleByName,
    list: listRoles,
    listItem: (r) => r,
  });
}
