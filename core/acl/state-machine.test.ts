import { describe, expect, it } from 'vitest';
import { CorruptError } from '../errors.js';
import { encodeCommand } from '../fsm/command.js';
import { type ApplyResult, StateMachine } from '../fsm/state-machine.js';
import { MemoryStateStore } from '../store/memory-store.js';
import type { AclCommand } from './commands.js';
import { getPolicy, getRole, listTokens, tokenByAccessor, tokenBySecret } from './queries.js';
import { aclModule } from './state-machine.js';
import { ANONYMOUS_TOKEN_ID, GLOBAL_MANAGEMENT_POLICY_ID } from './types.js';

function newMachine() {
  const machine = new StateMachine([aclModule]);
  const store = new MemoryStateStore(machine.tables);
  let index = 0;
  const apply = (c: AclCommand | { type: string; [field: string]: unknown }): ApplyResult => {
    index++;
    return store.writeSync((tx) => machine.apply(tx, { index, data: encodeCommand(c) }, () => {}));
  };
  const dump = () => store.read((tx) => aclModule.tables.map((t) => [...tx.range(t)]));
  return { store, apply, dump };
}

const value = (r: ApplyResult): unknown => {
  if (!r.ok) throw r.error;
  return r.value;
};

const POLICY = { ID: 'p1', Name: 'read-kv', Description: '', Rules: 'key_prefix "" { policy = "read" }' };
const TOKEN = {
  AccessorID: 'a1',
  SecretID: 's1',
  Description: 'kv reader',
  Policies: [{ Name: 'read-kv' }],
  Roles: [{ ID: 'r1' }],
  Local: false,
};

/** One command of each type, as the endpoints build them, in an order in which each applies. */
const VALID: AclCommand[] = [
  { type: 'acl.bootstrap', accessorId: 'boot', secretId: 'boot-secret', now: 1000 },
  { type: 'acl.policy.set', policy: { ...POLICY, Datacenters: ['dc1'] }, create: true },
  { type: 'acl.role.set', role: { ID: 'r1', Name: 'reader', Description: '', Policies: [{ ID: 'p1' }] }, create: true },
  { type: 'acl.token.set', token: TOKEN, create: true, now: 2000 },
  {
    type: 'acl.auth-method.set',
    method: {
      Name: 'jwt',
      Type: 'jwt',
      DisplayName: '',
      Description: '',
      MaxTokenTTL: '1h',
      Config: { JWTValidationPubKeys: ['PEM'], JWTSupportedAlgs: ['RS256'], ClaimMappings: { sub: 'user' } },
    },
    create: true,
  },
  {
    type: 'acl.binding-rule.set',
    rule: { ID: 'b1', Description: '', AuthMethod: 'jwt', Selector: '', BindType: 'role', BindName: 'reader' },
    create: true,
  },
  { type: 'acl.binding-rule.delete', id: 'b1' },
  { type: 'acl.auth-method.delete', name: 'jwt' },
  { type: 'acl.role.delete', id: 'r1' },
  { type: 'acl.policy.delete', id: 'p1' },
  { type: 'acl.token.delete', accessorId: 'a1' },
];

describe('ACL state machine', () => {
  it('applies every command as the endpoints build it', () => {
    const m = newMachine();
    for (const c of VALID.slice(0, 4)) value(m.apply(c));
    m.store.read((tx) => {
      expect(getPolicy(tx, GLOBAL_MANAGEMENT_POLICY_ID)?.Name).toBe('global-management');
      expect(getPolicy(tx, 'p1')?.Datacenters).toEqual(['dc1']);
      expect(getRole(tx, 'r1')?.Policies).toEqual([{ ID: 'p1', Name: 'read-kv' }]);
      const token = tokenBySecret(tx, 's1');
      expect(token?.Policies).toEqual([{ ID: 'p1', Name: 'read-kv' }]);
      expect(token?.Roles).toEqual([{ ID: 'r1', Name: 'reader' }]);
      expect(token?.CreateTime).toBe(new Date(2000).toISOString());
      expect(tokenBySecret(tx, 'boot-secret')?.CreateTime).toBe(new Date(1000).toISOString());
    });
    for (const c of VALID.slice(4)) expect(value(m.apply(c))).toBeTruthy();
    m.store.read((tx) => {
      expect(listTokens(tx).value.map((t) => t.AccessorID)).toEqual([ANONYMOUS_TOKEN_ID, 'boot']);
      expect(getPolicy(tx, 'p1')).toBeUndefined();
    });
  });

  it('drops the links to a deleted policy from roles and tokens', () => {
    const m = newMachine();
    for (const c of VALID.slice(1, 4)) value(m.apply(c));
    expect(value(m.apply({ type: 'acl.policy.delete', id: 'p1' }))).toBe(true);
    m.store.read((tx) => {
      expect(getRole(tx, 'r1')?.Policies).toEqual([]);
      expect(tokenByAccessor(tx, 'a1')?.Policies).toEqual([]);
    });
  });

  it('refuses a malformed field of every command with CorruptError, writing nothing', () => {
    const malformed: Array<{ type: string; [field: string]: unknown }> = [
      { type: 'acl.bootstrap', accessorId: 7, secretId: 's', now: 1 },
      { type: 'acl.bootstrap', accessorId: 'a', secretId: 's', now: 'soon' },
      { type: 'acl.policy.set', policy: 'p1', create: true },
      { type: 'acl.policy.set', policy: { ...POLICY, Datacenters: [1] }, create: true },
      { type: 'acl.policy.set', policy: { ...POLICY, Datacenters: [] }, create: 'yes' },
      { type: 'acl.policy.delete', id: null },
      { type: 'acl.role.set', role: { ID: 'r2', Name: 'x', Description: '', Policies: ['p1'] }, create: true },
      { type: 'acl.role.delete' },
      { type: 'acl.token.set', token: { ...TOKEN, AccessorID: 'a2', Local: 'no' }, create: true, now: 1 },
      { type: 'acl.token.set', token: { ...TOKEN, AccessorID: 'a2', Roles: [{ ID: 3 }] }, create: true, now: 1 },
      { type: 'acl.token.set', token: { ...TOKEN, AccessorID: 'a2', ExpirationTime: 9 }, create: true, now: 1 },
      { type: 'acl.token.delete', accessorId: ['a1'] },
      {
        type: 'acl.auth-method.set',
        method: { Name: 'm', Type: 'oidc', DisplayName: '', Description: '', MaxTokenTTL: '', Config: {} },
        create: true,
      },
      {
        type: 'acl.auth-method.set',
        method: { Name: 'm', Type: 'jwt', DisplayName: '', Description: '', MaxTokenTTL: '', Config: { JWKS: {} } },
        create: true,
      },
      { type: 'acl.auth-method.delete', name: 1 },
      {
        type: 'acl.binding-rule.set',
        rule: { ID: 'b2', Description: '', AuthMethod: 'jwt', Selector: '', BindType: 'user', BindName: 'x' },
        create: true,
      },
      { type: 'acl.binding-rule.delete', id: {} },
    ];
    const m = newMachine();
    for (const c of VALID.slice(0, 6)) value(m.apply(c));
    const before = m.dump();
    for (const c of malformed) {
      const r = m.apply(c);
      expect(r.ok ? undefined : r.error, JSON.stringify(c)).toBeInstanceOf(CorruptError);
    }
    expect(m.dump()).toEqual(before);
  });
});
