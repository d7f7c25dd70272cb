import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createAdaptorServer } from '@hono/node-server';
import { ConfigError } from '../../core/errors.js';

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
 * Serves a Web `fetch` handler over Node's HTTP server on host:port (with the client's address). Rejects with ConfigError
 * when the address cannot be bound (in use, not local, no permission).
 */
export async function listenHttp(
  fetch: (req: Request, client: { readonly remoteAddress: string }) => Response | Promise<Response>,
  host: string,
  port: number,
  tls?: HttpTls,
): Promise<HttpListener> {
  const handler = (req: Request, env: { incoming?: { socket?: { remoteAddress?: string } } }) => fetch(req, { remoteAddress: env.incoming?.socket?.remoteAddress ?? '' });
  const server = (
    tls
      ? createAdaptorServer({
          fetch: handler,
          createServer: createHttpsServer,
          serverOptions: { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}), requestCert: tls.verifyIncoming, rejectUnauthorized: tls.verifyIncoming },
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
      if (tls) (server as unknown as HttpsServer).setSecureContext({ cert: next.cert, key: next.key, ...(next.ca ? { ca: next.ca } : {}) });
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
