import {
  type Access,
  grants,
  mergeAccess,
  NAMED_RESOURCES,
  type NamedResource,
  type PolicyRules,
  type ScalarResource,
} from './rules.js';

/** What applies when no rule matches: `allow` (everything but ACL management) or `deny`. */
export type DefaultPolicy = 'allow' | 'deny';

/** A decision and the rule that made it (for audit lines and error messages). */
export interface Decision {
  readonly allowed: boolean;
  /** `exact`, `prefix "<p>"`, `scalar`, `default` or `management`. */
  readonly by: string;
}

/** Rules merged across a token's policies, indexed for lookups. */
interface Merged {
  readonly exact: Map<string, Access>;
  /** Prefix rules, longest first. */
  readonly prefixes: Array<readonly [string, Access]>;
}

/**
 * Decides what a token may do, from the rules of all its policies (roles' policies included).
 * For a named resource the most specific rule wins: an exact rule over any prefix rule, a longer
 * prefix over a shorter one; rules of the same specificity from several policies merge, and deny
 * wins the tie. With no matching rule the default policy decides: `allow` grants everything except
 * ACL management (`acl`), `deny` grants nothing. A management token may do everything.
 */
export class Authorizer {
  private readonly merged: Record<NamedResource, Merged>;
  private readonly scalar: Partial<Record<ScalarResource, Access>> = {};

  constructor(
    policies: readonly PolicyRules[],
    private readonly defaultPolicy: DefaultPolicy,
    private readonly management = false,
  ) {
    const merged = {} as Record<NamedResource, Merged>;
    for (const r of NAMED_RESOURCES) {
      const exact = new Map<string, Access>();
      const prefix = new Map<string, Access>();
      for (const p of policies) {
        for (const [name, a] of p.exact[r]) exact.set(name, mergeAccess(exact.get(name), a));
        for (const [name, a] of p.prefix[r]) prefix.set(name, mergeAccess(prefix.get(name), a));
      }
      merged[r] = { exact, prefixes: [...prefix].sort((a, b) => b[0].length - a[0].length) };
    }
    this.merged = merged;
    for (const p of policies)
      for (const [r, a] of Object.entries(p.scalar) as Array<[ScalarResource, Access]>)
        this.scalar[r] = mergeAccess(this.scalar[r], a);
  }

  /** Whether this token may do everything (the global-management policy). */
  get isManagement(): boolean {
    return this.management;
  }

  /** The rule that governs `name` of `resource`, or undefined when none matches. */
  private rule(resource: NamedResource, name: string): { access: Access; by: string } | undefined {
    const m = this.merged[resource];
    const exact = m.exact.get(name);
    if (exact !== undefined) return { access: exact, by: 'exact' };
    for (const [prefix, a] of m.prefixes)
      if (name.startsWith(prefix)) return { access: a, by: `prefix ${JSON.stringify(prefix)}` };
    return undefined;
  }

  /** Whether `want` is allowed on `name` of a named resource. */
  decide(resource: NamedResource, name: string, want: 'read' | 'list' | 'write'): Decision {
    if (this.management) return { allowed: true, by: 'management' };
    const r = this.rule(resource, name);
    if (r) return { allowed: grants(r.access, resource === 'key' || want !== 'list' ? want : 'read'), by: r.by };
    return { allowed: this.defaultPolicy === 'allow', by: 'default' };
  }

  /** Whether `want` is allowed on a whole-resource rule (operator, acl, keyring, mesh, peering). */
  decideScalar(resource: ScalarResource, want: 'read' | 'write'): Decision {
    if (this.management) return { allowed: true, by: 'management' };
    const a = this.scalar[resource];
    if (a !== undefined) return { allowed: grants(a, want), by: 'scalar' };
    return { allowed: this.defaultPolicy === 'allow' && resource !== 'acl', by: 'default' };
  }

  /**
   * Whether `want` is allowed on every name of `resource` under `prefix` ("" for all of them; a
   * recursive delete or a whole-tree read of keys): allowed on the prefix itself, and no rule for a
   * name or prefix below it withholds it.
   */
  allUnder(resource: NamedResource, prefix: string, want: 'read' | 'write'): Decision {
    if (this.management) return { allowed: true, by: 'management' };
    const self = this.decide(resource, prefix, want);
    if (!self.allowed) return self;
    const m = this.merged[resource];
    for (const [name, a] of m.exact)
      if (name.startsWith(prefix) && !grants(a, want)) return { allowed: false, by: `exact ${JSON.stringify(name)}` };
    for (const [name, a] of m.prefixes)
      if (name.startsWith(prefix) && name.length > prefix.length && !grants(a, want))
        return { allowed: false, by: `prefix ${JSON.stringify(name)}` };
    return self;
  }

  /** Shorthands. */
  canRead(resource: NamedResource, name: string): boolean {
    return this.decide(resource, name, 'read').allowed;
  }

  canWrite(resource: NamedResource, name: string): boolean {
    return this.decide(resource, name, 'write').allowed;
  }
}
