import * as dnsPacket from 'dns-packet';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DnsOptions } from '../core/dns/resolver.js';
import { createTestNode, type TestNode } from '../testing/harness.js';
import { seededRng } from '../testing/seeded-rng.js';
import { answerQuery } from './dns.js';

// The A record limit on the wire, with UDP truncation (Consul: dns_config.a_record_limit is
// applied while building the answer, before trimming to the UDP size; it never sets TC itself).

let node: TestNode;
const options = (aRecordLimit: number): DnsOptions => ({
  domain: 'consul',
  datacenter: 'dc1',
  serviceTtl: 0,
  nodeTtl: 0,
  rng: seededRng(6),
  aRecordLimit,
});

function ask(type: 'A' | 'SRV', limit: number, udp: boolean) {
  const query = dnsPacket.encode({
    type: 'query',
    id: 7,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name: 'big.service.consul', class: 'IN' }],
  });
  const out = answerQuery(query, node.store, options(limit), udp) as Buffer;
  const reply = dnsPacket.decode(out);
  return {
    truncated: ((reply.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0,
    types: (reply.answers ?? []).map((a) => a.type),
  };
}

beforeAll(async () => {
  node = createTestNode();
  for (let i = 0; i < 60; i++) {
    const res = await node.request('/v1/catalog/register', {
      method: 'PUT',
      body: JSON.stringify({
        Node: `big${i}`,
        Address: `10.1.0.${i + 1}`,
        Service: { Service: 'big', Port: 9000 + i },
      }),
    });
    expect(res.status).toBe(200);
  }
});

describe('DNS A record limit on the wire', () => {
  it('without a limit, 60 A records overflow 512 bytes of UDP (TC) and all come over TCP', () => {
    const udp = ask('A', 0, true);
    expect(udp.truncated).toBe(true);
    expect(udp.types.length).toBeLessThan(60);
    expect(ask('A', 0, false)).toEqual({ truncated: false, types: Array(60).fill('A') });
  });

  it('with a limit, answers that many A records over UDP and TCP without TC', () => {
    for (const udp of [true, false]) expect(ask('A', 5, udp)).toEqual({ truncated: false, types: Array(5).fill('A') });
  });

  it('never limits SRV answers (UDP still truncates them to fit)', () => {
    expect(ask('SRV', 5, false)).toEqual({ truncated: false, types: Array(60).fill('SRV') });
    expect(ask('SRV', 5, true).truncated).toBe(true);
  });
});
