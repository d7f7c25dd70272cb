import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Readable } from 'node:stream';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createAdaptorServer, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import { bodyTooLarge } from '../../core/api/body.js';
import { BadRequestError, ConfigError } from '../../core/errors.js';

/** What the listener knows about a request besides the Web Request. */
export interface HttpClient {
  readonly remoteAddress: string;
  /**
   * Reads the body straight from Node's request stream (a BodyReader for one request):
   * undefined once the body was read by other means.
   */
  readBody(maxBytes: number): Promise<Uint8Array> | undefined;
}

/** Collects a Node request's body, rejecting with a 413 as soon as more than `maxBytes` arrived. */
function readIncoming(incoming: Readable, maxBytes: number): Promise<Uint8Array> | undefined {
  if (incoming.readableDidRead || incoming.readableEnded) return undefined;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const stop = (): void => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > maxBytes) {
        stop();
        // Read and drop the rest, so the 413 can be answered on a connection that stays usable.
        incoming.resume();
        reject(bodyTooLarge(total, maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    };
    const onError = (err: Error): void => {
      stop();
      reject(new BadRequestError(`the request body could not be read: ${err.message}`));
    };
    const onClose = (): void => {
      stop();
      reject(new BadRequestError('the request body could not be read: the connection closed before it ended'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/** A listening HTTP server. */
export interface HttpListener {
  /** The bound address, "host:port" (the real port when 0 was asked for). */
  readonly address: string;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to `graceMs`, then cuts
   * the remaining connections. Resolves when the socket is closed.
   */
  close(graceMs: number): Promise<void>;
  /** Replaces the certificate, key and CA of an HTTPS listener for new connections (no-op for HTTP). */
  reloadTls(tls: HttpTls): void;
}

/** PEM material for an HTTPS listener; `ca` + `verifyIncoming` require client certificates. */
export interface HttpTls {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string | undefined;
  readonly verifyIncoming: boolean;
}

/**
 * Serves a Web `fetch` handler over Node's HTTP server on host:port (with the client's address
 * and a direct body reader). Rejects with ConfigError
 * when the address cannot be bound (in use, not local, no permission).
 */
export async function listenHttp(
  fetch: (req: Request, client: HttpClient) => Response | Promise<Response>,
  host: string,
  port: number,
  tls?: HttpTls,
): Promise<HttpListener> {
  const handler = (req: Request, env: HttpBindings | Http2Bindings) => {
    const incoming = env.incoming;
    return fetch(req, {
      remoteAddress: incoming?.socket?.remoteAddress ?? '',
      readBody: (maxBytes) => (incoming ? readIncoming(incoming, maxBytes) : undefined),
    });
  };
  const server = (
    tls
      ? createAdaptorServer({
          fetch: handler,
          createServer: createHttpsServer,
          serverOptions: {
            cert: tls.cert,
            key: tls.key,
            ...(tls.ca ? { ca: tls.ca } : {}),
            requestCert: tls.verifyIncoming,
            rejectUnauthorized: tls.verifyIncoming,
          },
        })
      : createAdaptorServer({ fetch: handler })
  ) as Server;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new ConfigError(`cannot listen on ${host}:${port}: ${err.code ?? err.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const info = server.address() as AddressInfo;
  const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  return {
    address: `${shownHost}:${info.port}`,
    reloadTls: (next) => {
      if (tls)
        (server as unknown as HttpsServer).setSecureContext({
          cert: next.cert,
          key: next.key,
          ...(next.ca ? { ca: next.ca } : {}),
        });
    },
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        // Keep-alive connections become idle as their last response ends; close them as they do.
        const sweep = setInterval(() => server.closeIdleConnections(), 25);
        server.close(() => {
          clearTimeout(cut);
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
