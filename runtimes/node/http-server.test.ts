import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { readBody } from '../../core/api/body.js';
import { errorAnswer } from '../../core/api/http-errors.js';
import { type HttpClient, type HttpListener, listenHttp } from './http-server.js';

const MAX = 1024;
let listener: HttpListener | undefined;
const seen: Array<{ direct?: boolean; second: unknown; error?: string }> = [];
/** Called when the handler starts, and when it has recorded what it saw. */
let onStart: (() => void) | undefined;
let onSeen: (() => void) | undefined;

/** A server whose handler reads the body through the direct reader, as the API does. */
async function serve(): Promise<string> {
  listener = await listenHttp(
    async (req: Request, client: HttpClient) => {
      onStart?.();
      let direct = false;
      try {
        const body = await readBody(req, MAX, (_r, max) => {
          const p = client.readBody(max);
          direct = p !== undefined;
          return p;
        });
        seen.push({ direct, second: client.readBody(MAX) });
        onSeen?.();
        return new Response(`${body.byteLength}:${new TextDecoder().decode(body.subarray(0, 5))}`);
      } catch (err) {
        seen.push({ second: undefined, error: (err as Error).message });
        onSeen?.();
        const a = errorAnswer(err);
        return new Response(a.body, { status: a.status });
      }
    },
    '127.0.0.1',
    0,
  );
  return listener.address;
}

/** Sends `chunks` as a chunked (no Content-Length) or declared body; resolves with status and text. */
function send(addr: string, chunks: readonly string[], declared?: number): Promise<{ status: number; text: string }> {
  const [host, port] = addr.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        method: 'PUT',
        path: '/x',
        headers: declared !== undefined ? { 'content-length': declared } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

afterEach(async () => {
  await listener?.close(100);
  listener = undefined;
  seen.length = 0;
  onStart = undefined;
  onSeen = undefined;
});

describe('the Node listener reads request bodies directly', () => {
  it('collects a body sent in several chunks, once', async () => {
    const addr = await serve();
    const r = await send(addr, ['hello', ' ', 'world'.repeat(10)]);
    expect(r).toEqual({ status: 200, text: '56:hello' });
    // Read from Node's stream, not the Web one; a second read has nothing left.
    expect(seen[0]?.direct).toBe(true);
    expect(seen[0]?.second).toBeUndefined();
  });

  it('answers 413 for a streamed body past the limit, and 413 before reading a declared one', async () => {
    const addr = await serve();
    const streamed = await send(addr, ['a'.repeat(600), 'b'.repeat(600)]);
    expect(streamed.status).toBe(413);
    expect(streamed.text).toMatch(/Request body\(1200 bytes\) too large, max size: 1024 bytes/);
    const declared = await send(addr, ['c'.repeat(2000)], 2000);
    expect(declared.status).toBe(413);
    expect(declared.text).toMatch(/Request body\(2000 bytes\) too large/);
    // The server still answers normal requests afterwards.
    expect(await send(addr, ['ok'])).toEqual({ status: 200, text: '2:ok' });
  });

  it('fails a body cut off by the client without crashing the server', async () => {
    const addr = await serve();
    const [host, port] = addr.split(':') as [string, string];
    const started = new Promise<void>((resolve) => (onStart = resolve));
    const recorded = new Promise<void>((resolve) => (onSeen = resolve));
    const req = request({ host, port: Number(port), method: 'PUT', path: '/x', headers: { 'content-length': 500 } });
    req.on('error', () => undefined);
    req.write('partial');
    // Cut the connection once the handler is reading the body, 493 bytes short.
    await started;
    req.destroy();
    await recorded;
    expect(seen[0]?.error).toMatch(/request body could not be read/);
    expect(await send(addr, ['still here'])).toEqual({ status: 200, text: '10:still' });
  });
});
