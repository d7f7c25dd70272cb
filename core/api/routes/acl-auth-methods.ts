import { route } from '../registry.js';
import { checkSelector, parseJwtConfig } from '../../acl/auth-method.js';
import type { AclAuthMethodSetCommand, AclBindingRuleSetCommand } from '../../acl/commands.js';
import { getAuthMethod, getBindingRule, listAuthMethods, listBindingRules } from '../../acl/queries.js';
import { BadRequestError } from '../../errors.js';
import { parseDuration } from '../../util/duration.js';
import { randomUuid } from '../../util/uuid.js';
import { ACL_NAME, type AclRouteContext, optString, readAclBody } from './acl-context.js';

async function parseMethod(b: Record<string, unknown>, name: string): Promise<AclAuthMethodSetCommand['method']> {
  if (!ACL_NAME.test(name))
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
}

function parseRule(b: Record<string, unknown>, id: string): AclBindingRuleSetCommand['rule'] {
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
}

/**
 * Registers the auth method endpoints (create, update, delete, read, list; only type `jwt`, its
 * Config validated by importing its keys) and the binding rule endpoints (the same, the list
 * filtered by `?authmethod=`). Reads need `acl:read`, writes `acl:write`.
 */
export function registerAclAuthMethodRoutes(acl: AclRouteContext): void {
  const { app, deps } = acl;
  route(app, 'PUT', '/v1/acl/auth-method', async (c) => {
    acl.need(c.req.raw, 'write');
    const b = await readAclBody(c.req.raw, 'Auth Method');
    return acl.answer({
      type: 'acl.auth-method.set',
      method: await parseMethod(b, optString(b, 'Name', 'Auth Method') ?? ''),
      create: true,
    });
  });
  route(app, 'PUT', '/v1/acl/auth-method/:name', async (c) => {
    acl.need(c.req.raw, 'write');
    const b = await readAclBody(c.req.raw, 'Auth Method');
    return acl.answer({
      type: 'acl.auth-method.set',
      method: await parseMethod(b, c.req.param('name')),
      create: false,
    });
  });
  route(app, 'DELETE', '/v1/acl/auth-method/:name', async (c) => {
    acl.need(c.req.raw, 'write');
    return acl.answer({ type: 'acl.auth-method.delete', name: c.req.param('name') });
  });
  route(app, 'GET', '/v1/acl/auth-method/:name', (c) => {
    acl.need(c.req.raw, 'read');
    const name = c.req.param('name');
    return acl.readOne(c.req.raw, 'auth method', name, (tx) => getAuthMethod(tx, name));
  });
  route(app, 'GET', '/v1/acl/auth-methods', (c) => {
    acl.need(c.req.raw, 'read');
    return acl.readList(c.req.raw, listAuthMethods);
  });

  route(app, 'PUT', '/v1/acl/binding-rule', async (c) => {
    acl.need(c.req.raw, 'write');
    return acl.answer({
      type: 'acl.binding-rule.set',
      rule: parseRule(await readAclBody(c.req.raw, 'Binding Rule'), randomUuid(deps.rng)),
      create: true,
    });
  });
  route(app, 'PUT', '/v1/acl/binding-rule/:id', async (c) => {
    acl.need(c.req.raw, 'write');
    return acl.answer({
      type: 'acl.binding-rule.set',
      rule: parseRule(await readAclBody(c.req.raw, 'Binding Rule'), c.req.param('id')),
      create: false,
    });
  });
  route(app, 'DELETE', '/v1/acl/binding-rule/:id', async (c) => {
    acl.need(c.req.raw, 'write');
    return acl.answer({ type: 'acl.binding-rule.delete', id: c.req.param('id') });
  });
  route(app, 'GET', '/v1/acl/binding-rule/:id', (c) => {
    acl.need(c.req.raw, 'read');
    const id = c.req.param('id');
    return acl.readOne(c.req.raw, 'binding rule', id, (tx) => getBindingRule(tx, id));
  });
  route(app, 'GET', '/v1/acl/binding-rules', (c) => {
    acl.need(c.req.raw, 'read');
    const method = new URL(c.req.url).searchParams.get('authmethod') || undefined;
    return acl.readList(c.req.raw, (tx) => listBindingRules(tx, method));
  });
}
