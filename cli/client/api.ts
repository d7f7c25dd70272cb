import { type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ClientConfig } from './config.js';
import { CliError } from './errors.js';

/** Largest answer a command reads whole (bytes): snapshots are the largest. */
const MAX_ANSWER_BYTES = 1024 * 1024 * 1024;

/** An answer of the API: its status, headers (lower-case names) and body. */
export interface ApiAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Query parameters; `true` is a flag without a value (`?recurse`), undefined and false are left out. */
export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

/**
 * Calls the Konsul (or Consul) HTTP API the way Consul's CLI does: X-Consul-Token, ?dc= when a
 * datacenter was given, HTTPS with the configured CA and client certificate. Runs on Node, Bun
 * and Deno (node:http and node:https).
 */
export class KonsulClient {
  constructor(readonly config: ClientConfig) {}

  /** The answer to `method path`, whatever its status; rejects with CliError when nothing answered. */
  async request(
    method: string,
    path: string,
    o: {
      query?: Query;
      body?: Uint8Array | string;
      headers?: Record<string, string>;
      onProgress?: (bytes: number) => void;
      /** Aborts the request (a blocking query that is no longer wanted). */
      signal?: AbortSignal;
    } = {},
  ): Promise<ApiAnswer> {
    const res = await this.open(method, path, o);
    return new Promise<ApiAnswer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.byteLength;
        o.onProgress?.(size);
        if (size > MAX_ANSWER_BYTES) res.destroy(new Error(`the answer is over ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(d);
      });
      res.on('error', (err) => reject(new CliError(`reading the answer failed: ${err.message}`)));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: headersOf(res), body: Buffer.concat(chunks) }),
      );
    });
  }

  /**
   * Streams the answer of a GET (log lines, Server-Sent Events): `onData` gets each chunk of a 200
   * answer as it comes; resolves when the server ends it or `signal` aborts. Another status rejects
   * with failure().
   */
  async stream(path: string, query: Query, onData: (chunk: Buffer) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.open('GET', path, { query, ...(signal ? { signal } : {}) });
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw failure({ status: res.statusCode ?? 0, headers: headersOf(res), body: Buffer.concat(chunks) });
    }
    await new Promise<void>((resolve, reject) => {
      res.on('data', onData);
      res.on('end', resolve);
      res.on('close', resolve);
      res.on('error', (err) =>
        signal?.aborted ? resolve() : reject(new CliError(`the stream broke: ${err.message}`)),
      );
    });
  }

  /** Sends a request and resolves with the answer's head (its body still to read). */
  private open(
    method: string,
    path: string,
    o: { query?: Query; body?: Uint8Array | string; headers?: Record<string, string>; signal?: AbortSignal },
  ): Promise<IncomingMessage> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(o.query ?? {})) {
      if (v === undefined || v === false) continue;
      q.append(k, v === true ? '' : String(v));
    }
    if (this.config.datacenter !== undefined && !q.has('dc')) q.set('dc', this.config.datacenter);
    const search = q.toString().replace(/=(&|$)/g, '$1');
    const url = new URL(`${this.config.base}${path}${search ? `?${search}` : ''}`);
    const body = typeof o.body === 'string' ? Buffer.from(o.body) : o.body ? Buffer.from(o.body) : undefined;
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (this.config.token !== undefined) headers['x-consul-token'] = this.config.token;
    if (body) headers['content-length'] = String(body.byteLength);
    const https = url.protocol === 'https:';
    const tls = this.config.tls;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const options = {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(url.port || (https ? 443 : 80)),
        path: `${url.pathname}${url.search}`,
        method,
        headers,
        ...(o.signal ? { signal: o.signal } : {}),
      };
      const req = https
        ? httpsRequest(
            {
              ...options,
              ...(tls.ca ? { ca: tls.ca } : {}),
              ...(tls.cert ? { cert: tls.cert } : {}),
              ...(tls.key ? { key: tls.key } : {}),
              ...(tls.servername ? { servername: tls.servername } : {}),
            },
            resolve,
          )
        : httpRequest(options, resolve);
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(new CliError(`cannot reach Konsul at ${this.config.base}: ${err.code ?? err.message}`)),
      );
      req.end(body);
    });
  }

  /** The body of a 2xx answer; any other status is a CliError naming it (see failure()). */
  async ok(method: string, path: string, o: Parameters<KonsulClient['request']>[2] = {}): Promise<ApiAnswer> {
    const a = await this.request(method, path, o);
    if (a.status < 200 || a.status > 299) throw failure(a);
    return a;
  }

  /** A 2xx answer's JSON body. */
  async json<T>(method: string, path: string, o: Parameters<KonsulClient['request']>[2] = {}): Promise<T> {
    const a = await this.ok(method, path, o);
    try {
      return JSON.parse(a.body.toString('utf8')) as T;
    } catch {
      throw new CliError(`the answer to ${method} ${path} is not JSON`);
    }
  }
}

/** A CliError for a non-2xx answer: its status and the server's own words (Consul's texts). */
export function failure(a: ApiAnswer): CliError {
  const text = a.body.toString('utf8').trim().slice(0, 2000);
  if (a.status === 403) {
    const said = text || 'Permission denied';
    return new CliError(said.charAt(0).toLowerCase() + said.slice(1));
  }
  return new CliError(`the server answered ${a.status}${text ? `: ${text}` : ''}`);
}

function headersOf(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
