import { BadRequestError } from '../errors.js';
import type { Authorizer } from './authorizer.js';
import type { NamedResource, ScalarResource } from './rules.js';

/** Answers one question of Enforce: may `authz` have this access on `segment` (ignored by whole-resource rules)? */
type Check = (authz: Authorizer, segment: string) => boolean;

const named =
  (resource: NamedResource, want: 'read' | 'list' | 'write'): Check =>
  (authz, segment) =>
    authz.decide(resource, segment, want).allowed;
const scalar =
  (resource: ScalarResource, want: 'read' | 'write'): Check =>
  (authz) =>
    authz.decideScalar(resource, want).allowed;
const readWrite = (check: (want: 'read' | 'write') => Check): ReadonlyMap<string, Check> =>
  new Map([
    ['read', check('read')],
    ['write', check('write')],
  ]);
const namedReadWrite = (resource: NamedResource) => readWrite((want) => named(resource, want));
const scalarReadWrite = (resource: ScalarResource) => readWrite((want) => scalar(resource, want));

/**
 * The questions each resource answers, by lower-cased access level (Consul's acl.Enforce). Named
 * resources decide on the segment; whole-resource ones (acl, keyring, operator, mesh, peering)
 * ignore it. Keys also take `list` and `write-prefix` (write on every key under the segment, as
 * Consul's KeyWritePrefix). Consul's `intention` is not here: Konsul has no intentions.
 */
const ENFORCE: ReadonlyMap<string, ReadonlyMap<string, Check>> = new Map([
  ['acl', scalarReadWrite('acl')],
  ['agent', namedReadWrite('agent')],
  ['event', namedReadWrite('event')],
  [
    'key',
    new Map<string, Check>([
      ['read', named('key', 'read')],
      ['list', named('key', 'list')],
      ['write', named('key', 'write')],
      ['write-prefix', (authz, segment) => authz.allUnder('key', segment, 'write').allowed],
    ]),
  ],
  ['keyring', scalarReadWrite('keyring')],
  ['mesh', scalarReadWrite('mesh')],
  ['node', namedReadWrite('node')],
  ['operator', scalarReadWrite('operator')],
  ['peering', scalarReadWrite('peering')],
  ['query', namedReadWrite('query')],
  ['service', namedReadWrite('service')],
  ['session', namedReadWrite('session')],
]);

/** The resources `enforce` knows, in alphabetical order. */
export const ENFORCED_RESOURCES: readonly string[] = [...ENFORCE.keys()];

/**
 * Whether `authz` allows `access` (case-insensitive: read, write; list and write-prefix for keys)
 * on `segment` of `resource` (case-sensitive, as Consul's acl.Enforce). Throws BadRequestError
 * `Invalid ACL resource requested: "<resource>"` for a resource it does not know, and
 * `Invalid access level for <resource> resource: <access>` for an access the resource does not take.
 */
export function enforce(authz: Authorizer, resource: string, segment: string, access: string): boolean {
  const checks = ENFORCE.get(resource);
  if (!checks) throw new BadRequestError(`Invalid ACL resource requested: ${JSON.stringify(resource)}`);
  const check = checks.get(access.toLowerCase());
  if (!check) throw new BadRequestError(`Invalid access level for ${resource} resource: ${access}`);
  return check(authz, segment);
}
