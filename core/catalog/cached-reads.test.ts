import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderedCatalogService, renderedServiceHealth } from './json.js';
import { Applier } from '../fsm/applier.js';
import { META_TABLE } from '../fsm/meta.js';
import { StateMachine } from '../fsm/state-machine.js';
import { dataModules } from '../modules.js';
import { SingleNodeCommitter } from '../pipeline/single-node-committer.js';
import { WritePipeline } from '../pipeline/write-pipeline.js';
import type { ReadTxn } from '../ports/state-store.js';
import { dumpTables, parseDump, replaceTables } from '../snapshot/state-snapshot.js';
import { CachedTablesStore } from '../store/cached-tables.js';
import { MemoryStateStore } from '../store/memory-store.js';
import { WatchRegistry } from '../watch/watch-registry.js';
import {
  checksInState,
  listNodes,
  listServices,
  nodeChecks,
  nodeServices,
  serviceChecks,
  serviceHealth,
  serviceInstances,
  serviceNameCount,
  serviceNameIgnoringCase,
} from './queries.js';
import type { CatalogDeregisterCommand, CatalogRegisterCommand } from './state-machine.js';
import { CATALOG_TABLES, HEALTH_STATUSES } from './types.js';

const NODES = ['n1', 'n2', 'n3'];
const SERVICES = ['web', 'Web', 'db', 'web-2'];
const STATUSES = [...HEALTH_STATUSES];

/** Every catalog read the API, DNS, Prometheus SD and edge sync make, over a small universe of names. */
function everyRead(tx: ReadTxn): unknown {
  // The count of service names (a skip scan of the name index) agrees with the full listing.
  expect(serviceNameCount(tx)).toBe(listServices(tx).value.size);
  return {
    nodes: listNodes(tx),
    services: [...listServices(tx).value.entries()],
    servicesIndex: listServices(tx).index,
    perService: SERVICES.map((s) => [serviceInstances(tx, s), serviceHealth(tx, s), serviceChecks(tx, s)]),
    // The JSON health answers are made of (and the `?passing` subset), rendered once per change.
    rendered: SERVICES.map((s) => [renderedServiceHealth(tx, s), renderedCatalogService(tx, s)]),
    byLowerCase: ['web', 'db', 'web-2', 'nope'].map((s) => serviceNameIgnoringCase(tx, s)),
    perNode: NODES.map((n) => [nodeServices(tx, n), nodeChecks(tx, n)]),
    states: (['any', ...STATUSES] as const).map((s) => checksInState(tx, s)),
  };
}

const register = fc.record({
  type: fc.constant('register' as const),
  node: fc.constantFrom(...NODES),
  address: fc.constantFrom('10.0.0.1', '10.0.0.2'),
  service: fc.option(
    fc.record({ id: fc.constantFrom('a', 'b', 'c'), name: fc.constantFrom(...SERVICES), port: fc.nat(3) }),
    {
      nil: undefined,
    },
  ),
  status: fc.constantFrom(...STATUSES),
  nodeCheck: fc.boolean(),
});
const deregister = fc.record({
  type: fc.constant('deregister' as const),
  node: fc.constantFrom(...NODES),
  what: fc.constantFrom('node', 'service', 'check'),
  id: fc.constantFrom('a', 'b', 'c'),
});
const snapshot = fc.record({ type: fc.constant('snapshot' as const), take: fc.boolean() });

describe('catalog reads from the in-memory tables', () => {
  const title =
    'equal the same reads over the durable tables under random registrations, deregistrations, check updates ' +
    'and snapshot installs';
  it(title, async () => {
    const seed = Number(process.env['FC_SEED'] ?? Date.now() % 1_000_000_000);
    console.log(`[property] cached catalog reads: seed=${seed} (replay with FC_SEED=${seed})`);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(register, register, deregister, snapshot), { maxLength: 40 }), async (ops) => {
        const machine = new StateMachine(dataModules());
        const durable = new MemoryStateStore(machine.tables);
        const store = new CachedTablesStore(durable, [...CATALOG_TABLES, META_TABLE], META_TABLE);
        const writer = new WritePipeline(new SingleNodeCommitter(new Applier(store, machine, new WatchRegistry(100))));
        let saved: Uint8Array | undefined;
        for (const op of ops) {
          if (op.type === 'register') {
            const serviceId = op.service ? `${op.service.name}-${op.service.id}` : '';
            const command: CatalogRegisterCommand = {
              type: 'catalog.register',
              datacenter: 'dc1',
              node: { ID: '', Node: op.node, Address: op.address, TaggedAddresses: {}, Meta: {} },
              skipNodeUpdate: false,
              ...(op.service
                ? {
                    service: {
                      ID: serviceId,
                      Service: op.service.name,
                      Tags: [],
                      Address: '',
                      TaggedAddresses: {},
                      Meta: {},
                      Port: op.service.port,
                      Weights: { Passing: 1, Warning: 1 },
                      EnableTagOverride: false,
                    },
                  }
                : {}),
              checks: [
                {
                  CheckID: op.nodeCheck || !op.service ? 'serfHealth' : `check-${serviceId}`,
                  Name: 'check',
                  Status: op.status,
                  Notes: '',
                  Output: '',
                  ServiceID: op.nodeCheck || !op.service ? '' : serviceId,
                  Type: '',
                },
              ],
              now: 0,
            };
            await writer.submit(command).catch(() => undefined);
          } else if (op.type === 'deregister') {
            const command: CatalogDeregisterCommand = {
              type: 'catalog.deregister',
              node: op.node,
              ...(op.what === 'service' ? { serviceID: `web-${op.id}` } : {}),
              ...(op.what === 'check' ? { checkID: 'serfHealth' } : {}),
              now: 0,
            };
            await writer.submit(command).catch(() => undefined);
          } else if (op.take || !saved) {
            saved = durable.read((tx) => dumpTables(tx, machine.tables));
          } else {
            // Install the saved snapshot, as Raft does for a follower that fell behind.
            const dump = parseDump(saved, machine.tables);
            await store.write((tx) => replaceTables(tx, machine.tables, dump));
          }
          expect(store.read(everyRead)).toEqual(durable.read(everyRead));
        }
      }),
      { seed, numRuns: 150 },
    );
  });
});
