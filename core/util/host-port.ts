import { ConfigError } from '../errors.js';

/** A parsed "host:port" address; host has no brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses "HOST:PORT" ("[::1]:8500" for IPv6). Throws ConfigError naming `source`. */
export function parseHostPort(text: string, source: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new ConfigError(`invalid value for ${source}: ${JSON.stringify(text)} is not HOST:PORT (port 0-65535)`);
  }
  return { host: (m[1] ?? m[2]) as string, port };
}
