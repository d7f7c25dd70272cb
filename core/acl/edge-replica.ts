import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { BadRequestError, CorruptError, TooLargeError } from '../errors.js';
import type { RangeOptions, ReadTxn } from '../ports/state-store.js';
import { readTableIndex } from '../fsm/meta.js';
import type { DefaultPolicy } from './authorizer.js';
import { listPolicies, listRoles, listTokens } from './queries.js';
import { type AclIdentity, AclResolver, type AclSettings } from './resolve.js';
import {
  ACL_POLICIES_INDEX,
  ACL_POLICIES_TABLE,
  ACL_ROLES_INDEX,
  ACL_ROLES_TABLE,
  ACL_TOKEN_SECRETS_TABLE,
  ACL_TOKENS_INDEX,
  ACL_TOKENS_TABLE,
  type AclPolicy,
  type AclRole,
  type AclToken,
  ANONYMOUS_TOKEN_SECRET,
} from './types.js';

/** Bytes of an agent's salt (given as 32 hex digits). */
export const EDGE_ACL_SALT_BYTES = 16;
/** Most tokens sent to an agent; a datacenter with more cannot replicate its ACLs to agents. */
export const MAX_EDGE_ACL_TOKENS = 20_000;
/** Most policies, and most roles, sent to an agent. */
export const MAX_EDGE_ACL_OBJECTS = 10_000;

/** A token as an agent holds it: everything but the SecretID, which only its salted hash stands for. */
export interface EdgeAclToken extends Omit<AclToken, 'SecretID'> {
  /** Hex HMAC-SHA-256 of the SecretID, keyed with the agent's salt (secretHash). */
  readonly SecretHash: string;
}

/**
 * The ACL data an edge agent replicates (GET /v1/edge/acl): whether ACLs are on and their default
 * policy, and — when they are — every policy, role and token (secrets as salted hashes), as of
 * `Index`, the highest of the three tables' indexes.
 */
export interface EdgeAclData {
  readonly Enabled: boolean;
  readonly DefaultPolicy: DefaultPolicy;
  readonly Index: number;
  readonly Policies: readonly AclPolicy[];
  readonly Roles: readonly AclRole[];
  readonly Tokens: readonly EdgeAclToken[];
}

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

/** Lower-case hex of `bytes`. */
function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX[b] as string;
  return out;
}

/**
 * The salted hash an agent keeps instead of a token's secret: HMAC-SHA-256 keyed with the agent's
 * salt, in hex. Each agent has its own salt, so hashes from one device say nothing about
 * another's. The hash is fast on purpose (it is computed on every request an agent checks): it
 * protects generated SecretIDs (122 random bits) from a stolen device, not guessable ones.
 */
export function secretHash(salt: Uint8Array, secret: string): string {
  return hex(hmac(sha256, salt, new TextEncoder().encode(secret)));
}

/** Reads an agent's salt from its hex form; BadRequestError when it is not 32 hex digits. */
export function parseSalt(text: string | null): Uint8Array {
  if (text === null || !/^[0-9a-f]{32}$/i.test(text))
    throw new BadRequestError(`Invalid salt: want ${EDGE_ACL_SALT_BYTES * 2} hex digits`);
  const out = new Uint8Array(EDGE_ACL_SALT_BYTES);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** The highest index of the tables an agent's ACL data comes from (what a blocking read waits on). */
export function edgeAclIndex(tx: ReadTxn): number {
  return Math.max(
    1,
    readTableIndex(tx, ACL_TOKENS_INDEX),
    readTableIndex(tx, ACL_POLICIES_INDEX),
    readTableIndex(tx, ACL_ROLES_INDEX),
  );
}

/**
 * The ACL data for an agent whose salt is `salt` (servers build it for GET /v1/edge/acl). With
 * ACLs off it carries no policies, roles or tokens. Throws TooLargeError past the bounds
 * (MAX_EDGE_ACL_TOKENS, MAX_EDGE_ACL_OBJECTS). No SecretID leaves in clear.
 */
export function edgeAclData(tx: ReadTxn, settings: AclSettings, salt: Uint8Array): EdgeAclData {
  const index = edgeAclIndex(tx);
  if (!settings.enabled)
    return { Enabled: false, DefaultPolicy: settings.defaultPolicy, Index: index, Policies: [], Roles: [], Tokens: [] };
  const policies = listPolicies(tx).value;
  const roles = listRoles(tx).value;
  const tokens = listTokens(tx).value;
  if (tokens.length > MAX_EDGE_ACL_TOKENS)
    throw new TooLargeError(`${tokens.length} ACL tokens are more than an agent takes (${MAX_EDGE_ACL_TOKENS})`);
  if (policies.length > MAX_EDGE_ACL_OBJECTS || roles.length > MAX_EDGE_ACL_OBJECTS)
    throw new TooLargeError(`more ACL policies or roles than an agent takes (${MAX_EDGE_ACL_OBJECTS} of each)`);
  return {
    Enabled: true,
    DefaultPolicy: settings.defaultPolicy,
    Index: index,
    Policies: policies,
    Roles: roles,
    Tokens: tokens.map(({ SecretID, ...rest }) => ({ ...rest, SecretHash: secretHash(salt, SecretID) })),
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isLinks = (v: unknown): boolean =>
  Array.isArray(v) && v.every((l) => isObj(l) && typeof l['ID'] === 'string' && typeof l['Name'] === 'string');

/**
 * Checks ACL data an agent received (or loaded from its disk) before it is trusted to decide
 * anything: every field of the shape the agent reads, within the bounds. Throws CorruptError
 * naming what is wrong.
 */
export function parseEdgeAclData(v: unknown): EdgeAclData {
  const bad = (what: string): never => {
    throw new CorruptError(`edge ACL data: ${what}`);
  };
  if (!isObj(v)) return bad('not an object');
  if (typeof v['Enabled'] !== 'boolean') bad('Enabled is not a boolean');
  if (v['DefaultPolicy'] !== 'allow' && v['DefaultPolicy'] !== 'deny') bad('DefaultPolicy is neither allow nor deny');
  if (typeof v['Index'] !== 'number' || !Number.isSafeInteger(v['Index'])) bad('Index is not an integer');
  const list = (name: string, max: number): unknown[] => {
    const l = v[name];
    if (!Array.isArray(l) || l.length > max) return bad(`${name} is not a list of at most ${max}`);
    return l;
  };
  for (const p of list('Policies', MAX_EDGE_ACL_OBJECTS))
    if (
      !isObj(p) ||
      typeof p['ID'] !== 'string' ||
      typeof p['Rules'] !== 'string' ||
      typeof p['ModifyIndex'] !== 'number'
    )
      bad('a policy lacks ID, Rules or ModifyIndex');
  for (const r of list('Roles', MAX_EDGE_ACL_OBJECTS))
    if (!isObj(r) || typeof r['ID'] !== 'string' || !isLinks(r['Policies'])) bad('a role lacks ID or Policies');
  for (const t of list('Tokens', MAX_EDGE_ACL_TOKENS))
    if (
      !isObj(t) ||
      typeof t['AccessorID'] !== 'string' ||
      typeof t['SecretHash'] !== 'string' ||
      !isLinks(t['Policies']) ||
      !isLinks(t['Roles']) ||
      (t['ExpirationTime'] !== undefined && typeof t['ExpirationTime'] !== 'string')
    )
      bad('a token lacks AccessorID, SecretHash, Policies or Roles');
  return v as unknown as EdgeAclData;
}

/** A read view over replicated ACL data laid out in the server's tables (for AclResolver). */
class DataTxn implements ReadTxn {
  private readonly tables = new Map<string, Map<string, unknown>>();

  constructor(data: EdgeAclData) {
    const table = (name: string) => {
      const t = new Map<string, unknown>();
      this.tables.set(name, t);
      return t;
    };
    const policies = table(ACL_POLICIES_TABLE);
    for (const p of data.Policies) policies.set(p.ID, p);
    const roles = table(ACL_ROLES_TABLE);
    for (const r of data.Roles) roles.set(r.ID, r);
    const tokens = table(ACL_TOKENS_TABLE);
    const secrets = table(ACL_TOKEN_SECRETS_TABLE);
    for (const { SecretHash, ...t } of data.Tokens) {
      // The record keeps no secret: requests are matched by the hash of theirs.
      tokens.set(t.AccessorID, { ...t, SecretID: '' });
      secrets.set(SecretHash, t.AccessorID);
    }
  }

  get<V>(table: string, key: string): V | undefined {
    return this.tables.get(table)?.get(key) as V | undefined;
  }

  *range<V>(table: string, options?: RangeOptions): Iterable<readonly [string, V]> {
    const keys = [...(this.tables.get(table)?.keys() ?? [])].sort();
    for (const k of keys) {
      if (options?.prefix !== undefined && !k.startsWith(options.prefix)) continue;
      yield [k, this.get<V>(table, k) as V];
    }
  }
}

/**
 * An edge agent's ACL resolver over the data it replicated (ACLs count as off until data that
 * says they are on arrives). A request's secret is matched by its salted hash; the agent never
 * holds secrets. The `tx` the API passes (the replica's) is not used: ACL data lives here.
 */
export class EdgeAclResolver extends AclResolver {
  private view: DataTxn | undefined;
  /** The data in force, shared with the settings the base class reads (ACLs off until data arrives). */
  private readonly held: { data?: EdgeAclData };

  constructor(private readonly salt: Uint8Array) {
    const held: { data?: EdgeAclData } = {};
    super({
      get enabled() {
        return held.data?.Enabled ?? false;
      },
      get defaultPolicy() {
        return held.data?.DefaultPolicy ?? 'deny';
      },
    });
    this.held = held;
  }

  /** The data in force (undefined: none yet). */
  get data(): EdgeAclData | undefined {
    return this.held.data;
  }

  /** Puts `data` (checked with parseEdgeAclData) in force. */
  update(data: EdgeAclData): void {
    this.held.data = data;
    this.view = new DataTxn(data);
  }

  override resolve(_tx: ReadTxn, secret: string | undefined, now: number): AclIdentity {
    const view = this.view;
    if (!view || !this.settings.enabled) return super.resolve(_tx, secret, now);
    // Longer than any secret the servers accept: not found, without hashing it.
    if (secret !== undefined && secret.length > 256) return super.resolve(view, secret, now);
    return super.resolve(view, secretHash(this.salt, secret ?? ANONYMOUS_TOKEN_SECRET), now);
  }

  /**
   * The identity of the token with `accessor` as the replicated data has it, or undefined when
   * the data has no such token or it expired by `now`.
   */
  identityOfAccessor(accessor: string, now: number): AclIdentity | undefined {
    const view = this.view;
    if (!view) return undefined;
    const token = view.get<AclToken>(ACL_TOKENS_TABLE, accessor);
    if (!token || (token.ExpirationTime !== undefined && Date.parse(token.ExpirationTime) <= now)) return undefined;
    return this.identityOf(view, token);
  }
}
