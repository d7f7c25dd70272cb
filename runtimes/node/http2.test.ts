import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as h1Request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type ClientHttp2Session, connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makePki } from '../../testing/pki.js';
import { DEFAULT_HTTP_LIMITS, type HttpClient, type HttpLimits, type HttpListener, listenHttp } from './http-server.js';

let listener: HttpListener | undefined;
const sessions: ClientHttp2Session[] = [];
const dirs: string[] = [];
/** Requests to /wait park here until released. */
const parked: Array<() => void> = [];
let inHandler = 0;
let goneWaiting = 0;
let goneSeen = 0;
let maxInHandler = 0;

afterEach(async () => {
  for (const r of parked.splice(0)) r();
  for (const s of sessions.splice(0)) s.destroy();
  await listener?.close(100);
  listener = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  inHandler = maxInHandler = 0;
  goneWaiting = goneSeen = 0;
});

/** /wait parks until released; /echo answers the protocol, client address and body it saw. */
async function handle(req: Request, client: HttpClient): Promise<Response> {
  const path = new URL(req.url).pathname;
  if (path === '/gone') {
    const signal = client.gone();
    goneWaiting++;
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    goneSeen++;
    return new Response('late');
  }
  if (path === '/wait') {
    inHandler++;
    maxInHandler = Math.max(maxInHandler, inHandler);
    await new Promise<void>((resolve) => parked.push(resolve));
    inHandler--;
    return new Response('woke');
  }
  const body = (await client.readBody(1024)) ?? new Uint8Array();
  return new Response(`${client.remoteAddress} ${new TextDecoder().decode(body)}`);
}

async function serve(limits: Partial<HttpLimits> = {}, tls?: Parameters<typeof listenHttp>[3]): Promise<string> {
  listener = await listenHttp(handle, '127.0.0.1', 0, tls, { ...DEFAULT_HTTP_LIMITS, ...limits });
  return listener.address;
}

/** One HTTP/2 request on `session`: status, text and the stream's close code. */
function h2(
  session: ClientHttp2Session,
  path: string,
  body?: string,
): Promise<{ status: number; text: string; rstCode: number }> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':path': path, ':method': body === undefined ? 'GET' : 'PUT' });
    let status = 0;
    let text = '';
    s.on('response', (h) => (status = Number(h[':status'])));
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('close', () => resolve({ status, text, rstCode: s.rstCode ?? 0 }));
    s.on('error', () => undefined);
    session.on('error', reject);
    s.end(body);
  });
}

function h1(addr: string, path: string): Promise<{ status: number; text: string; retryAfter?: string }> {
  const [host, port] = addr.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const req = h1Request({ host, port: Number(port), path, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          text,
          ...(res.headers['retry-after'] ? { retryAfter: String(res.headers['retry-after']) } : {}),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls `cond` every few ms until it holds (fails the test after 10 s). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the Node listener speaks HTTP/2 beside HTTP/1.1', () => {
  it('serves 200 waiting requests as streams of one h2c connection, and HTTP/1.1 on the same port', async () => {
    const addr = await serve();
    const session = connect(`http://${addr}`);
    sessions.push(session);
    const waits = Array.from({ length: 200 }, () => h2(session, '/wait'));
    await until(() => parked.length === 200, '200 parked streams');
    expect(listener?.stats()).toMatchObject({ connections: 1, http2Sessions: 1, http2Streams: 200 });
    // HTTP/1.1 still works on the same port meanwhile, with the body read directly.
    expect(await h1(addr, '/echo')).toMatchObject({ status: 200, text: '127.0.0.1 ' });
    expect(await h2(session, '/echo', 'over h2')).toMatchObject({ status: 200, text: '127.0.0.1 over h2' });
    for (const r of parked.splice(0)) r();
    const answers = await Promise.all(waits);
    expect(answers.every((a) => a.status === 200 && a.text === 'woke')).toBe(true);
  });

  it('holds at most http2MaxStreams streams of a connection in the handler', async () => {
    const addr = await serve({ http2MaxStreams: 10 });
    const session = connect(`http://${addr}`);
    sessions.push(session);
    let settled = 0;
    const waits = Array.from({ length: 15 }, () => h2(session, '/wait').finally(() => settled++));
    await until(() => parked.length === 10, '10 parked streams');
    // Release them one by one: the client's queued streams take the freed slots.
    await until(() => {
      parked.shift()?.();
      return settled === 15;
    }, 'all 15 streams to end');
    const answers = await Promise.all(waits);
    // Each stream was either served or refused by the server (REFUSED_STREAM = 7), never more at once.
    expect(maxInHandler).toBeLessThanOrEqual(10);
    for (const a of answers) expect(a.status === 200 || a.rstCode === 7).toBe(true);
  });

  it('answers a connection beyond maxConnections with 503 and Retry-After (HTTP/1.1) or closes it (h2c)', async () => {
    const addr = await serve({ maxConnections: 2 });
    const waits = [h1(addr, '/wait'), h1(addr, '/wait')];
    await until(() => parked.length === 2, 'two parked connections');
    expect(await h1(addr, '/echo')).toMatchObject({ status: 503, retryAfter: '1' });
    const session = connect(`http://${addr}`);
    sessions.push(session);
    session.on('error', () => undefined);
    await new Promise<void>((resolve) => session.once('close', () => resolve()));
    expect(listener?.stats().refusedConnections).toBe(2);
    for (const r of parked.splice(0)) r();
    expect((await Promise.all(waits)).map((a) => a.status)).toEqual([200, 200]);
    // Once connections close there is room again.
    await until(() => listener?.stats().connections === 0, 'connections to close');
    expect(await h1(addr, '/echo')).toMatchObject({ status: 200 });
  });

  it('tells the handler when the client goes away (gone()), over HTTP/1.1 and HTTP/2', async () => {
    const addr = await serve();
    const [host, port] = addr.split(':') as [string, string];
    const req = h1Request({ host, port: Number(port), path: '/gone', agent: false });
    req.on('error', () => undefined);
    req.end();
    const session = connect(`http://${addr}`);
    sessions.push(session);
    const stream = session.request({ ':path': '/gone' });
    stream.on('error', () => undefined);
    stream.end();
    await until(() => goneWaiting === 2, 'both requests in the handler');
    req.destroy();
    stream.close();
    await until(() => goneSeen === 2, 'both handlers to see the client go');
    expect(listener?.stats().http2Sessions).toBe(1);
  });

  it('negotiates h2 or http/1.1 by ALPN on a TLS listener', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'konsul-h2-'));
    dirs.push(dir);
    const pki = makePki(dir, 'h2');
    const ca = readFileSync(pki.ca, 'utf8');
    const addr = await serve(
      {},
      {
        cert: readFileSync(pki.cert, 'utf8'),
        key: readFileSync(pki.key, 'utf8'),
        verifyIncoming: false,
      },
    );
    const session = connect(`https://${addr}`, { ca });
    sessions.push(session);
    const answer = await h2(session, '/echo', 'tls body');
    expect(answer).toMatchObject({ status: 200, text: '127.0.0.1 tls body' });
    expect(session.alpnProtocol).toBe('h2');
    const [host, port] = addr.split(':') as [string, string];
    const viaH1 = await new Promise<{ status: number; version: string }>((resolve, reject) => {
      const req = httpsRequest({ host, port: Number(port), path: '/echo', ca, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.httpVersion }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(viaH1).toEqual({ status: 200, version: '1.1' });
  });
});
