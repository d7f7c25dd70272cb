import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertySeed } from '../../testing/kv-arbitraries.js';
import { Authorizer } from './authorizer.js';
import { type Access, parseRules } from './rules.js';

describe('ACL rules: Consul syntax', () => {
  it('parses the HCL subset and the JSON form to the same rules', () => {
    const hcl = `
      # comments of every kind
      key_prefix "" { policy = "read" }
      key "app/secret" { policy = "deny" }   // exact
      key_prefix "app/" {
        policy = "write"
      }
      /* services */
      service_prefix "" { policy = "read" }
      service "web" { policy = "write" intentions = "read" }
      node_prefix "" { policy = "read" }
      session_prefix "" { policy = "write" }
      event_prefix "deploy-" { policy = "write" }
      query_prefix "" { policy = "read" }
      agent "n1" { policy = "read" }
      agent_prefix "" { policy = "deny" }
      operator = "read"
      acl = "write"
      key "list/" { policy = "list" }
    `;
    const json = JSON.stringify({
      key_prefix: { '': { policy: 'read' }, 'app/': { policy: 'write' } },
      key: [{ 'app/secret': { policy: 'deny' } }, { 'list/': [{ policy: 'list' }] }],
      service_prefix: { '': { policy: 'read' } },
      service: { web: { policy: 'write', intentions: 'read' } },
      node_prefix: { '': { policy: 'read' } },
      session_prefix: { '': { policy: 'write' } },
      event_prefix: { 'deploy-': { policy: 'write' } },
      query_prefix: { '': { policy: 'read' } },
      agent: { n1: { policy: 'read' } },
      agent_prefix: { '': { policy: 'deny' } },
      operator: 'read',
      acl: 'write',
    });
    const a = parseRules(hcl);
    expect(parseRules(json)).toEqual(a);
    expect(a.exact.key.get('app/secret')).toBe('deny');
    expect(a.prefix.key.get('app/')).toBe('write');
    expect(a.scalar).toEqual({ operator: 'read', acl: 'write' });
    expect(parseRules('')).toEqual(parseRules('  # nothing\n'));
  });

  it('refuses what it cannot read, naming the place', () => {
    const bad: Array<[string, RegExp]> = [
      ['key "a" { policy = "read" ', /expected "}"|at the end/],
      ['key "a" { policy = "own" }', /invalid policy "own"/],
      ['service "a" { policy = "list" }', /invalid policy "list"/],
      ['bucket "a" { policy = "read" }', /unknown resource "bucket"/],
      ['key "a" { polcy = "read" }', /unknown field "polcy"/],
      ['key "a" { }', /needs a policy/],
      ['key { policy = "read" }', /expected string/],
      ['operator = "list"', /invalid policy "list"/],
      ['key "a\n" { policy = "read" }', /unterminated string at line 1/],
      ['\n\nkey "a" { policy = "read" } @', /unexpected "@" at line 3/],
      ['/* never closed', /unterminated comment/],
      ['{"key": "read"}', /key needs a name and a block/],
      ['{"key": 5}', /must be an object of rules/],
      ['{"key": ', /not valid JSON/],
      ['{"key": {"a": {"policy": ["read"]}}}', /must be a string/],
    ];
    for (const [text, message] of bad) expect(() => parseRules(text), text).toThrow(message);
    expect(() => parseRules(`key "${'x'.repeat(200 * 1024)}" { policy = "read" }`)).toThrow(/larger than/);
  });
});

describe('ACL authorizer', () => {
  it('most specific wins, deny wins ties, default applies otherwise', () => {
    const p1 = parseRules(
      'key_prefix "" { policy = "read" }\nkey_prefix "app/" { policy = "write" }\nkey "app/secret" { policy = "deny" }',
    );
    const p2 = parseRules(
      'key_prefix "app/" { policy = "deny" }\nkey "app/open" { policy = "write" }\n' +
        'service_prefix "web" { policy = "write" }',
    );
    const az = new Authorizer([p1, p2], 'deny');
    // app/ is write in p1 and deny in p2: the tie goes to deny; the exact rule beats both.
    expect(az.canWrite('key', 'app/x')).toBe(false);
    expect(az.canRead('key', 'app/x')).toBe(false);
    expect(az.canWrite('key', 'app/open')).toBe(true);
    expect(az.canRead('key', 'app/secret')).toBe(false);
    expect(az.canRead('key', 'other')).toBe(true);
    expect(az.canWrite('key', 'other')).toBe(false);
    expect(az.canWrite('service', 'web-api')).toBe(true);
    expect(az.canRead('service', 'db')).toBe(false);
    expect(az.decideScalar('operator', 'read').allowed).toBe(false);
    expect(new Authorizer([], 'allow').canWrite('node', 'x')).toBe(true);
    // Default allow does not extend to ACL management; the management token may do anything.
    expect(new Authorizer([], 'allow').decideScalar('acl', 'read').allowed).toBe(false);
    expect(new Authorizer([], 'deny', true).decideScalar('acl', 'write').allowed).toBe(true);
    // list is read plus listing, for keys.
    const lister = new Authorizer([parseRules('key_prefix "l/" { policy = "list" }')], 'deny');
    expect([
      lister.decide('key', 'l/a', 'list').allowed,
      lister.canRead('key', 'l/a'),
      lister.canWrite('key', 'l/a'),
    ]).toEqual([true, true, false]);
  });

  it('a recursive write needs write on everything below the prefix', () => {
    const az = new Authorizer(
      [parseRules('key_prefix "a/" { policy = "write" }\nkey "a/b/keep" { policy = "read" }')],
      'deny',
    );
    expect(az.allUnder('key', 'a/c/', 'write').allowed).toBe(true);
    expect(az.allUnder('key', 'a/', 'write').allowed).toBe(false);
    expect(az.allUnder('key', 'a/b/', 'write').allowed).toBe(false);
    expect(az.allUnder('key', 'b/', 'write').allowed).toBe(false);
  });

  it('agrees with a direct reading of the rules for any rules and names (property)', () => {
    const seed = propertySeed('acl authorizer');
    const seg = fc.constantFrom('', 'a', 'a/', 'a/b', 'a/b/c', 'b', 'ab');
    const access = fc.constantFrom<Access>('deny', 'read', 'list', 'write');
    const rule = fc.record({ prefix: fc.boolean(), name: seg, access });
    fc.assert(
      fc.property(
        fc.array(fc.array(rule, { maxLength: 6 }), { maxLength: 3 }),
        seg,
        fc.constantFrom<'allow' | 'deny'>('allow', 'deny'),
        (policies, name, dflt) => {
          const text = (rs: (typeof policies)[number]) =>
            rs
              .map(
                (r) =>
                  `key${r.prefix ? '_prefix' : ''} ${JSON.stringify(r.name)} { policy = ${JSON.stringify(r.access)} }`,
              )
              .join('\n');
          const az = new Authorizer(
            policies.map((rs) => parseRules(text(rs))),
            dflt,
          );
          // The model: the exact rules for the name if any, else those of the longest matching prefix.
          const all = policies.flat();
          const exact = all.filter((r) => !r.prefix && r.name === name);
          const matching = all.filter((r) => r.prefix && name.startsWith(r.name));
          const longest = Math.max(-1, ...matching.map((r) => r.name.length));
          const winners = exact.length > 0 ? exact : matching.filter((r) => r.name.length === longest);
          const rank = { deny: 0, read: 1, list: 2, write: 3 };
          const eff =
            winners.length === 0
              ? undefined
              : winners.some((r) => r.access === 'deny')
                ? 'deny'
                : winners.reduce((m, r) => (rank[r.access] > rank[m] ? r.access : m), 'read' as Access);
          for (const want of ['read', 'list', 'write'] as const) {
            const expected = eff === undefined ? dflt === 'allow' : eff !== 'deny' && rank[eff] >= rank[want];
            if (az.decide('key', name, want).allowed !== expected) return false;
          }
          return true;
        },
      ),
      { seed, numRuns: 2000 },
    );
  });
});
