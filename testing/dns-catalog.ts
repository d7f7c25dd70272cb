/**
 * Random catalogs and DNS questions for the DNS property tests (the cached service answers against
 * `resolve`, the server's fast path against its general path). A catalog is a list of operations
 * applied through the catalog state machine to a store that keeps derived values
 * (CachedTablesStore over MemoryStateStore, as a server reads), so answers kept between queries
 * meet registrations, check changes and deregistrations in between.
 */
import fc from 'fast-check';
import type { DnsOptions } from '../core/dns/resolver.js';
import type { CatalogDeregisterCommand, CatalogRegisterCommand } from '../core/catalog/state-machine.js';
import { CATALOG_TABLES, type HealthStatus } from '../core/catalog/types.js';
import { Applier } from '../core/fsm/applier.js';
import { META_TABLE } from '../core/fsm/meta.js';
import { StateMachine } from '../core/fsm/state-machine.js';
import { dataModules } from '../core/modules.js';
import { SingleNodeCommitter } from '../core/pipeline/single-node-committer.js';
import { WritePipeline } from '../core/pipeline/write-pipeline.js';
import type { StateStore } from '../core/ports/state-store.js';
import { CachedTablesStore } from '../core/store/cached-tables.js';
import { MemoryStateStore } from '../core/store/memory-store.js';
import { WatchRegistry } from '../core/watch/watch-registry.js';

/** Service names registered (two differ only in case) and asked for (one never registered). */
const SERVICES = ['web', 'Web', 'api', 'db-x'];
const ASKED = ['web', 'WEB', 'api', 'db-x', 'bulk0', 'bulk0', 'Bulk1', 'nope'];
const TAGS = ['v1', 'V1', 'primary'];
/** Addresses that take every branch of the SRV target rules: IPs, hostnames in and out of the domain, none. */
const NODE_ADDRESSES = ['10.0.0.1', '10.0.0.2', 'fd00::1', '::ffff:10.0.0.9', 'host.example.com', 'n1.node.consul', ''];
const SERVICE_ADDRESSES = [
  '',
  '',
  '10.0.0.1',
  '10.0.1.2',
  'fd00::2',
  'www.example.com',
  'web.service.consul',
  'WEB.service.consul.',
  'api.service.consul',
  'bad name',
];

/** One change to the catalog. */
export type DnsCatalogOp =
  | {
      readonly type: 'register';
      readonly node: string;
      readonly address: string;
      readonly service: {
        readonly name: string;
        readonly id: string;
        readonly address: string;
        readonly port: number;
        readonly tags: string[];
        readonly passing: number;
        readonly warning: number;
      };
      readonly status: HealthStatus;
      /** The check is the node's (applies to every service on it) rather than the service's. */
      readonly nodeCheck: boolean;
    }
  | { readonly type: 'bulk'; readonly service: number; readonly count: number; readonly serviceAddresses: boolean }
  | { readonly type: 'deregister'; readonly node: string; readonly serviceId: string };

const register: fc.Arbitrary<DnsCatalogOp> = fc.record({
  type: fc.constant('register' as const),
  node: fc.constantFrom('n1', 'n2', 'n3', 'N4', 'n5'),
  address: fc.constantFrom(...NODE_ADDRESSES),
  service: fc.record({
    name: fc.constantFrom(...SERVICES),
    id: fc.constantFrom('a', 'b', 'c'),
    address: fc.constantFrom(...SERVICE_ADDRESSES),
    port: fc.constantFrom(80, 81),
    tags: fc.subarray(TAGS),
    passing: fc.integer({ min: 0, max: 4 }),
    warning: fc.integer({ min: 0, max: 2 }),
  }),
  status: fc.constantFrom<HealthStatus>('passing', 'passing', 'warning', 'critical'),
  nodeCheck: fc.boolean(),
});
/** Many instances of one service on as many nodes: answers that overflow 512 and 4096 bytes. */
const bulk: fc.Arbitrary<DnsCatalogOp> = fc.record({
  type: fc.constant('bulk' as const),
  service: fc.integer({ min: 0, max: 1 }),
  count: fc.integer({ min: 1, max: 120 }),
  serviceAddresses: fc.boolean(),
});
const deregister: fc.Arbitrary<DnsCatalogOp> = fc.record({
  type: fc.constant('deregister' as const),
  node: fc.constantFrom('n1', 'n2', 'n3', 'N4', 'n5'),
  serviceId: fc.constantFrom('a', 'b', 'c'),
});

/** A list of catalog changes: both bulk services (of random sizes), then mostly registrations. */
export const dnsCatalogOps: fc.Arbitrary<DnsCatalogOp[]> = fc
  .tuple(
    fc.array(bulk, { minLength: 1, maxLength: 2 }),
    fc.array(fc.oneof(register, register, register, register, bulk, deregister), { minLength: 3, maxLength: 25 }),
  )
  .map(([bulks, rest]) => [...bulks, ...rest]);

/** A question name: every service form, tags, datacenters, case, and some names that are no service question. */
export const dnsQuestionName: fc.Arbitrary<string> = fc
  .record({
    service: fc.constantFrom(...ASKED),
    tag: fc.constantFrom('v1', 'v1', 'primary', 'none', 'tcp'),
    form: fc.constantFrom(
      'plain',
      'plain',
      'plain',
      'dc',
      'rfc2782',
      'tagged',
      'rfc2782-tag',
      'other-dc',
      'node',
      'too-many',
    ),
    upper: fc.boolean(),
    dot: fc.boolean(),
  })
  .map(({ service, tag, form, upper, dot }) => {
    const name = {
      plain: `${service}.service.consul`,
      dc: `${service}.service.dc1.consul`,
      rfc2782: `_${service}._tcp.service.consul`,
      tagged: `${tag}.${service}.service.consul`,
      'rfc2782-tag': `_${service}._${tag}.service.consul`,
      'other-dc': `${service}.service.dc2.consul`,
      node: `n1.node.consul`,
      'too-many': `a.${tag}.${service}.service.consul`,
    }[form];
    return (upper ? name.toUpperCase() : name) + (dot ? '.' : '');
  });

/** Options that vary what answers hold: TTL, A record limit, and access rules that hide some names. */
export const dnsOptionShapes = fc.record({
  serviceTtl: fc.constantFrom(0, 30),
  aRecordLimit: fc.constantFrom(0, 0, 1, 3),
  hiddenNodes: fc.subarray(['n1', 'n2', 'b0-3', 'b1-0']),
  hiddenServices: fc.subarray(['api', 'Web']),
  acl: fc.boolean(),
});

/** DnsOptions for `shape` with `rng` (domain consul, datacenter dc1, node TTL 7). */
export function dnsOptionsOf(
  shape: typeof dnsOptionShapes extends fc.Arbitrary<infer S> ? S : never,
  rng: DnsOptions['rng'],
): DnsOptions {
  const hidden = (resource: 'service' | 'node', name: string) =>
    resource === 'node' ? shape.hiddenNodes.includes(name) : shape.hiddenServices.includes(name);
  return {
    domain: 'consul',
    datacenter: 'dc1',
    serviceTtl: shape.serviceTtl,
    nodeTtl: 7,
    aRecordLimit: shape.aRecordLimit,
    rng,
    ...(shape.acl ? { access: () => ({ canRead: (r: 'service' | 'node', n: string) => !hidden(r, n) }) } : {}),
  };
}

/** A catalog store as a server keeps it (catalog tables in memory, derived values kept) and a way to change it. */
export function dnsCatalogStore(): { readonly store: StateStore; apply(ops: readonly DnsCatalogOp[]): Promise<void> } {
  const machine = new StateMachine(dataModules());
  const store = new CachedTablesStore(
    new MemoryStateStore(machine.tables),
    [...CATALOG_TABLES, META_TABLE],
    META_TABLE,
  );
  const writer = new WritePipeline(new SingleNodeCommitter(new Applier(store, machine, new WatchRegistry(100))));
  const registration = (
    node: string,
    address: string,
    service: CatalogRegisterCommand['service'],
    status: HealthStatus,
    nodeCheck: boolean,
  ): CatalogRegisterCommand => ({
    type: 'catalog.register',
    datacenter: 'dc1',
    node: { ID: '', Node: node, Address: address, TaggedAddresses: {}, Meta: {} },
    skipNodeUpdate: false,
    ...(service ? { service } : {}),
    checks: [
      {
        CheckID: nodeCheck ? 'serfHealth' : `check-${service?.ID ?? ''}`,
        Name: 'check',
        Status: status,
        Notes: '',
        Output: '',
        ServiceID: nodeCheck ? '' : (service?.ID ?? ''),
        Type: '',
      },
    ],
    now: 0,
  });
  const service = (id: string, name: string, address: string, port: number, tags: string[], p: number, w: number) => ({
    ID: id,
    Service: name,
    Tags: tags,
    Address: address,
    TaggedAddresses: {},
    Meta: {},
    Port: port,
    Weights: { Passing: p, Warning: w },
    EnableTagOverride: false,
  });
  return {
    store,
    async apply(ops) {
      for (const op of ops) {
        if (op.type === 'register') {
          const s = op.service;
          // A registration the state machine refuses leaves the catalog as it was.
          await writer
            .submit(
              registration(
                op.node,
                op.address,
                service(s.id, s.name, s.address, s.port, s.tags, s.passing, s.warning),
                op.status,
                op.nodeCheck,
              ),
            )
            .catch(() => undefined);
        } else if (op.type === 'bulk') {
          for (let i = 0; i < op.count; i++) {
            const address = op.serviceAddresses && i % 3 === 0 ? `10.3.${op.service}.${i}` : '';
            await writer.submit(
              registration(
                `b${op.service}-${i}`,
                `10.2.${op.service}.${i}`,
                service(`bulk-${i}`, `bulk${op.service}`, address, 9000 + (i % 4), ['v1'], 1 + (i % 3), 1),
                i % 7 === 3 ? 'critical' : i % 5 === 1 ? 'warning' : 'passing',
                false,
              ),
            );
          }
        } else {
          const command: CatalogDeregisterCommand = {
            type: 'catalog.deregister',
            node: op.node,
            serviceID: op.serviceId,
            now: 0,
          };
          await writer.submit(command).catch(() => undefined);
        }
      }
    },
  };
}
