import dgram from 'node:dgram';
import { createServer, type Server } from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeProbes } from './probes.js';

const closers: Array<() => void> = [];
afterAll(() => closers.forEach((c) => c()));

async function listen<T extends { listen: (...a: never[]) => unknown; address: () => unknown }>(
  server: T,
): Promise<number> {
  await new Promise<void>((r) => (server.listen as (p: number, h: string, cb: () => void) => void)(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

describe('health-check probes (Node)', () => {
  it('HTTP: 2xx passing, 429 warning, 5xx critical; method, headers and body are sent', async () => {
    let seen: { method?: string; header?: string; body?: string } = {};
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen = { method: req.method, header: String(req.headers['x-probe']), body };
        const code = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('code') ?? 200);
        res.writeHead(code);
        res.end('x'.repeat(10_000));
      });
    });
    const port = await listen(server);
    closers.push(() => server.close());
    const probe = (code: number) =>
      nodeProbes.http({
        url: `http://127.0.0.1:${port}/?code=${code}`,
        method: 'POST',
        headers: { 'X-Probe': ['yes'] },
        body: 'ping',
        tlsSkipVerify: false,
        timeoutMs: 2000,
      });
    expect((await probe(204)).status).toBe('passing');
    expect(seen).toEqual({ method: 'POST', header: 'yes', body: 'ping' });
    expect((await probe(429)).status).toBe('warning');
    const bad = await probe(503);
    expect(bad.status).toBe('critical');
    expect(bad.output).toMatch(/503/);
    expect(bad.output.length).toBeLessThan(4300);
    expect(
      (
        await nodeProbes.http({
          url: 'http://127.0.0.1:1/',
          method: 'GET',
          headers: {},
          body: '',
          tlsSkipVerify: false,
          timeoutMs: 1000,
        })
      ).status,
    ).toBe('critical');
  });

  it('TCP: passing when a connection opens, critical when refused', async () => {
    const server = net.createServer((s) => s.end());
    const port = await listen(server);
    closers.push(() => server.close());
    expect((await nodeProbes.tcp(`127.0.0.1:${port}`, 1000)).status).toBe('passing');
    expect((await nodeProbes.tcp('127.0.0.1:1', 1000)).status).toBe('critical');
  });

  it('UDP: passing on an answer, critical on port unreachable', async () => {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (m, r) => sock.send(m, r.port, r.address));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    closers.push(() => sock.close());
    expect((await nodeProbes.udp(`127.0.0.1:${sock.address().port}`, 1000)).status).toBe('passing');
    const dead = dgram.createSocket('udp4');
    await new Promise<void>((r) => dead.bind(0, '127.0.0.1', r));
    const deadPort = dead.address().port;
    dead.close();
    expect((await nodeProbes.udp(`127.0.0.1:${deadPort}`, 1000)).status).toBe('critical');
  });

  it('gRPC health: SERVING is passing, NOT_SERVING critical', async () => {
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      let body = Buffer.alloc(0);
      stream.on('data', (d: Buffer) => (body = Buffer.concat([body, d])));
      stream.on('end', () => {
        const service = body.length > 7 ? body.subarray(7).toString() : '';
        const status = headers[':path'] === '/grpc.health.v1.Health/Check' && service !== 'down' ? 1 : 2;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, status]));
      });
    });
    const port = await listen(server);
    closers.push(() => server.close());
    expect((await nodeProbes.grpc(`127.0.0.1:${port}`, false, 2000)).status).toBe('passing');
    expect((await nodeProbes.grpc(`127.0.0.1:${port}/down`, false, 2000)).status).toBe('critical');
    expect((await nodeProbes.grpc('127.0.0.1:1', false, 1000)).status).toBe('critical');
  });

  it('script: exit 0 passing, 1 warning, other critical, with output', async () => {
    expect(await nodeProbes.script(['sh', '-c', 'echo fine'], 2000)).toEqual({ status: 'passing', output: 'fine\n' });
    expect((await nodeProbes.script(['sh', '-c', 'echo meh; exit 1'], 2000)).status).toBe('warning');
    expect((await nodeProbes.script(['sh', '-c', 'exit 2'], 2000)).status).toBe('critical');
    expect((await nodeProbes.script(['sleep', '5'], 300)).status).toBe('critical');
  });
});
