import { beforeEach, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../testing/harness.js';
import { seededRng } from '../../testing/seeded-rng.js';
import { type DnsAnswer, type DnsOptions, type DnsType, resolve } from './resolver.js';

// Reference: Consul agent/dns.go (preparedQueryLookup: the query name may hold dots, an optional
// datacenter follows ".query", DNS.TTL overrides the service TTL, no instances is NXDOMAIN).

let node: TestNode;
const options = (o: Partial<DnsOptions> = {}): DnsOptions => ({
  domain: 'consul',
  datacenter: 'dc1',
  serviceTtl: 5,
  nodeTtl: 7,
  rng: seededRng(3),
  ...o,
});
const ask = (name: string, type: DnsType, o?: Partial<DnsOptions>): DnsAnswer =>
  node.store.read((tx) => resolve(tx, name, type, options(o)));

async function send(method: string, path: string, body: unknown): Promise<Response> {
  const res = await node.request(path, { method, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
  return res;
}

async function instance(nodeName: string, address: string, id: string, port: number, tags: string[], status: string) {
  await send('PUT', '/v1/catalog/register', {
    Node: nodeName,
    Address: address,
    Service: { ID: id, Service: 'web', Port: port, Tags: tags },
    Checks: [{ CheckID: `${id}-c`, Name: 'c', ServiceID: id, Status: status }],
  });
}

const summary = (a: DnsAnswer) =>
  a.answers
    .map((r) =>
      r.type === 'SRV' ? `SRV ${r.ttl} ${r.data.port} ${r.data.target}` : `${r.type} ${r.ttl} ${String(r.data)}`,
    )
    .sort();

beforeEach(async () => {
  node = createTestNode();
  await instance('n1', '10.0.0.1', 'w1', 8001, ['v1'], 'passing');
  await instance('n2', '10.0.0.2', 'w2', 8002, ['v2'], 'passing');
  await instance('n3', '10.0.0.3', 'w3', 8003, ['v1'], 'critical');
  await send('POST', '/v1/query', { Name: 'web-v1', Service: { Service: 'web', Tags: ['v1'] }, DNS: { TTL: '30s' } });
  await send('POST', '/v1/query', { Name: 'all.web', Service: { Service: 'web' } });
  await send('POST', '/v1/query', { Name: 'none', Service: { Service: 'web', Tags: ['v9'] } });
});

describe('<name>.query.<domain>', () => {
  it('honours the A record limit as service lookups do (Consul applies a_record_limit to both)', () => {
    expect(ask('all.web.query.consul', 'A').answers).toHaveLength(2);
    const limited = ask('all.web.query.consul', 'A', { aRecordLimit: 1 });
    expect(limited.answers).toHaveLength(1);
    // SRV answers are not limited.
    expect(ask('all.web.query.consul', 'SRV', { aRecordLimit: 1 }).answers).toHaveLength(2);
  });

  it('answers A and SRV records of the instances the query selects, with its DNS TTL', () => {
    expect(summary(ask('web-v1.query.consul', 'A'))).toEqual(['A 30 10.0.0.1']);
    const srv = ask('web-v1.query.consul.', 'SRV');
    expect(srv.rcode).toBe('NOERROR');
    expect(summary(srv)).toEqual(['SRV 30 8001 n1.node.dc1.consul.']);
    expect(srv.additionals.map((r) => `${r.name} ${r.type} ${String(r.data)}`)).toEqual([
      'n1.node.dc1.consul. A 10.0.0.1',
    ]);
    expect(srv.answers.every((r) => r.name === 'web-v1.query.consul.')).toBe(true);
  });

  it('uses the service TTL without a DNS TTL, takes names with dots and the local datacenter', () => {
    expect(summary(ask('all.web.query.consul', 'A'))).toEqual(['A 5 10.0.0.1', 'A 5 10.0.0.2']);
    expect(summary(ask('ALL.web.query.dc1.consul', 'SRV'))).toEqual([
      'SRV 5 8001 n1.node.dc1.consul.',
      'SRV 5 8002 n2.node.dc1.consul.',
    ]);
    expect(ask('web-v1.query.dc2.consul', 'A').rcode).toBe('NXDOMAIN');
  });

  it('is NXDOMAIN for unknown queries, queries that select nothing, and a bare ".query"', () => {
    for (const name of ['nope.query.consul', 'none.query.consul', 'query.consul'])
      expect([name, ask(name, 'A').rcode]).toEqual([name, 'NXDOMAIN']);
  });

  it('reaches templates by name, and leaves a service named "query" to service lookups', async () => {
    await send('POST', '/v1/query', {
      Name: 'tag-',
      Template: { Type: 'name_prefix_match' },
      Service: { Service: 'web', Tags: ['${name.suffix}'] },
    });
    expect(summary(ask('tag-v2.query.consul', 'A'))).toEqual(['A 5 10.0.0.2']);
    await send('PUT', '/v1/catalog/register', {
      Node: 'n4',
      Address: '10.0.0.4',
      Service: { ID: 'q', Service: 'query', Port: 1 },
    });
    expect(summary(ask('query.service.consul', 'A'))).toEqual(['A 5 10.0.0.4']);
  });

  it('answers only what DNS clients may read', () => {
    const access = () => ({ canRead: (r: 'service' | 'node', name: string) => r === 'service' || name === 'n2' });
    expect(summary(ask('all.web.query.consul', 'A', { access }))).toEqual(['A 5 10.0.0.2']);
    expect(ask('web-v1.query.consul', 'A', { access }).rcode).toBe('NXDOMAIN');
  });
});
