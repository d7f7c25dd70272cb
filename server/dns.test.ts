import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, spawnServer, type SpawnedServer } from '../testing/spawn-server.js';

const run = promisify(execFile);
let server: SpawnedServer;
let dnsPort: number;

async function dig(name: string, type: string, ...extra: string[]) {
  const { stdout } = await run('dig', [
    '@127.0.0.1',
    '-p',
    String(dnsPort),
    name,
    type,
    '+noall',
    '+answer',
    '+additional',
    '+comments',
    '+time=3',
    '+tries=1',
    ...extra,
  ]);
  const status = /status: (\w+)/.exec(stdout)?.[1];
  const flags = /;; flags: ([a-z ]+);/.exec(stdout)?.[1]?.split(' ') ?? [];
  const section = (title: string) => {
    const at = stdout.indexOf(`;; ${title} SECTION:`);
    if (at < 0) return [];
    const lines = stdout.slice(at).split('\n').slice(1);
    const end = lines.findIndex((l) => l.trim() === '');
    return (end < 0 ? lines : lines.slice(0, end)).map((l) => l.trim().split(/\s+/));
  };
  return { status, flags, answers: section('ANSWER'), additional: section('ADDITIONAL'), raw: stdout };
}

async function register(body: object) {
  const res = await fetch(`${server.url}/v1/catalog/register`, { method: 'PUT', body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  server = await spawnServer();
  dnsPort = Number(server.dnsAddr.split(':')[1]);
  await register({
    Node: 'n1',
    Address: '10.0.0.1',
    NodeMeta: { rack: 'r1', env: 'prod' },
    Service: { ID: 'web1', Service: 'web', Port: 8081, Tags: ['primary'], Weights: { Passing: 7, Warning: 1 } },
    Check: { CheckID: 'web1-ok', ServiceID: 'web1', Status: 'passing' },
  });
  await register({
    Node: 'n2',
    Address: '10.0.0.2',
    Service: { ID: 'web2', Service: 'web', Port: 8082 },
    Check: { CheckID: 'web2-bad', ServiceID: 'web2', Status: 'critical' },
  });
  await register({
    Node: 'n3',
    Address: '10.0.0.3',
    Service: { ID: 'web3', Service: 'web', Port: 8083, Address: 'fd00::3' },
    Check: { CheckID: 'web3-warn', ServiceID: 'web3', Status: 'warning' },
  });
  await register({
    Node: 'n4',
    Address: '10.0.0.4',
    Service: { ID: 'down', Service: 'down', Port: 1 },
    Check: { CheckID: 'down-bad', ServiceID: 'down', Status: 'critical' },
  });
  for (const port of [7001, 7002, 7003])
    await register({
      Node: 'multi',
      Address: '10.0.0.9',
      Service: { ID: `shared-${port}`, Service: 'shared', Port: port },
    });
  for (const [port, address] of [
    [7101, '127.0.0.2'],
    [7102, '127.0.0.3'],
  ] as const)
    await register({
      Node: 'multi',
      Address: '10.0.0.9',
      Service: { ID: `own-${port}`, Service: 'own', Port: port, Address: address },
    });
  for (let i = 0; i < 40; i++)
    await register({ Node: `big${i}`, Address: `10.1.0.${i + 1}`, Service: { Service: 'big', Port: 9000 + i } });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await cleanupAll();
});

describe('DNS interface (queried with dig)', () => {
  it('answers A records for healthy instances only (warning included, critical excluded)', async () => {
    const r = await dig('web.service.consul', 'A');
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toContain('aa');
    expect(r.answers.map((a) => a[4]).sort()).toEqual(['10.0.0.1']);
    const six = await dig('web.service.consul', 'AAAA');
    expect(six.answers.map((a) => a[4])).toEqual(['fd00::3']);
  });

  it('answers SRV with weights, node or .addr. targets and one additional record per SRV record', async () => {
    const r = await dig('web.service.dc1.consul', 'SRV');
    const srv = r.answers
      .map((a) => ({ name: a[0], weight: a[5], port: a[6], target: a[7] }))
      .sort((a, b) => Number(a.port) - Number(b.port));
    expect(srv).toEqual([
      { name: 'web.service.dc1.consul.', weight: '7', port: '8081', target: 'n1.node.dc1.consul.' },
      {
        name: 'web.service.dc1.consul.',
        weight: '1',
        port: '8083',
        target: 'fd000000000000000000000000000003.addr.dc1.consul.',
      },
    ]);
    expect(r.additional.map((a) => [a[0], a[3], a[4]]).sort()).toEqual([
      ['fd000000000000000000000000000003.addr.dc1.consul.', 'AAAA', 'fd00::3'],
      ['n1.node.dc1.consul.', 'A', '10.0.0.1'],
    ]);
  });

  it('keeps instances on one node apart: an additional record per SRV record, .addr. per address', async () => {
    const shared = await dig('_shared._tcp.service.consul', 'SRV');
    expect(shared.status).toBe('NOERROR');
    expect(shared.answers.map((a) => [a[6], a[7]]).sort()).toEqual([
      ['7001', 'multi.node.dc1.consul.'],
      ['7002', 'multi.node.dc1.consul.'],
      ['7003', 'multi.node.dc1.consul.'],
    ]);
    expect(shared.additional.map((a) => [a[0], a[3], a[4]])).toEqual(
      Array.from({ length: 3 }, () => ['multi.node.dc1.consul.', 'A', '10.0.0.9']),
    );
    const own = await dig('_own._tcp.service.consul', 'SRV');
    expect(own.answers.map((a) => [a[6], a[7]]).sort()).toEqual([
      ['7101', '7f000002.addr.dc1.consul.'],
      ['7102', '7f000003.addr.dc1.consul.'],
    ]);
    expect(own.additional.map((a) => [a[0], a[4]]).sort()).toEqual([
      ['7f000002.addr.dc1.consul.', '127.0.0.2'],
      ['7f000003.addr.dc1.consul.', '127.0.0.3'],
    ]);
  });

  it('answers <hex>.addr names with A or AAAA, and NXDOMAIN for malformed ones', async () => {
    const a = await dig('7f000002.addr.dc1.consul', 'A');
    expect(a.status).toBe('NOERROR');
    expect(a.answers.map((x) => [x[0], x[3], x[4]])).toEqual([['7f000002.addr.dc1.consul.', 'A', '127.0.0.2']]);
    const six = await dig('fd000000000000000000000000000003.addr.consul', 'AAAA');
    expect(six.answers.map((x) => [x[3], x[4]])).toEqual([['AAAA', 'fd00::3']]);
    const other = await dig('7f000002.addr.consul', 'AAAA');
    expect(other.status).toBe('NOERROR');
    expect(other.answers).toEqual([]);
    expect(other.additional.map((x) => [x[3], x[4]])).toEqual([['A', '127.0.0.2']]);
    for (const name of ['7f0000.addr.dc1.consul', 'nothexxx.addr.consul', '7f0000020.addr.consul'])
      expect((await dig(name, 'A')).status, name).toBe('NXDOMAIN');
  });

  it('filters by tag, in both forms', async () => {
    expect((await dig('primary.web.service.consul', 'A')).answers.map((a) => a[4])).toEqual(['10.0.0.1']);
    expect((await dig('_web._primary.service.consul', 'SRV')).answers.map((a) => a[6])).toEqual(['8081']);
    expect((await dig('_web._tcp.service.consul', 'SRV')).answers).toHaveLength(2);
    expect((await dig('nosuchtag.web.service.consul', 'A')).status).toBe('NXDOMAIN');
  });

  it('answers node lookups with A and TXT, and NOERROR without records for a missing type', async () => {
    expect((await dig('n1.node.consul', 'A')).answers.map((a) => a[4])).toEqual(['10.0.0.1']);
    const txt = await dig('n1.node.dc1.consul', 'TXT');
    expect(txt.answers).toHaveLength(1);
    expect(txt.answers[0]?.[3]).toBe('TXT');
    expect(txt.answers[0]?.slice(4).sort()).toEqual(['"env=prod"', '"rack=r1"']);
    const none = await dig('n1.node.consul', 'AAAA');
    expect(none.status).toBe('NOERROR');
    expect(none.answers).toEqual([]);
  });

  it('says NXDOMAIN for unknown names and services with no healthy instance', async () => {
    for (const name of [
      'nope.service.consul',
      'ghost.node.consul',
      'web.service.otherdc.consul',
      'weird.consul',
      'down.service.consul',
    ]) {
      expect((await dig(name, 'A')).status, name).toBe('NXDOMAIN');
    }
    expect((await dig('example.com', 'A')).status).toBe('REFUSED');
  });

  it('sets TC over UDP when the answer does not fit, keeping each SRV with its address; full over TCP', async () => {
    const udp = await dig('big.service.consul', 'SRV', '+notcp', '+noedns', '+ignore');
    expect(udp.flags).toContain('tc');
    expect(udp.answers.length).toBeGreaterThan(0);
    expect(udp.answers.length).toBeLessThan(40);
    expect(udp.additional.map((a) => a[0]).sort()).toEqual(udp.answers.map((a) => a[7]).sort());
    const tcp = await dig('big.service.consul', 'SRV', '+tcp');
    expect(tcp.flags).not.toContain('tc');
    expect(tcp.answers).toHaveLength(40);
    expect(tcp.additional).toHaveLength(40);
  });

  it('shuffles answers', async () => {
    const orders = new Set<string>();
    for (let i = 0; i < 8; i++)
      orders.add((await dig('big.service.consul', 'A', '+tcp')).answers.map((a) => a[4]).join(','));
    expect(orders.size).toBeGreaterThan(1);
  });

  it('answers malformed packets with FORMERR or drops them, and keeps serving', async () => {
    const sock = dgram.createSocket('udp4');
    const reply = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
    const garbage = Buffer.from([
      0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    ]);
    sock.send(garbage, dnsPort, '127.0.0.1');
    const m = await reply;
    expect(m.readUInt16BE(0)).toBe(0x1234);
    expect(m.readUInt16BE(2) & 0xf).toBe(1); // FORMERR
    sock.send(Buffer.from([1, 2, 3]), dnsPort, '127.0.0.1');
    sock.close();
    expect((await dig('web.service.consul', 'A')).status).toBe('NOERROR');
  });
});
