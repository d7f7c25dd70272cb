import type { Command } from 'commander';
import type { KonsulClient } from '../client/api.js';
import type { ClientFlags } from '../client/config.js';
import { CliError } from '../client/errors.js';
import type { Io } from '../client/output.js';

/** What a client command's action gets: the client, the streams, its arguments and options. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- commander passes arguments positionally
export type ClientAction = (client: KonsulClient, io: Io, ...args: any[]) => Promise<number>;

/** Adds the connection flags to `cmd` and runs `action` with a client made from them. */
export type ClientCommand = (cmd: Command, action: ClientAction) => Command;

/** Runs `action` of a command that needs no server (snapshot inspect, tls, validate). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- commander passes arguments positionally
export type LocalCommand = (cmd: Command, action: (io: Io, ...args: any[]) => Promise<number>) => Command;

/** The connection flags of every client command (Consul's names; also from KONSUL_* and CONSUL_*). */
export function addClientFlags(cmd: Command): Command {
  return cmd
    .option(
      '--http-addr <addr>',
      'the server or agent to talk to (KONSUL_HTTP_ADDR, CONSUL_HTTP_ADDR; default 127.0.0.1:8500)',
    )
    .option('--token <token>', 'the ACL token (KONSUL_HTTP_TOKEN, CONSUL_HTTP_TOKEN)')
    .option('--token-file <path>', 'a file holding the ACL token (KONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_TOKEN_FILE)')
    .option('--ca-file <path>', 'PEM CA that signs the server (KONSUL_CACERT, CONSUL_CACERT)')
    .option('--client-cert <path>', 'PEM client certificate (KONSUL_CLIENT_CERT, CONSUL_CLIENT_CERT)')
    .option('--client-key <path>', 'PEM client key (KONSUL_CLIENT_KEY, CONSUL_CLIENT_KEY)')
    .option('--tls-server-name <name>', 'the server name the certificate must carry (KONSUL_TLS_SERVER_NAME)')
    .option('--datacenter <dc>', "the datacenter to ask (default: the agent's own)");
}

/** The connection flags among a command's parsed options. */
export function clientFlags(o: Record<string, unknown>): ClientFlags {
  const s = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  return {
    httpAddr: s('httpAddr'),
    token: s('token'),
    tokenFile: s('tokenFile'),
    caFile: s('caFile'),
    clientCert: s('clientCert'),
    clientKey: s('clientKey'),
    tlsServerName: s('tlsServerName'),
    datacenter: s('datacenter'),
  };
}

/** Commander's argument parser for a repeatable flag: every value given, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** An unsigned integer flag, or a usage error naming it. */
export function intFlag(text: string, name: string): number {
  if (!/^\d{1,15}$/.test(text.trim()))
    throw new CliError(`-${name} must be an unsigned integer, not ${JSON.stringify(text)}`, 2);
  return Number(text);
}

/** -format: `pretty` (aligned tables, the default) or `json`. */
export function formatFlag(cmd: Command): Command {
  return cmd.option('--format <format>', 'output format: pretty or json', 'pretty');
}

/** The output format asked for, or a usage error. */
export function formatOf(o: { format?: string }): 'pretty' | 'json' {
  const f = o.format ?? 'pretty';
  if (f !== 'pretty' && f !== 'json') throw new CliError(`-format must be pretty or json, not ${JSON.stringify(f)}`, 2);
  return f;
}
