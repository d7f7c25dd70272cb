import { describe, expect, it } from 'vitest';
import type { ProbeResult, Probes } from './probes.js';
import { createTestNode } from '../../testing/harness.js';
import { seededRng } from '../../testing/seeded-rng.js';
import { type AgentSnapshot, LocalAgent } from './agent.js';
import { parseAgentService, parseCheckDefinition } from './definitions.js';

const settle = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};

/** Probes whose answers the test sets; every call is counted. */
function fakeProbes() {
  const answers = new Map<string, ProbeResult>();
  const calls: string[] = [];
  const answer = (key: string): Promise<ProbeResult> => {
    calls.push(key);
    return Promise.resolve(answers.get(key) ?? { status: 'critical', output: 'no answer set' });
  };
  const probes: Probes = {
    http: (r) => answer(r.url),
    tcp: (a) => answer(a),
    udp: (a) => answer(a),
    grpc: (t) => answer(t),
    script: (args) => answer(args.join(' ')),
  };
  return { probes, answers, calls };
}

function setup(snapshot?: AgentSnapshot, enableScriptChecks = false) {
  const node = createTestNode();
  const fake = fakeProbes();
  const saved: AgentSnapshot[] = [];
  const writes: string[] = [];
  const writer = {
    submit: (cmd: { type: string }) => {
      writes.push(cmd.type);
      return node.deps.writer.submit(cmd);
    },
  } as unknown as typeof node.deps.writer;
  const agent = new LocalAgent({
    node: { name: 'agent1', id: 'id-1', address: '10.1.1.1', datacenter: 'dc1' },
    clock: node.clock,
    rng: seededRng(3),
    logger: node.deps.logger,
    probes: fake.probes,
    store: node.store,
    writer,
    persist: async (s) => {
      saved.push(s);
    },
    enableScriptChecks,
    syncIntervalMs: 60_000,
    checkUpdateIntervalMs: 300_000,
    maxServices: 3,
    maxChecks: 10,
  });
  agent.start(snapshot);
  const health = async (name: string) =>
    (await (await node.request(`/v1/health/service/${name}`)).json()) as Array<{
      Checks: Array<{ CheckID: string; Status: string; Output: string }>;
    }>;
  return { node, agent, fake, saved, writes, health };
}

const service = (body: object) => parseAgentService(body);

describe('local agent', () => {
  it('names checks service:<id> and service:<id>:N, and syncs the service and node into the catalog', async () => {
    const t = setup();
    await t.agent.registerService(service({ Name: 'web', Port: 80, Check: { TTL: '10s' } }));
    await t.agent.registerService(
      service({ ID: 'db1', Name: 'db', Checks: [{ TTL: '10s' }, { TCP: '10.0.0.9:5432', Interval: '5s' }] }),
    );
    expect(
      t.agent
        .listChecks()
        .map((c) => c.CheckID)
        .sort(),
    ).toEqual(['serfHealth', 'service:db1:1', 'service:db1:2', 'service:web']);
    t.node.clock.advance(25);
    await settle(20);
    const web = await t.health('web');
    expect(web).toHaveLength(1);
    expect(web[0]?.Checks.map((c) => [c.CheckID, c.Status]).sort()).toEqual([
      ['serfHealth', 'passing'],
      ['service:web', 'critical'],
    ]);
  });

  it('TTL checks start critical, pass on update, and expire back to critical', async () => {
    const t = setup();
    await t.agent.registerService(service({ Name: 'web', Check: { TTL: '10s' } }));
    const status = () => t.agent.serviceHealth('web')?.checks.find((c) => c.CheckID === 'service:web')?.Status;
    expect(status()).toBe('critical');
    await t.agent.updateTtl('service:web', 'passing', 'ok');
    expect(status()).toBe('passing');
    t.node.clock.advance(9_999);
    expect(status()).toBe('passing');
    t.node.clock.advance(2);
    expect(status()).toBe('critical');
    expect(t.agent.serviceHealth('web')?.checks.find((c) => c.CheckID === 'service:web')?.Output).toMatch(
      /TTL expired/,
    );
    await expect(t.agent.updateTtl('serfHealth', 'passing', '')).rejects.toThrow(/does not have associated TTL/);
    await expect(t.agent.updateTtl('nope', 'passing', '')).rejects.toThrow(/Unknown check/);
  });

  it('probes on the interval and honours SuccessBeforePassing and FailuresBeforeCritical', async () => {
    const t = setup();
    await t.agent.registerService(
      service({
        Name: 'api',
        Check: {
          HTTP: 'http://api/health',
          Interval: '1s',
          SuccessBeforePassing: 2,
          FailuresBeforeCritical: 2,
          Status: 'critical',
        },
      }),
    );
    const status = () => t.agent.serviceHealth('api')?.checks.find((c) => c.CheckID === 'service:api')?.Status;
    t.fake.answers.set('http://api/health', { status: 'passing', output: 'ok' });
    t.node.clock.advance(1000);
    await settle();
    expect(status()).toBe('critical');
    t.node.clock.advance(1000);
    await settle();
    expect(status()).toBe('passing');
    t.fake.answers.set('http://api/health', { status: 'critical', output: 'boom' });
    t.node.clock.advance(1000);
    await settle();
    expect(status()).toBe('passing');
    t.node.clock.advance(1000);
    await settle();
    expect(status()).toBe('critical');
    expect(t.fake.calls.length).toBeGreaterThanOrEqual(4);
  });

  it('deregisters a service whose check stays critical for DeregisterCriticalServiceAfter', async () => {
    const t = setup();
    await t.agent.registerService(
      service({ Name: 'flaky', Check: { TCP: 'f:1', Interval: '1s', DeregisterCriticalServiceAfter: '3s' } }),
    );
    for (let i = 0; i < 6; i++) {
      t.node.clock.advance(1000);
      await settle();
    }
    expect(t.agent.getService('flaky')).toBeUndefined();
  });

  it('maintenance mode adds a critical check; disabling removes it', async () => {
    const t = setup();
    await t.agent.registerService(service({ Name: 'web', Check: { TTL: '1m' } }));
    await t.agent.updateTtl('service:web', 'passing', '');
    await t.agent.setMaintenance('web', true, 'upgrading');
    expect(t.agent.serviceHealth('web')?.status).toBe('critical');
    expect(t.agent.listChecks().find((c) => c.CheckID === '_service_maintenance:web')?.Notes).toBe('upgrading');
    await t.agent.setMaintenance('web', false, '');
    expect(t.agent.serviceHealth('web')?.status).toBe('passing');
  });

  it('persists definitions and restores them after a restart', async () => {
    const t = setup();
    await t.agent.registerService(service({ Name: 'web', Port: 8080, Check: { TTL: '30s' } }));
    await t.agent.registerCheck(parseCheckDefinition({ Name: 'disk', TCP: 'x:1', Interval: '10s' }, 'check'));
    const last = t.saved.at(-1) as AgentSnapshot;
    expect(last.services.map((s) => s.ID)).toEqual(['web']);
    expect(last.checks.map((c) => c.CheckID).sort()).toEqual(['disk', 'service:web']);
    const again = setup(last);
    expect(again.agent.getService('web')?.Port).toBe(8080);
    expect(
      again.agent
        .listChecks()
        .map((c) => c.CheckID)
        .sort(),
    ).toEqual(['disk', 'serfHealth', 'service:web']);
  });

  it('anti-entropy writes only what changed, and removes what is no longer local', async () => {
    const t = setup();
    await t.agent.registerService(service({ Name: 'web', Check: { TTL: '1m' } }));
    t.node.clock.advance(25);
    await settle(20);
    const before = t.writes.length;
    await t.agent.sync();
    await t.agent.sync();
    expect(t.writes.length).toBe(before);
    // A foreign service registered on this node through the catalog is removed by the next sync.
    await t.node.request('/v1/catalog/register', {
      method: 'PUT',
      body: JSON.stringify({ Node: 'agent1', Address: '10.1.1.1', Service: { Service: 'stray' } }),
    });
    await t.agent.sync();
    expect(await (await t.node.request('/v1/catalog/service/stray')).json()).toEqual([]);
    await t.agent.deregisterService('web');
    t.node.clock.advance(25);
    await settle(20);
    expect(await (await t.node.request('/v1/catalog/service/web')).json()).toEqual([]);
  });

  it('refuses script checks unless enabled, unknown services, and too many services', async () => {
    const t = setup();
    await expect(
      t.agent.registerService(service({ Name: 's', Check: { Args: ['/bin/true'], Interval: '10s' } })),
    ).rejects.toThrow(/Scripts are disabled/);
    await expect(
      t.agent.registerCheck(parseCheckDefinition({ Name: 'c', TTL: '1s', ServiceID: 'ghost' }, 'check')),
    ).rejects.toThrow(/does not exist/);
    for (const n of ['a', 'b', 'c']) await t.agent.registerService(service({ Name: n }));
    await expect(t.agent.registerService(service({ Name: 'd' }))).rejects.toThrow(/too many services/);
    const s = setup(undefined, true);
    await s.agent.registerService(service({ Name: 's', Check: { Args: ['/bin/true'], Interval: '10s' } }));
  });

  it('parses check definitions and refuses bad ones with the field named', () => {
    expect(() => parseCheckDefinition({ Name: 'x' }, 'check')).toThrow(/exactly one of TTL, HTTP/);
    expect(() => parseCheckDefinition({ Name: 'x', HTTP: 'http://a' }, 'check')).toThrow(/Interval is required/);
    expect(() => parseCheckDefinition({ Name: 'x', TTL: 'soon' }, 'check')).toThrow(/TTL/);
    expect(() => parseCheckDefinition({ Name: 'x', TTL: '1s', Status: 'ok' }, 'check')).toThrow(/Status/);
    const d = parseCheckDefinition(
      { Name: 'x', HTTP: 'http://a', Interval: '100ms', Header: { A: ['b'] }, Method: 'POST' },
      'check',
    );
    expect(d).toMatchObject({
      kind: 'http',
      intervalMs: 1000,
      timeoutMs: 10_000,
      Method: 'POST',
      Header: { A: ['b'] },
    });
  });
});
