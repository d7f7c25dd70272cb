import type { Command } from 'commander';
import { failure } from '../client/api.js';
import { CliError } from '../client/errors.js';
import { readFileOrFail } from '../client/files.js';
import { type ClientCommand, collect } from './common.js';

type Json = Record<string, unknown>;

/** Keys whose values are maps of the user's own keys: their keys are kept as written. */
const USER_MAPS = new Set(['Meta', 'Header', 'TaggedAddresses', 'NodeMeta']);
/** Blocks that HCL gives as a list of one object (`meta { … }`) and that are one object. */
const SINGLE_BLOCKS = new Set(['Meta', 'Header', 'TaggedAddresses', 'Weights', 'Check', 'Connect', 'Proxy']);
/** Consul's spellings of keys whose parts are initialisms. */
const SPECIAL: Record<string, string> = {
  id: 'ID',
  service_id: 'ServiceID',
  http: 'HTTP',
  tcp: 'TCP',
  udp: 'UDP',
  grpc: 'GRPC',
  grpc_use_tls: 'GRPCUseTLS',
  ttl: 'TTL',
  tls_skip_verify: 'TLSSkipVerify',
  tls_server_name: 'TLSServerName',
  h2ping: 'H2PING',
  h2ping_use_tls: 'H2PingUseTLS',
};

/** A snake_case (or already PascalCase) key as the HTTP API spells it. */
function apiKey(key: string): string {
  const special = SPECIAL[key.toLowerCase()];
  if (special) return special;
  if (/^[A-Z]/.test(key)) return key;
  return key
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** A definition's value with its keys as the API spells them (user maps keep their keys). */
function translate(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) {
    if (key !== undefined && SINGLE_BLOCKS.has(key) && value.length === 1 && typeof value[0] === 'object')
      return translate(value[0], key);
    return value.map((v) => translate(v));
  }
  if (value === null || typeof value !== 'object') return value;
  if (key !== undefined && USER_MAPS.has(key)) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value as Json)) {
    const name = apiKey(k);
    out[name] = translate(v, name);
  }
  // A check's `id` is its CheckID.
  if (key === 'Check' || key === 'Checks') {
    if (out['ID'] !== undefined && out['CheckID'] === undefined) {
      out['CheckID'] = out['ID'];
      delete out['ID'];
    }
  }
  return out;
}

/**
 * The services of a Consul service definition file: JSON or HCL (by its extension, `.hcl`), with
 * `service` (one) or `services` (several), keys in snake_case or as the API spells them. Returns
 * each as /v1/agent/service/register takes it. CliError (exit 2) names what is wrong.
 */
export async function readServiceDefinitions(path: string): Promise<Json[]> {
  const text = readFileOrFail(path, undefined, 2).toString('utf8');
  let doc: unknown;
  if (path.endsWith('.hcl')) {
    // HashiCorp's own HCL parser (compiled to WebAssembly), loaded only for HCL files.
    const { parse } = await import('@cdktf/hcl2json');
    try {
      doc = await parse(path, text);
    } catch (err) {
      throw new CliError(`${path} is not valid HCL: ${(err as Error).message}`, 2);
    }
  } else {
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new CliError(`${path} is not valid JSON: ${(err as Error).message}`, 2);
    }
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new CliError(`${path}: expected an object with "service" or "services"`, 2);
  const d = doc as Json;
  const raw = d['service'] ?? d['Service'] ?? d['services'] ?? d['Services'];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new CliError(`${path}: no "service" or "services" in the file`, 2);
  return list.map((s, i) => {
    if (s === null || typeof s !== 'object') throw new CliError(`${path}: service ${i} is not an object`, 2);
    const service = translate(s) as Json;
    if (typeof service['Name'] !== 'string' || service['Name'] === '')
      throw new CliError(`${path}: service ${i} has no name`, 2);
    return service;
  });
}

/** Registers `services register|deregister`. */
export function registerServiceCommands(program: Command, client: ClientCommand): void {
  const services = program.command('services').description('register and deregister services on the agent');

  client(
    services
      .command('register')
      .description('register services from definition files (JSON or HCL), or one service from flags')
      .argument('[files...]', 'service definition files')
      .option('--name <name>', 'the service name (without a file)')
      .option('--id <id>', 'the service ID (default: the name)')
      .option('--address <addr>', 'the service address')
      .option('--port <port>', 'the service port')
      .option('--tag <tag>', 'a tag (repeatable)', collect)
      .option('--meta <key=value>', 'metadata (repeatable)', collect),
    async (
      c,
      io,
      files: string[],
      o: { name?: string; id?: string; address?: string; port?: string; tag?: string[]; meta?: string[] },
    ) => {
      let defs: Json[];
      if (files.length > 0) {
        if (o.name !== undefined) throw new CliError('Use either definition files or -name, not both', 2);
        defs = (await Promise.all(files.map(readServiceDefinitions))).flat();
      } else {
        if (o.name === undefined) throw new CliError('Must specify a definition file or -name', 2);
        const meta: Record<string, string> = {};
        for (const kv of o.meta ?? []) {
          const at = kv.indexOf('=');
          if (at <= 0) throw new CliError(`-meta must be key=value, not ${JSON.stringify(kv)}`, 2);
          meta[kv.slice(0, at)] = kv.slice(at + 1);
        }
        if (o.port !== undefined && !/^\d{1,5}$/.test(o.port)) throw new CliError('-port must be a port number', 2);
        defs = [
          {
            Name: o.name,
            ...(o.id !== undefined ? { ID: o.id } : {}),
            ...(o.address !== undefined ? { Address: o.address } : {}),
            ...(o.port !== undefined ? { Port: Number(o.port) } : {}),
            ...(o.tag ? { Tags: o.tag } : {}),
            ...(o.meta ? { Meta: meta } : {}),
          },
        ];
      }
      for (const def of defs) {
        const a = await c.request('PUT', '/v1/agent/service/register', { body: JSON.stringify(def) });
        if (a.status !== 200) {
          const e = failure(a);
          throw new CliError(`Error registering service ${JSON.stringify(def['Name'])}: ${e.message}`);
        }
        io.out(`Registered service: ${String(def['Name'])}\n`);
      }
      return 0;
    },
  );

  client(
    services
      .command('deregister')
      .description('deregister the services of definition files, or one by -id')
      .argument('[files...]', 'service definition files')
      .option('--id <id>', 'the service ID'),
    async (c, io, files: string[], o: { id?: string }) => {
      let ids: string[];
      if (files.length > 0) {
        if (o.id !== undefined) throw new CliError('Use either definition files or -id, not both', 2);
        ids = (await Promise.all(files.map(readServiceDefinitions))).flat().map((d) => String(d['ID'] ?? d['Name']));
      } else {
        if (o.id === undefined) throw new CliError('Must specify a definition file or -id', 2);
        ids = [o.id];
      }
      for (const id of ids) {
        const a = await c.request('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
        if (a.status !== 200)
          throw new CliError(`Error deregistering service ${JSON.stringify(id)}: ${failure(a).message}`);
        io.out(`Deregistered service: ${id}\n`);
      }
      return 0;
    },
  );
}
