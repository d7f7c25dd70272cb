import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

/** PEM material a server uses when it calls another server's HTTPS API. */
export interface PeerTls {
  /** CA bundle the peer's certificate must chain to (undefined: the system's CAs). */
  readonly ca?: string;
  /** Client certificate and key (the server's own), for peers that verify incoming certificates. */
  readonly cert: string;
  readonly key: string;
}

/** Largest answer read from a peer (bytes); larger ones fail the call. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/**
 * A fetch-like call to another server's API over HTTP or, when `tls()` gives material, HTTPS
 * (verifying the peer against the CA and presenting this server's certificate). The request body
 * is sent whole; the answer is buffered (at most 64 MiB). `tls` is read per call, so a certificate
 * reloaded on SIGHUP is used from the next call on.
 */
export function peerFetch(tls: () => PeerTls | undefined) {
  return async (
    hostPort: string,
    path: string,
    init: { method: string; headers: Headers | Record<string, string>; body?: Uint8Array; signal?: AbortSignal },
  ): Promise<Response> => {
    const t = tls();
    const at = hostPort.lastIndexOf(':');
    const host = hostPort.slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(hostPort.slice(at + 1));
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    if (init.body) headers['content-length'] = String(init.body.byteLength);
    return new Promise<Response>((resolve, reject) => {
      const options = {
        host,
        port,
        path,
        method: init.method,
        headers,
        ...(init.signal ? { signal: init.signal } : {}),
      };
      const onResponse = (res: import('node:http').IncomingMessage): void => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.byteLength;
          if (size > MAX_ANSWER_BYTES) res.destroy(new Error('answer too large'));
          else chunks.push(d);
        });
        res.on('error', reject);
        res.on('end', () => {
          const out = new Headers();
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : v);
          const status = res.statusCode ?? 502;
          resolve(
            new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: out }),
          );
        });
      };
      const req = t
        ? httpsRequest({ ...options, cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca } : {}) }, onResponse)
        : httpRequest(options, onResponse);
      req.on('error', reject);
      req.end(init.body ? Buffer.from(init.body.buffer, init.body.byteOffset, init.body.byteLength) : undefined);
    });
  };
}

/**
 * Like peerFetch, but the answer's body streams as it arrives (a blocking query's wait, a watch
 * stream), with no size bound of its own: the caller relays it to its client. Aborting
 * `init.signal`, or cancelling the answer's body, closes the call.
 */
export function peerStream(tls: () => PeerTls | undefined) {
  return (
    hostPort: string,
    path: string,
    init: { method: string; headers: Record<string, string>; body?: Uint8Array; signal?: AbortSignal },
  ): Promise<Response> => {
    const t = tls();
    const at = hostPort.lastIndexOf(':');
    const options = {
      host: hostPort.slice(0, at).replace(/^\[|\]$/g, ''),
      port: Number(hostPort.slice(at + 1)),
      path,
      method: init.method,
      headers: init.body ? { ...init.headers, 'content-length': String(init.body.byteLength) } : init.headers,
      ...(init.signal ? { signal: init.signal } : {}),
    };
    return new Promise<Response>((resolve, reject) => {
      const onResponse = (res: import('node:http').IncomingMessage): void => {
        const out = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : v);
        const status = res.statusCode ?? 502;
        const noBody = status === 204 || status === 304 || init.method === 'HEAD';
        if (noBody) res.resume();
        res.on('error', () => undefined);
        const body = noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        resolve(new Response(body, { status, headers: out }));
      };
      const req = t
        ? httpsRequest({ ...options, cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca } : {}) }, onResponse)
        : httpRequest(options, onResponse);
      req.on('error', reject);
      req.end(init.body ? Buffer.from(init.body.buffer, init.body.byteOffset, init.body.byteLength) : undefined);
    });
  };
}
