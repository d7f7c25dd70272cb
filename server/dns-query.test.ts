import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, spawnServer, type SpawnedServer } from '../testing/spawn-server.js';

// A prepared query created through the HTTP API, asked for by `dig` over the built server's DNS.

const run = promisify(execFile);
let server: SpawnedServer;
let dnsPort: number;

/** The answer section of `dig <name> <type>` (each record split into fields) and its status. */
async function dig(name: string, type: string) {
  const { stdout } = await run('dig', [
    '@127.0.0.1',
    '-p',
    String(dnsPort),
    name,
    type,
    '+noall',
    '+answer',
    '+comments',
    '+time=3',
    '+tries=1',
  ]);
  const status = /status: (\w+)/.exec(stdout)?.[1];
  const at = stdout.indexOf(';; ANSWER SECTION:');
  const lines = at < 0 ? [] : stdout.slice(at).split('\n').slice(1);
  const end = lines.findIndex((l) => l.trim() === '');
  const answers = (end < 0 ? lines : lines.slice(0, end)).map((l) => l.trim().split(/\s+/));
  return { status, answers };
}

async function call(method: string, path: string, body: object): Promise<Response> {
  const res = await fetch(`${server.url}${path}`, { method, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
  return res;
}

beforeAll(async () => {
  server = await spawnServer();
  dnsPort = Number(server.dnsAddr.split(':')[1]);
  for (const [node, port, tags] of [
    ['n1', 8081, ['primary']],
    ['n2', 8082, ['replica']],
  ] as const)
    await call('PUT', '/v1/catalog/register', {
      Node: node,
      Address: `10.0.1.${port - 8080}`,
      Service: { ID: `db-${node}`, Service: 'db', Port: port, Tags: tags },
      Check: { CheckID: `db-${node}-ok`, ServiceID: `db-${node}`, Status: 'passing' },
    });
  await call('POST', '/v1/query', {
    Name: 'db-primary',
    Service: { Service: 'db', Tags: ['primary'] },
    DNS: { TTL: '42s' },
  });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await cleanupAll();
});

describe('dig <name>.query.consul', () => {
  it('answers SRV from the prepared query, with its DNS TTL', async () => {
    const { status, answers } = await dig('db-primary.query.consul', 'SRV');
    expect(status).toBe('NOERROR');
    // name ttl class type priority weight port target
    expect(answers).toEqual([['db-primary.query.consul.', '42', 'IN', 'SRV', '1', '1', '8081', 'n1.node.dc1.consul.']]);
  });

  it('answers A in the datacenter form and NXDOMAIN for an unknown query', async () => {
    const a = await dig('db-primary.query.dc1.consul', 'A');
    expect(a.answers.map((r) => [r[1], r[3], r[4]])).toEqual([['42', 'A', '10.0.1.1']]);
    expect((await dig('missing.query.consul', 'SRV')).status).toBe('NXDOMAIN');
  });
});
