import { CliError } from './errors.js';
import { readFileOrFail } from './files.js';

/** The connection flags every client command takes (Consul's names). */
export interface ClientFlags {
  readonly httpAddr?: string | undefined;
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly caFile?: string | undefined;
  readonly clientCert?: string | undefined;
  readonly clientKey?: string | undefined;
  readonly tlsServerName?: string | undefined;
  readonly datacenter?: string | undefined;
}

/** Where and how a client command reaches a server or an edge agent. */
export interface ClientConfig {
  /** The API's base URL (http: or https:), without a trailing slash. */
  readonly base: string;
  /** The ACL token sent as X-Consul-Token (a secret: never printed). */
  readonly token: string | undefined;
  /** PEM material for HTTPS: the CA that signs the server, and a client certificate and key. */
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly servername?: string };
  /** The datacenter asked for (?dc=), when one was given. */
  readonly datacenter: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

/** KONSUL_<name>, else Consul's CONSUL_<name>, so existing shell setups work. */
function fromEnv(env: Env, name: string): string | undefined {
  const k = env[`KONSUL_${name}`];
  if (k !== undefined && k !== '') return k;
  const c = env[`CONSUL_${name}`];
  return c !== undefined && c !== '' ? c : undefined;
}

const readPem = (path: string, what: string): string => readFileOrFail(path, what).toString('utf8');

/**
 * The client's connection from its flags, then KONSUL_* and CONSUL_* variables (HTTP_ADDR,
 * HTTP_TOKEN, HTTP_TOKEN_FILE, HTTP_SSL, CACERT, CLIENT_CERT, CLIENT_KEY, TLS_SERVER_NAME), then
 * the default 127.0.0.1:8500. An address without a scheme is http, or https when HTTP_SSL is true.
 */
export function resolveClientConfig(flags: ClientFlags, env: Env): ClientConfig {
  const addr = flags.httpAddr ?? fromEnv(env, 'HTTP_ADDR') ?? '127.0.0.1:8500';
  const ssl = /^(1|true|yes)$/i.test(fromEnv(env, 'HTTP_SSL') ?? '');
  let base = /^https?:\/\//i.test(addr) ? addr : `${ssl ? 'https' : 'http'}://${addr}`;
  try {
    const url = new URL(base);
    if (url.pathname !== '/' || url.search !== '') throw new Error('a path is not allowed');
    base = `${url.protocol}//${url.host}`;
  } catch (err) {
    throw new CliError(`invalid HTTP address ${JSON.stringify(addr)}: ${(err as Error).message}`, 2);
  }
  const tokenFile = flags.tokenFile ?? fromEnv(env, 'HTTP_TOKEN_FILE');
  const token =
    flags.token ??
    (flags.tokenFile !== undefined ? readPem(flags.tokenFile, 'token file').trim() : undefined) ??
    fromEnv(env, 'HTTP_TOKEN') ??
    (tokenFile !== undefined ? readPem(tokenFile, 'token file').trim() : undefined);
  const caFile = flags.caFile ?? fromEnv(env, 'CACERT');
  const certFile = flags.clientCert ?? fromEnv(env, 'CLIENT_CERT');
  const keyFile = flags.clientKey ?? fromEnv(env, 'CLIENT_KEY');
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new CliError(
      'a client certificate needs its key and a key its certificate (-client-cert with -client-key)',
      2,
    );
  const servername = flags.tlsServerName ?? fromEnv(env, 'TLS_SERVER_NAME');
  return {
    base,
    token: token === '' ? undefined : token,
    tls: {
      ...(caFile !== undefined ? { ca: readPem(caFile, 'CA file') } : {}),
      ...(certFile !== undefined ? { cert: readPem(certFile, 'client certificate') } : {}),
      ...(keyFile !== undefined ? { key: readPem(keyFile, 'client key') } : {}),
      ...(servername !== undefined ? { servername } : {}),
    },
    datacenter: flags.datacenter,
  };
}
