import type { Hono } from 'hono';
import { type AclIdentity, requestSecret } from '../../acl/resolve.js';
import { parseRules } from '../../acl/rules.js';
import type {
  AclAuthMethodDeleteCommand,
  AclAuthMethodSetCommand,
  AclBindingRuleDeleteCommand,
  AclBindingRuleSetCommand,
  AclBootstrapCommand,
  AclPolicySetCommand,
  AclRoleSetCommand,
  AclTokenDeleteCommand,
  AclTokenSetCommand,
} from '../../acl/commands.js';
import {
  getAuthMethod,
  getBindingRule,
  getPolicy,
  getRole,
  listAuthMethods,
  listBindingRules,
  listPolicies,
  listRoles,
  listTokens,
  policyByName,
  roleByName,
  tokenByAccessor,
} from '../../acl/queries.js';
import { ACL_WATCH_TABLE, type AclPolicy, type AclRole, type AclToken } from '../../acl/types.js';
import { AclDisabledError, BadRequestError, NotFoundError, PermissionDeniedError } from '../../errors.js';
import { bindings, checkSelector, parseJwtConfig, verifyLogin } from '../../acl/auth-method.js';
import { parseDuration } from '../../util/duration.js';
import { isUuid, randomUuid } from '../../util/uuid.js';
import { readJson } from '../body.js';
import type { ReadTxn } from '../../ports/state-store.js';
import type { ApiDeps } from '../context.js';
import { checkDatacenter } from '../query.js';
import { indexedRead } from '../read.js';
import { jsonResponse } from '../respond.js';

/** Largest ACL request body (policies carry rules text). */
const MAX_ACL_BODY = 256 * 1024;
const NAME = /^[A-Za-z0-9_-]{1,128}$/;
const HIDDEN = '<hidden>';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function optString(body: Record<string, unknown>, field: string, what: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BadRequestError(`Invalid ${what}: ${field} must be a string`);
  return v;
}

function links(body: Record<string, unknown>, field: string, what: string): Array<{ ID?: string; Name?: string }> {
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

async function body(req: Request, what: string): Promise<Record<string, unknown>> {
  const b = await readJson(req, MAX_ACL_BODY);
  if (!isObj(b)) throw new BadRequestError(`Invalid ${what}: the body must be a JSON object`);
  return b;
}

function parsePolicy(b: Record<string, unknown>, id: string): AclPolicySetCommand['policy'] {
  const name = optString(b, 'Name', 'Policy');
  if (!name || !NAME.test(name))
    throw new BadRequestError(
      'Invalid Policy: invalid Name. Only alphanumeric characters, "-" and "_" are allowed (at most 128)',
    );
  const rules = optString(b, 'Rules', 'Policy') ?? '';
  parseRules(rules);
  const dcs = b['Datacenters'];
  if (dcs !== undefined && dcs !== null && (!Array.isArray(dcs) || !dcs.every((d) => typeof d === 'string')))
    throw new BadRequestError('Invalid Policy: Datacenters must be a list of names');
  return {
    ID: id,
    Name: name,
    Description: optString(b, 'Description', 'Policy') ?? '',
    Rules: rules,
    Datacenters: (dcs as string[] | undefined | null) ?? [],
  };
}

function parseRole(b: Record<string, unknown>, id: string): AclRoleSetCommand['role'] {
  const name = optString(b, 'Name', 'Role');
  if (!name || !NAME.test(name))
    throw new BadRequestError(
      'Invalid Role: invalid Name. Only alphanumeric characters, "-" and "_" are allowed (at most 128)',
    );
  return {
    ID: id,
    Name: name,
    Description: optString(b, 'Description', 'Role') ?? '',
    Policies: links(b, 'Policies', 'Role'),
  };
}

/** A token as shown to a caller: the secret only to those who may write ACLs (or to its holder). */
function tokenJson(t: AclToken, showSecret: boolean): AclToken {
  return { ...t, SecretID: showSecret ? t.SecretID : HIDDEN };
}

/** A policy list entry, as Consul's list shows it (no rules). */
function policyStub(p: AclPolicy): Omit<AclPolicy, 'Rules'> {
  const { Rules: _rules, ...rest } = p;
  return rest;
}

/**
 * Registers Consul's ACL endpoints: bootstrap, policies, roles and tokens (create, read, update,
 * delete, list, `token/self`). Reads need `acl:read`, writes `acl:write` (bootstrap needs
 * nothing, and works once). With ACLs off every endpoint answers 401 "ACL support disabled".
 */
export function registerAclRoutes(app: Hono, deps: ApiDeps): void {
  const identity = (req: Request): AclIdentity => {
    const acl = deps.acl;
    if (!acl?.settings.enabled) throw new AclDisabledError();
    return deps.store.read((tx) => acl.resolve(tx, requestSecret(req, new URL(req.url)), deps.clock.now()));
  };
  const need = (req: Request, want: 'read' | 'write'): AclIdentity => {
    const who = identity(req);
    if (!who.authz.decideScalar('acl', want).allowed)
      throw new PermissionDeniedError(`Permission denied: token lacks permission 'acl:${want}'`);
    return who;
  };
  const watch = { table: ACL_WATCH_TABLE, prefix: '' };
  const submit = async <T>(command: { type: string }): Promise<T> =>
    (await deps.writer.submit<T>(command as never)).value;
  /** Submits `command` and answers its result as JSON. */
  const answer = async (command: { type: string }): Promise<Response> =>
    jsonResponse(JSON.stringify(await submit(command)));

  app.put('/v1/acl/bootstrap', async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    if (!deps.acl?.settings.enabled) throw new AclDisabledError();
    const command: AclBootstrapCommand = {
      type: 'acl.bootstrap',
      accessorId: randomUuid(deps.rng),
      secretId: randomUuid(deps.rng),
      now: deps.clock.now(),
    };
    const token = await submit<AclToken>(command);
    deps.logger.info('ACL bootstrapped', { accessor: token.AccessorID });
    return jsonResponse(JSON.stringify(token));
  });

  /** A blocking read of one record at its ModifyIndex; 404 naming it when there is none. */
  const readOne = <T extends { ModifyIndex: number }>(
    req: Request,
    what: string,
    label: string,
    find: (tx: ReadTxn) => T | undefined,
    render: (v: T) => unknown = (v) => v,
  ) =>
    indexedRead(
      deps,
      req,
      watch,
      (tx) => {
        const v = find(tx);
        return { index: Math.max(1, v?.ModifyIndex ?? 1), value: v };
      },
      (v) => (v ? render(v) : { status: 404, body: `ACL ${what} not found: ${JSON.stringify(label)}` }),
    );
  /** A blocking read of a list at its table's index. */
  const readList = <T>(
    req: Request,
    list: (tx: ReadTxn) => { index: number; value: T[] },
    render: (v: T) => unknown = (v) => v,
  ) =>
    indexedRead(
      deps,
      req,
      watch,
      (tx) => {
        const r = list(tx);
        return { index: Math.max(1, r.index), value: r.value };
      },
      (l) => l.map(render),
    );

  /** Create, update, delete, read by ID or Name, and list, for policies and roles alike. */
  const named = <T extends { ModifyIndex: number }>(k: {
    path: 'policy' | 'role';
    what: 'Policy' | 'Role';
    parse: (b: Record<string, unknown>, id: string) => unknown;
    setType: 'acl.policy.set' | 'acl.role.set';
    deleteType: 'acl.policy.delete' | 'acl.role.delete';
    get: (tx: ReadTxn, id: string) => T | undefined;
    byName: (tx: ReadTxn, name: string) => T | undefined;
    list: (tx: ReadTxn) => { index: number; value: T[] };
    listItem: (item: T) => unknown;
  }): void => {
    const set = (b: Record<string, unknown>, id: string, create: boolean) =>
      submit<T>({ type: k.setType, [k.path]: k.parse(b, id), create } as { type: string });
    app.put(`/v1/acl/${k.path}`, async (c) => {
      need(c.req.raw, 'write');
      const b = await body(c.req.raw, k.what);
      if (optString(b, 'ID', k.what))
        throw new BadRequestError(`Invalid ${k.what}: ID must be empty when creating a ${k.path}`);
      return jsonResponse(JSON.stringify(await set(b, randomUuid(deps.rng), true)));
    });
    app.put(`/v1/acl/${k.path}/:id`, async (c) => {
      need(c.req.raw, 'write');
      const id = c.req.param('id');
      const b = await body(c.req.raw, k.what);
      const bodyId = optString(b, 'ID', k.what);
      if (bodyId && bodyId !== id)
        throw new BadRequestError(`Invalid ${k.what}: the ID in the body does not match the URL`);
      return jsonResponse(JSON.stringify(await set(b, id, false)));
    });
    app.delete(`/v1/acl/${k.path}/:id`, async (c) => {
      need(c.req.raw, 'write');
      return answer({ type: k.deleteType, id: c.req.param('id') } as { type: string });
    });
    const one = (req: Request, label: string, find: (tx: ReadTxn) => T | undefined) => {
      need(req, 'read');
      return readOne(req, k.path, label, find);
    };
    app.get(`/v1/acl/${k.path}/name/:name`, (c) =>
      one(c.req.raw, c.req.param('name'), (tx) => k.byName(tx, c.req.param('name'))),
    );
    app.get(`/v1/acl/${k.path}/:id`, (c) => one(c.req.raw, c.req.param('id'), (tx) => k.get(tx, c.req.param('id'))));
    app.get(`/v1/acl/${k.path === 'policy' ? 'policies' : 'roles'}`, (c) => {
      need(c.req.raw, 'read');
      return readList(c.req.raw, k.list, k.listItem);
    });
  };
  named<AclPolicy>({
    path: 'policy',
    what: 'Policy',
    parse: parsePolicy,
    setType: 'acl.policy.set',
    deleteType: 'acl.policy.delete',
    get: getPolicy,
    byName: policyByName,
    list: listPolicies,
    listItem: policyStub,
  });
  named<AclRole>({
    path: 'role',
    what: 'Role',
    parse: parseRole,
    setType: 'acl.role.set',
    deleteType: 'acl.role.delete',
    get: getRole,
    byName: roleByName,
    list: listRoles,
    listItem: (r) => r,
  });

  // ---- auth methods, binding rules, login ----
  const parseMethod = async (b: Record<string, unknown>, name: string): Promise<AclAuthMethodSetCommand['method']> => {
    if (!NAME.test(name))
      throw new BadRequestError(
        'Invalid Auth Method: invalid Name. Only alphanumeric characters, "-" and "_" are allowed (at most 128)',
      );
    if (b['Type'] !== 'jwt')
      throw new BadRequestError('Invalid Auth Method: Type must be "jwt" (the only type supported)');
    const ttl = optString(b, 'MaxTokenTTL', 'Auth Method') ?? '';
    if (ttl !== '' && !((parseDuration(ttl) ?? 0) > 0))
      throw new BadRequestError(`Invalid Auth Method: MaxTokenTTL ${JSON.stringify(ttl)} is not a positive duration`);
    return {
      Name: name,
      Type: 'jwt',
      DisplayName: optString(b, 'DisplayName', 'Auth Method') ?? '',
      Description: optString(b, 'Description', 'Auth Method') ?? '',
      MaxTokenTTL: ttl,
      Config: await parseJwtConfig(b['Config']),
    };
  };
  app.put('/v1/acl/auth-method', async (c) => {
    need(c.req.raw, 'write');
    const b = await body(c.req.raw, 'Auth Method');
    const command: AclAuthMethodSetCommand = {
      type: 'acl.auth-method.set',
      method: await parseMethod(b, optString(b, 'Name', 'Auth Method') ?? ''),
      create: true,
    };
    return answer(command);
  });
  app.put('/v1/acl/auth-method/:name', async (c) => {
    need(c.req.raw, 'write');
    const b = await body(c.req.raw, 'Auth Method');
    const command: AclAuthMethodSetCommand = {
      type: 'acl.auth-method.set',
      method: await parseMethod(b, c.req.param('name')),
      create: false,
    };
    return answer(command);
  });
  app.delete('/v1/acl/auth-method/:name', async (c) => {
    need(c.req.raw, 'write');
    const command: AclAuthMethodDeleteCommand = { type: 'acl.auth-method.delete', name: c.req.param('name') };
    return answer(command);
  });
  app.get('/v1/acl/auth-method/:name', (c) => {
    need(c.req.raw, 'read');
    const name = c.req.param('name');
    return readOne(c.req.raw, 'auth method', name, (tx) => getAuthMethod(tx, name));
  });
  app.get('/v1/acl/auth-methods', (c) => {
    need(c.req.raw, 'read');
    return readList(c.req.raw, listAuthMethods);
  });

  const parseRule = (b: Record<string, unknown>, id: string): AclBindingRuleSetCommand['rule'] => {
    const method = optString(b, 'AuthMethod', 'Binding Rule');
    if (!method) throw new BadRequestError('Invalid Binding Rule: AuthMethod is required');
    const bindType = b['BindType'];
    if (bindType !== 'role' && bindType !== 'policy')
      throw new BadRequestError('Invalid Binding Rule: BindType must be "role" or "policy"');
    const bindName = optString(b, 'BindName', 'Binding Rule');
    if (!bindName) throw new BadRequestError('Invalid Binding Rule: BindName is required');
    const selector = optString(b, 'Selector', 'Binding Rule') ?? '';
    checkSelector(selector);
    return {
      ID: id,
      Description: optString(b, 'Description', 'Binding Rule') ?? '',
      AuthMethod: method,
      Selector: selector,
      BindType: bindType,
      BindName: bindName,
    };
  };
  app.put('/v1/acl/binding-rule', async (c) => {
    need(c.req.raw, 'write');
    const command: AclBindingRuleSetCommand = {
      type: 'acl.binding-rule.set',
      rule: parseRule(await body(c.req.raw, 'Binding Rule'), randomUuid(deps.rng)),
      create: true,
    };
    return answer(command);
  });
  app.put('/v1/acl/binding-rule/:id', async (c) => {
    need(c.req.raw, 'write');
    const command: AclBindingRuleSetCommand = {
      type: 'acl.binding-rule.set',
      rule: parseRule(await body(c.req.raw, 'Binding Rule'), c.req.param('id')),
      create: false,
    };
    return answer(command);
  });
  app.delete('/v1/acl/binding-rule/:id', async (c) => {
    need(c.req.raw, 'write');
    const command: AclBindingRuleDeleteCommand = { type: 'acl.binding-rule.delete', id: c.req.param('id') };
    return answer(command);
  });
  app.get('/v1/acl/binding-rule/:id', (c) => {
    need(c.req.raw, 'read');
    const id = c.req.param('id');
    return readOne(c.req.raw, 'binding rule', id, (tx) => getBindingRule(tx, id));
  });
  app.get('/v1/acl/binding-rules', (c) => {
    need(c.req.raw, 'read');
    const method = new URL(c.req.url).searchParams.get('authmethod') || undefined;
    return readList(c.req.raw, (tx) => listBindingRules(tx, method));
  });

  const login = async (req: Request): Promise<Response> => {
    if (!deps.acl?.settings.enabled) throw new AclDisabledError();
    const b = await body(req, 'Login');
    const name = optString(b, 'AuthMethod', 'Login');
    const bearer = optString(b, 'BearerToken', 'Login');
    if (!name || !bearer) throw new BadRequestError('Invalid Login: AuthMethod and BearerToken are required');
    const found = deps.store.read((tx) => ({
      method: getAuthMethod(tx, name),
      rules: listBindingRules(tx, name).value,
    }));
    if (!found.method) throw new NotFoundError(`ACL auth method not found: ${JSON.stringify(name)}`);
    const identity = await verifyLogin(found.method, bearer, deps.clock.now());
    const bound = bindings(found.rules, identity);
    // Names that do not exist (yet) bind nothing, as in Consul.
    const exists = deps.store.read((tx) => ({
      roles: bound.roles.filter((r) => roleByName(tx, r)),
      policies: bound.policies.filter((p) => policyByName(tx, p)),
    }));
    if (exists.roles.length === 0 && exists.policies.length === 0)
      throw new PermissionDeniedError(
        'Permission denied: no binding rule of this auth method gives this token a role or policy',
      );
    const ttl = found.method.MaxTokenTTL ? parseDuration(found.method.MaxTokenTTL) : undefined;
    const command: AclTokenSetCommand = {
      type: 'acl.token.set',
      token: {
        AccessorID: randomUuid(deps.rng),
        SecretID: randomUuid(deps.rng),
        Description: `token created via login: ${name}`,
        Policies: exists.policies.map((Name) => ({ Name })),
        Roles: exists.roles.map((Name) => ({ Name })),
        Local: false,
        AuthMethod: name,
        ...(ttl ? { ExpirationTime: new Date(deps.clock.now() + ttl).toISOString() } : {}),
      },
      create: true,
      now: deps.clock.now(),
    };
    const token = await submit<AclToken>(command);
    deps.logger.info('ACL login', { auth_method: name, accessor: token.AccessorID });
    return jsonResponse(JSON.stringify(token));
  };
  app.post('/v1/acl/login', (c) => login(c.req.raw));
  app.put('/v1/acl/login', (c) => login(c.req.raw));
  const logout = async (req: Request): Promise<Response> => {
    const who = identity(req);
    if (!who.token?.AuthMethod)
      throw new PermissionDeniedError('Permission denied: only tokens made by /v1/acl/login can log out');
    const command: AclTokenDeleteCommand = { type: 'acl.token.delete', accessorId: who.token.AccessorID };
    await submit<boolean>(command);
    return new Response(null, { status: 200 });
  };
  app.post('/v1/acl/logout', (c) => logout(c.req.raw));
  app.put('/v1/acl/logout', (c) => logout(c.req.raw));

  // ---- tokens ----
  const parseToken = (b: Record<string, unknown>, accessor: string, create: boolean): AclTokenSetCommand['token'] => {
    const secret = optString(b, 'SecretID', 'Token');
    if (secret !== undefined && !create) throw new BadRequestError('Invalid Token: SecretID cannot be changed');
    if (secret !== undefined && !isUuid(secret)) throw new BadRequestError('Invalid Token: SecretID must be a UUID');
    const ttlText = optString(b, 'ExpirationTTL', 'Token');
    const at = optString(b, 'ExpirationTime', 'Token');
    let expiration: string | undefined;
    if (ttlText !== undefined && at !== undefined)
      throw new BadRequestError('Invalid Token: give ExpirationTTL or ExpirationTime, not both');
    if (ttlText !== undefined) {
      const ms = parseDuration(ttlText);
      if (ms === undefined || ms <= 0)
        throw new BadRequestError(`Invalid Token: ExpirationTTL ${JSON.stringify(ttlText)} is not a positive duration`);
      expiration = new Date(deps.clock.now() + ms).toISOString();
    } else if (at !== undefined) {
      const t = Date.parse(at);
      if (Number.isNaN(t) || t <= deps.clock.now())
        throw new BadRequestError('Invalid Token: ExpirationTime must be a time in the future');
      expiration = new Date(t).toISOString();
    }
    if (expiration !== undefined && !create)
      throw new BadRequestError('Invalid Token: the expiration cannot be changed');
    const local = b['Local'];
    if (local !== undefined && typeof local !== 'boolean')
      throw new BadRequestError('Invalid Token: Local must be true or false');
    return {
      AccessorID: accessor,
      SecretID: secret ?? randomUuid(deps.rng),
      Description: optString(b, 'Description', 'Token') ?? '',
      Policies: links(b, 'Policies', 'Token'),
      Roles: links(b, 'Roles', 'Token'),
      Local: local === true,
      ...(expiration ? { ExpirationTime: expiration } : {}),
    };
  };

  app.put('/v1/acl/token', async (c) => {
    need(c.req.raw, 'write');
    const b = await body(c.req.raw, 'Token');
    const accessor = optString(b, 'AccessorID', 'Token');
    if (accessor !== undefined && !isUuid(accessor))
      throw new BadRequestError('Invalid Token: AccessorID must be a UUID');
    const command: AclTokenSetCommand = {
      type: 'acl.token.set',
      token: parseToken(b, accessor ?? randomUuid(deps.rng), true),
      create: true,
      now: deps.clock.now(),
    };
    return answer(command);
  });
  app.get('/v1/acl/token/self', (c) => {
    const who = identity(c.req.raw);
    return jsonResponse(JSON.stringify(who.token));
  });
  app.put('/v1/acl/token/:id', async (c) => {
    need(c.req.raw, 'write');
    const id = c.req.param('id');
    const b = await body(c.req.raw, 'Token');
    const bodyId = optString(b, 'AccessorID', 'Token');
    if (bodyId && bodyId !== id)
      throw new BadRequestError('Invalid Token: the AccessorID in the body does not match the URL');
    const command: AclTokenSetCommand = {
      type: 'acl.token.set',
      token: parseToken(b, id, false),
      create: false,
      now: deps.clock.now(),
    };
    return answer(command);
  });
  app.delete('/v1/acl/token/:id', async (c) => {
    need(c.req.raw, 'write');
    const command: AclTokenDeleteCommand = { type: 'acl.token.delete', accessorId: c.req.param('id') };
    return answer(command);
  });
  app.get('/v1/acl/token/:id', (c) => {
    const who = need(c.req.raw, 'read');
    const write = who.authz.decideScalar('acl', 'write').allowed;
    const id = c.req.param('id');
    return readOne(
      c.req.raw,
      'token',
      id,
      (tx) => tokenByAccessor(tx, id),
      (t) => tokenJson(t, write),
    );
  });
  app.get('/v1/acl/tokens', (c) => {
    const who = need(c.req.raw, 'read');
    const write = who.authz.decideScalar('acl', 'write').allowed;
    return readList(c.req.raw, listTokens, (t) => tokenJson(t, write));
  });
}
