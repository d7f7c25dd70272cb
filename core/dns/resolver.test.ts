import { beforeEach, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../testing/harness.js';
import { seededRng } from '../../testing/seeded-rng.js';
import { ConfigError } from '../errors.js';
import {
  type DnsAnswer,
  type DnsOptions,
  type DnsRecord,
  type DnsType,
  resolve,
  validateDnsOptions,
} from './resolver.js';

// Reference: Consul agent/dns (message_serializer.go getAnswerExtrasForAddressAndTarget and
// encodeIPAsFqdn, router.go buildAddressResults) and its tests (router_addr_test.go,
// dns_service_lookup_test.go), read for behaviour only.

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

async function register(body: object): Promise<void> {
  const res = await node.request('/v1/catalog/register', { method: 'PUT', body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** Each SRV record with the additional records that belong to it, sorted by port. */
function srvWithExtras(a: DnsAnswer): Array<{ port: number; target: string; extra: string[] }> {
  const per = a.additionalsPerAnswer ?? [];
  expect(per).toHaveLength(a.answers.length);
  let at = 0;
  const out: Array<{ port: number; target: string; extra: string[] }> = [];
  a.answers.forEach((r, i) => {
    const mine = a.additionals.slice(at, at + (per[i] as number));
    at += per[i] as number;
    if (r.type !== 'SRV') return;
    out.push({
      port: r.data.port,
      target: r.data.target,
      extra: mine.map((x) => `${x.name} ${x.ttl} ${x.type} ${String(x.data)}`),
    });
  });
  expect(at).toBe(a.additionals.length);
  return out.sort((x, y) => x.port - y.port);
}

beforeEach(() => {
  node = createTestNode();
});

describe('SRV targets and additional records', () => {
  it('gives every instance on one node its own additional record when they fall back to the node', async () => {
    for (const port of [8001, 8002, 8003])
      await register({
        Node: 'host1',
        Address: '10.0.0.1',
        Service: { ID: `web-${port}`, Service: 'web', Port: port },
      });
    const a = ask('_web._tcp.service.consul', 'SRV');
    expect(a.rcode).toBe('NOERROR');
    const target = 'host1.node.dc1.consul.';
    expect(srvWithExtras(a)).toEqual(
      [8001, 8002, 8003].map((port) => ({ port, target, extra: [`${target} 5 A 10.0.0.1`] })),
    );
    expect(a.answers.every((r) => r.name === '_web._tcp.service.consul.' && r.ttl === 5)).toBe(true);
  });

  it('points instances with their own IP at <hex>.addr.<dc>.<domain>, A or AAAA', async () => {
    await register({
      Node: 'host1',
      Address: '10.0.0.1',
      Service: { ID: 'a', Service: 'web', Port: 8001, Address: '127.0.0.2' },
    });
    await register({
      Node: 'host1',
      Address: '10.0.0.1',
      Service: { ID: 'b', Service: 'web', Port: 8002, Address: '127.0.0.3' },
    });
    await register({
      Node: 'host1',
      Address: '10.0.0.1',
      Service: { ID: 'c', Service: 'web', Port: 8003, Address: '2607:20:4005:808::200e' },
    });
    // The same address as the node's still gets an .addr. target.
    await register({
      Node: 'host1',
      Address: '10.0.0.1',
      Service: { ID: 'd', Service: 'web', Port: 8004, Address: '10.0.0.1' },
    });
    expect(srvWithExtras(ask('web.service.dc1.consul', 'SRV'))).toEqual([
      { port: 8001, target: '7f000002.addr.dc1.consul.', extra: ['7f000002.addr.dc1.consul. 5 A 127.0.0.2'] },
      { port: 8002, target: '7f000003.addr.dc1.consul.', extra: ['7f000003.addr.dc1.consul. 5 A 127.0.0.3'] },
      {
        port: 8003,
        target: '2607002040050808000000000000200e.addr.dc1.consul.',
        extra: ['2607002040050808000000000000200e.addr.dc1.consul. 5 AAAA 2607:20:4005:808::200e'],
      },
      { port: 8004, target: '0a000001.addr.dc1.consul.', extra: ['0a000001.addr.dc1.consul. 5 A 10.0.0.1'] },
    ]);
  });

  it('repeats the additional record for instances sharing one service address', async () => {
    for (const port of [8001, 8002])
      await register({
        Node: 'host1',
        Address: '10.0.0.1',
        Service: { ID: `w${port}`, Service: 'web', Port: port, Address: '127.0.0.9' },
      });
    const a = ask('web.service.consul', 'SRV');
    expect(a.additionals.map((r) => `${r.name} ${String(r.data)}`)).toEqual([
      '7f000009.addr.dc1.consul. 127.0.0.9',
      '7f000009.addr.dc1.consul. 127.0.0.9',
    ]);
  });

  it('answers one SRV record per node, service address and port', async () => {
    for (const id of ['x', 'y'])
      await register({ Node: 'host1', Address: '10.0.0.1', Service: { ID: id, Service: 'web', Port: 9000 } });
    await register({ Node: 'host2', Address: '10.0.0.2', Service: { ID: 'z', Service: 'web', Port: 9000 } });
    expect(
      ask('web.service.consul', 'SRV')
        .answers.map((r) => (r.type === 'SRV' ? r.data.target : r.type))
        .sort(),
    ).toEqual(['host1.node.dc1.consul.', 'host2.node.dc1.consul.']);
    // A answers name each address once.
    await register({ Node: 'host3', Address: '10.0.0.1', Service: { ID: 'v', Service: 'web', Port: 9001 } });
    expect(
      ask('web.service.consul', 'A')
        .answers.map((r) => r.data)
        .sort(),
    ).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('points at a hostname service address, resolving it only inside the domain', async () => {
    await register({ Node: 'db-host', Address: '10.9.0.1' });
    await register({
      Node: 'host1',
      Address: '10.0.0.1',
      Service: { ID: 'out', Service: 'web', Port: 8001, Address: 'www.example.com' },
    });
    await register({
      Node: 'host1',
      Address: '10.0.0.1',
      Service: { ID: 'in', Service: 'web', Port: 8002, Address: 'DB-Host.node.consul' },
    });
    await register({
      Node: 'host1',
      Address: '10.0.0.1',
      Service: { ID: 'self', Service: 'web', Port: 8003, Address: 'web.service.consul.' },
    });
    expect(srvWithExtras(ask('web.service.consul', 'SRV'))).toEqual([
      { port: 8001, target: 'www.example.com.', extra: [] },
      { port: 8002, target: 'DB-Host.node.consul.', extra: ['DB-Host.node.consul. 5 A 10.9.0.1'] },
      // A service address naming the question itself means the node (Consul does the same).
      { port: 8003, target: 'host1.node.dc1.consul.', extra: ['host1.node.dc1.consul. 5 A 10.0.0.1'] },
    ]);
    // Hostname instances still give no A records.
    expect(ask('web.service.consul', 'A').answers).toEqual([]);
  });

  it('leaves out instances whose target cannot be written as a DNS name', async () => {
    const long = 'x'.repeat(70);
    await register({ Node: long, Address: '10.0.0.5', Service: { ID: 'a', Service: 'web', Port: 8001 } });
    await register({
      Node: 'host1',
      Address: '10.0.0.1',
      Service: { ID: 'b', Service: 'web', Port: 8002, Address: `${long}.example.com` },
    });
    await register({ Node: 'host1', Address: '10.0.0.1', Service: { ID: 'c', Service: 'web', Port: 8003 } });
    expect(srvWithExtras(ask('web.service.consul', 'SRV')).map((s) => s.port)).toEqual([8003]);
  });

  it('resolves an in-domain hostname only as far as the access rules allow', async () => {
    await register({ Node: 'secret', Address: '10.9.0.1' });
    await register({
      Node: 'host1',
      Address: '10.0.0.1',
      Service: { ID: 'in', Service: 'web', Port: 8002, Address: 'secret.node.consul' },
    });
    const access = () => ({
      canRead: (kind: 'service' | 'node', name: string) => kind === 'service' || name !== 'secret',
    });
    expect(srvWithExtras(ask('web.service.consul', 'SRV', { access }))).toEqual([
      { port: 8002, target: 'secret.node.consul.', extra: [] },
    ]);
  });
});

describe('names and TTLs of answers', () => {
  it('names records after the question, datacenter included', async () => {
    await register({ Node: 'Host1', Address: '10.0.0.1', Service: { ID: 'a', Service: 'web', Port: 1 } });
    const names = (a: DnsAnswer) => a.answers.map((r: DnsRecord) => `${r.name} ${r.ttl}`);
    expect(names(ask('WEB.service.DC1.consul.', 'A'))).toEqual(['web.service.dc1.consul. 5']);
    expect(names(ask('host1.node.dc1.consul', 'A'))).toEqual(['host1.node.dc1.consul. 7']);
    expect(names(ask('host1.node.consul', 'A'))).toEqual(['host1.node.consul. 7']);
  });
});

describe('<hex>.addr names', () => {
  it('answers A for 8 hex digits and AAAA for 32, with or without a datacenter, with the node TTL', () => {
    const one = (a: DnsAnswer) => a.answers.map((r) => `${r.name} ${r.ttl} ${r.type} ${String(r.data)}`);
    expect(one(ask('c000020a.addr.dc1.consul', 'A'))).toEqual(['c000020a.addr.dc1.consul. 7 A 192.0.2.10']);
    expect(one(ask('C000020A.addr.consul.', 'A'))).toEqual(['c000020a.addr.consul. 7 A 192.0.2.10']);
    // Consul ignores the datacenter label of an address name.
    expect(one(ask('c000020a.addr.elsewhere.consul', 'ANY'))).toEqual([
      'c000020a.addr.elsewhere.consul. 7 A 192.0.2.10',
    ]);
    expect(one(ask('20010db800010002cafe000000001337.addr.dc1.consul', 'AAAA'))).toEqual([
      '20010db800010002cafe000000001337.addr.dc1.consul. 7 AAAA 2001:db8:1:2:cafe::1337',
    ]);
    expect(one(ask('00000000000000000000ffff7f000001.addr.consul', 'A'))).toEqual([
      '00000000000000000000ffff7f000001.addr.consul. 7 A 127.0.0.1',
    ]);
  });

  it('puts the address in the additional section for other question types', () => {
    for (const [name, type, expected] of [
      ['c000020a.addr.dc1.consul', 'AAAA', 'A 192.0.2.10'],
      ['c000020a.addr.dc1.consul', 'SRV', 'A 192.0.2.10'],
      ['20010db800010002cafe000000001337.addr.dc1.consul', 'A', 'AAAA 2001:db8:1:2:cafe::1337'],
    ] as const) {
      const a = ask(name, type);
      expect(a.rcode).toBe('NOERROR');
      expect(a.answers).toEqual([]);
      expect(a.additionals.map((r) => `${r.type} ${String(r.data)}`)).toEqual([expected]);
    }
  });

  it('says NXDOMAIN for labels that are not an address', () => {
    for (const name of [
      'c000.addr.dc1.consul',
      'c000020a0.addr.dc1.consul',
      'zz00020a.addr.dc1.consul',
      '2607002040050808000000000000200.addr.consul',
      'addr.consul',
      'x.c000020a.addr.dc1.consul',
    ]) {
      const a = ask(name, 'A');
      expect(a.rcode, name).toBe('NXDOMAIN');
      expect(
        a.authorities.map((r) => r.type),
        name,
      ).toEqual(['SOA']);
    }
  });
});

describe('load balancing', () => {
  /** Registers instance `i` of web on its own node and address, with a check in `status`. */
  async function instance(i: number, status: 'passing' | 'warning' | 'critical', passing: number, warning = 1) {
    await register({
      Node: `n${i}`,
      Address: `10.0.0.${i}`,
      Service: { ID: `web${i}`, Service: 'web', Port: 8000 + i, Weights: { Passing: passing, Warning: warning } },
      Check: { CheckID: `c${i}`, ServiceID: `web${i}`, Status: status },
    });
  }

  /** How often each address came first in `runs` answers, as fractions. */
  function firstAddress(runs: number, type: DnsType, o: Partial<DnsOptions>): Map<string, number> {
    const counts = new Map<string, number>();
    for (let i = 0; i < runs; i++) {
      const first = ask('web.service.consul', type, o).answers.find((r) => r.type === 'A');
      const k = String(first?.data);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return new Map([...counts].map(([k, c]) => [k, c / runs]));
  }

  it('orders A answers by Weights: passing and warning weights, critical never answered', async () => {
    await instance(1, 'passing', 1);
    await instance(2, 'passing', 3);
    await instance(3, 'warning', 50, 4);
    await instance(4, 'critical', 100, 100);
    // Fixed seed; 8 of weight in all, one standard deviation is under 0.008 for 4000 runs.
    const first = firstAddress(4000, 'A', { rng: seededRng(21) });
    expect([...first.keys()].sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect(Math.abs((first.get('10.0.0.1') ?? 0) - 1 / 8)).toBeLessThan(0.04);
    expect(Math.abs((first.get('10.0.0.2') ?? 0) - 3 / 8)).toBeLessThan(0.04);
    expect(Math.abs((first.get('10.0.0.3') ?? 0) - 4 / 8)).toBeLessThan(0.04);
    // The SRV weights say the same.
    const srv = ask('web.service.consul', 'SRV').answers.flatMap((r) =>
      r.type === 'SRV' ? [[r.data.port, r.data.weight]] : [],
    );
    expect(srv.sort()).toEqual([
      [8001, 1],
      [8002, 3],
      [8003, 4],
    ]);
  });

  it('limits service answers to aRecordLimit distinct addresses, never SRV records', async () => {
    for (let i = 1; i <= 5; i++) await instance(i, 'passing', i === 5 ? 96 : 1);
    // A second instance on one address counts once.
    await register({ Node: 'n1', Address: '10.0.0.1', Service: { ID: 'web1b', Service: 'web', Port: 9001 } });
    const count = (a: DnsAnswer, t: DnsRecord['type']) => a.answers.filter((r) => r.type === t).length;
    const rng = seededRng(4);
    for (let run = 0; run < 50; run++) {
      const two = ask('web.service.consul', 'A', { aRecordLimit: 2, rng });
      expect(count(two, 'A')).toBe(2);
      expect(new Set(two.answers.map((r) => r.data)).size).toBe(2);
      const any = ask('web.service.consul', 'ANY', { aRecordLimit: 2, rng });
      expect([count(any, 'A'), count(any, 'SRV')]).toEqual([2, 6]);
      expect(any.additionalsPerAnswer).toHaveLength(any.answers.length);
      expect(count(ask('web.service.consul', 'SRV', { aRecordLimit: 1, rng }), 'SRV')).toBe(6);
    }
    expect(count(ask('web.service.consul', 'A', { aRecordLimit: 0 }), 'A')).toBe(5);
    expect(count(ask('web.service.consul', 'A', { aRecordLimit: 50 }), 'A')).toBe(5);
    // With a limit of one the single answer is still drawn by weight (96 of 100 for n5).
    const first = firstAddress(2000, 'A', { aRecordLimit: 1, rng: seededRng(8) });
    expect(first.get('10.0.0.5') ?? 0).toBeGreaterThan(0.9);
    // Node answers are not service answers.
    expect(count(ask('n1.node.consul', 'A', { aRecordLimit: 1 }), 'A')).toBe(1);
  });

  it('rejects an aRecordLimit that is not an integer in 0..65535', () => {
    for (const bad of [-1, 1.5, 65536, Number.NaN])
      expect(() => validateDnsOptions(options({ aRecordLimit: bad }))).toThrow(ConfigError);
    for (const good of [0, 1, 65535]) validateDnsOptions(options({ aRecordLimit: good }));
  });
});
