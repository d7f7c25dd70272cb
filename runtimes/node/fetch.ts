import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { UpstreamFetch } from '../../core/ports/runtime.js';

/**
 * The edge agent's requests to its servers (the sync stream, outbox replays, announcements) over
 * node:http or node:https instead of Node's fetch. Node's fetch is undici's, which on first use
 * instantiates its HTTP parser (WebAssembly) and connection pool: 5 to 10 MB of resident memory
 * that an edge device pays for one long-lived stream. The answer is a Web Response whose body
 * streams the response (Readable.toWeb); cancelling the body or aborting `init.signal` destroys
 * the request. Only what the agent sends is supported (see UpstreamFetch). Rejects as fetch does
 * on a connection failure or abort (with node's error).
 */
export const nodeFetch: UpstreamFetch = async (url, init = {}) => {
  const target = new URL(url);
  const { request } = target.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(target, {
      method: init.method ?? 'GET',
      headers: init.headers,
      ...(init.signal ? { signal: init.signal } : {}),
    });
    req.once('response', resolve);
    req.once('error', reject);
    req.end(init.body);
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  const status = res.statusCode ?? 0;
  // A Response may not have a body with these statuses.
  const noBody = status === 204 || status === 205 || status === 304 || init.method === 'HEAD';
  if (noBody) res.resume();
  const stream = noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
  return new Response(stream, { status, statusText: res.statusMessage ?? '', headers });
};
