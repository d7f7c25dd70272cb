import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { KonsulClient } from '../client/api.js';
import { CliError } from '../client/errors.js';
import { json } from '../client/output.js';
import { type ClientCommand, collect, formatFlag, formatOf } from './common.js';

type Json = Record<string, unknown>;

/** How a flag of `create`/`update` fills a field of the ACL object. */
interface FieldFlag {
  /** The flag's name (Consul's). */
  readonly flag: string;
  readonly describe: string;
  /** string: as given; file: `@FILE` or the text; bool; list: repeatable; link: {ID} or {Name} entries. */
  readonly kind: 'string' | 'file' | 'bool' | 'list' | 'json' | 'link';
  /** The field it sets, and for links whether the flag gives an ID or a Name. */
  readonly field: string;
  readonly by?: 'ID' | 'Name';
}

/** One kind of ACL object and its routes. */
interface AclKind {
  readonly name: 'policy' | 'role' | 'token' | 'auth-method' | 'binding-rule';
  /** The object's path (PUT to create, /ID to read, update, delete) and its list's. */
  readonly path: string;
  readonly list: string;
  /** The field that names one object in paths. */
  readonly key: 'ID' | 'AccessorID' | 'Name';
  /** Whether objects can be read and deleted by -name (policies and roles: /name/NAME). */
  readonly byName: boolean;
  readonly flags: readonly FieldFlag[];
  /** The fields shown, in order, and how. */
  readonly show: ReadonlyArray<readonly [label: string, field: string]>;
}

const links = (thing: 'policy' | 'role', field: string): FieldFlag[] => [
  { flag: `${thing}-id`, describe: `a ${thing} to link, by ID (repeatable)`, kind: 'link', field, by: 'ID' },
  { flag: `${thing}-name`, describe: `a ${thing} to link, by name (repeatable)`, kind: 'link', field, by: 'Name' },
];

const KINDS: readonly AclKind[] = [
  {
    name: 'policy',
    path: '/v1/acl/policy',
    list: '/v1/acl/policies',
    key: 'ID',
    byName: true,
    flags: [
      { flag: 'name', describe: 'the policy name', kind: 'string', field: 'Name' },
      { flag: 'description', describe: 'a description', kind: 'string', field: 'Description' },
      { flag: 'rules', describe: 'the rules (HCL or JSON), or @FILE', kind: 'file', field: 'Rules' },
      {
        flag: 'valid-datacenter',
        describe: 'a datacenter it is valid in (repeatable)',
        kind: 'list',
        field: 'Datacenters',
      },
    ],
    show: [
      ['ID', 'ID'],
      ['Name', 'Name'],
      ['Description', 'Description'],
      ['Datacenters', 'Datacenters'],
      ['Rules', 'Rules'],
    ],
  },
  {
    name: 'role',
    path: '/v1/acl/role',
    list: '/v1/acl/roles',
    key: 'ID',
    byName: true,
    flags: [
      { flag: 'name', describe: 'the role name', kind: 'string', field: 'Name' },
      { flag: 'description', describe: 'a description', kind: 'string', field: 'Description' },
      ...links('policy', 'Policies'),
    ],
    show: [
      ['ID', 'ID'],
      ['Name', 'Name'],
      ['Description', 'Description'],
      ['Policies', 'Policies'],
    ],
  },
  {
    name: 'token',
    path: '/v1/acl/token',
    list: '/v1/acl/tokens',
    key: 'AccessorID',
    byName: false,
    flags: [
      { flag: 'description', describe: 'a description', kind: 'string', field: 'Description' },
      ...links('policy', 'Policies'),
      ...links('role', 'Roles'),
      { flag: 'local', describe: 'valid in this datacenter only', kind: 'bool', field: 'Local' },
      { flag: 'expires-ttl', describe: 'how long the token lives (e.g. 1h)', kind: 'string', field: 'ExpirationTTL' },
      { flag: 'secret', describe: 'the SecretID to use (default: generated)', kind: 'string', field: 'SecretID' },
      { flag: 'accessor', describe: 'the AccessorID to use (default: generated)', kind: 'string', field: 'AccessorID' },
    ],
    show: [
      ['AccessorID', 'AccessorID'],
      ['SecretID', 'SecretID'],
      ['Description', 'Description'],
      ['Local', 'Local'],
      ['Auth Method', 'AuthMethod'],
      ['Create Time', 'CreateTime'],
      ['Expiration Time', 'ExpirationTime'],
      ['Policies', 'Policies'],
      ['Roles', 'Roles'],
    ],
  },
  {
    name: 'auth-method',
    path: '/v1/acl/auth-method',
    list: '/v1/acl/auth-methods',
    key: 'Name',
    byName: false,
    flags: [
      { flag: 'name', describe: 'the auth method name', kind: 'string', field: 'Name' },
      { flag: 'type', describe: 'its type (jwt)', kind: 'string', field: 'Type' },
      { flag: 'display-name', describe: 'a name to show', kind: 'string', field: 'DisplayName' },
      { flag: 'description', describe: 'a description', kind: 'string', field: 'Description' },
      {
        flag: 'max-token-ttl',
        describe: 'longest life of the tokens it gives (e.g. 8h)',
        kind: 'string',
        field: 'MaxTokenTTL',
      },
      { flag: 'token-locality', describe: 'local or global', kind: 'string', field: 'TokenLocality' },
      { flag: 'config', describe: 'its configuration as JSON, or @FILE', kind: 'json', field: 'Config' },
    ],
    show: [
      ['Name', 'Name'],
      ['Type', 'Type'],
      ['Display Name', 'DisplayName'],
      ['Description', 'Description'],
      ['Max Token TTL', 'MaxTokenTTL'],
      ['Token Locality', 'TokenLocality'],
      ['Config', 'Config'],
    ],
  },
  {
    name: 'binding-rule',
    path: '/v1/acl/binding-rule',
    list: '/v1/acl/binding-rules',
    key: 'ID',
    byName: false,
    flags: [
      { flag: 'method', describe: 'the auth method it applies to', kind: 'string', field: 'AuthMethod' },
      { flag: 'description', describe: 'a description', kind: 'string', field: 'Description' },
      {
        flag: 'selector',
        describe: 'which logins it applies to (a filter expression)',
        kind: 'string',
        field: 'Selector',
      },
      { flag: 'bind-type', describe: 'service, node, role or policy', kind: 'string', field: 'BindType' },
      { flag: 'bind-name', describe: 'the name bound (may use ${claims})', kind: 'string', field: 'BindName' },
    ],
    show: [
      ['ID', 'ID'],
      ['AuthMethod', 'AuthMethod'],
      ['Description', 'Description'],
      ['BindType', 'BindType'],
      ['BindName', 'BindName'],
      ['Selector', 'Selector'],
    ],
  },
];

/** A flag value that may be `@FILE`. */
function textOrFile(value: string, flag: string): string {
  if (!value.startsWith('@')) return value;
  try {
    return readFileSync(value.slice(1), 'utf8');
  } catch (err) {
    throw new CliError(
      `-${flag}: cannot read ${value.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      2,
    );
  }
}

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The fields the flags given set (fields of flags not given are left out). */
function fieldsOf(kind: AclKind, o: Record<string, unknown>): Json {
  const out: Json = {};
  for (const f of kind.flags) {
    const v = o[camel(f.flag)];
    if (v === undefined) continue;
    switch (f.kind) {
      case 'string':
        out[f.field] = v;
        break;
      case 'file':
        out[f.field] = textOrFile(v as string, f.flag);
        break;
      case 'bool':
        out[f.field] = v === true;
        break;
      case 'list':
        out[f.field] = v;
        break;
      case 'json':
        try {
          out[f.field] = JSON.parse(textOrFile(v as string, f.flag)) as unknown;
        } catch (err) {
          throw new CliError(`-${f.flag} is not valid JSON: ${(err as Error).message}`, 2);
        }
        break;
      case 'link':
        out[f.field] = [
          ...((out[f.field] as Json[] | undefined) ?? []),
          ...(v as string[]).map((x) => ({ [f.by as string]: x })),
        ];
        break;
    }
  }
  return out;
}

/** An object in Consul's `pretty` form: one "Label: value" line per field; links as "ID - Name". */
export function renderAcl(kind: AclKind, obj: Json): string {
  const lines: string[] = [];
  for (const [label, field] of kind.show) {
    const v = obj[field];
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    if ((field === 'Policies' || field === 'Roles') && Array.isArray(v)) {
      lines.push(`${label}:`);
      for (const l of v as Array<{ ID?: string; Name?: string }>) lines.push(`   ${l.ID ?? ''} - ${l.Name ?? ''}`);
    } else if (field === 'Rules') {
      lines.push(`${label}:`, String(v));
    } else if (typeof v === 'object') {
      lines.push(`${`${label}:`.padEnd(18)}${Array.isArray(v) ? v.join(', ') : JSON.stringify(v)}`);
    } else lines.push(`${`${label}:`.padEnd(18)}${String(v)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The object named by -id (or -name, or -self for tokens), read whole. */
async function readOne(
  c: KonsulClient,
  kind: AclKind,
  o: { id?: string; name?: string; self?: boolean },
): Promise<Json> {
  if (o.self) return c.json<Json>('GET', '/v1/acl/token/self');
  if (o.id !== undefined) return c.json<Json>('GET', `${kind.path}/${encodeURIComponent(o.id)}`);
  if (o.name !== undefined && kind.byName)
    return c.json<Json>('GET', `${kind.path}/name/${encodeURIComponent(o.name)}`);
  throw new CliError(`Must specify the ${kind.name} to use with -id${kind.byName ? ' or -name' : ''}`, 2);
}

/** -id (and -name where objects are read by name), unless the command's field flags take -name already. */
function keyOption(cmd: Command, kind: AclKind, withFieldFlags = false): Command {
  cmd.option(
    '--id <id>',
    `the ${kind.name}'s ${kind.key === 'Name' ? 'name' : kind.key === 'AccessorID' ? 'AccessorID' : 'ID'}`,
  );
  // On update, -name is also the field flag: it names the object when -id is not given, else renames it.
  if (kind.byName && !withFieldFlags) cmd.option('--name <name>', `the ${kind.name}'s name`);
  return cmd;
}

/** Registers `acl bootstrap`, `acl <kind> create|list|read|update|delete`, `login` and `logout`. */
export function registerAclCommands(program: Command, client: ClientCommand): void {
  const acl = program
    .command('acl')
    .description('ACL bootstrap, policies, roles, tokens, auth methods and binding rules');

  client(formatFlag(acl.command('bootstrap').description('create the first management token')), async (c, io, o) => {
    const token = await c.json<Json>('PUT', '/v1/acl/bootstrap');
    const kind = KINDS.find((k) => k.name === 'token') as AclKind;
    io.out(formatOf(o as { format?: string }) === 'json' ? json(token) : renderAcl(kind, token));
    return 0;
  });

  for (const kind of KINDS) {
    const group = acl.command(kind.name).description(`${kind.name}s`);
    const withFields = (cmd: Command): Command => {
      for (const f of kind.flags) {
        const flag = f.kind === 'bool' ? `--${f.flag}` : `--${f.flag} <value>`;
        if (f.kind === 'list' || f.kind === 'link') cmd.option(flag, f.describe, collect);
        else cmd.option(flag, f.describe);
      }
      return cmd;
    };

    client(
      formatFlag(withFields(group.command('create').description(`create a ${kind.name}`))),
      async (c, io, o: Json) => {
        const created = await c.json<Json>('PUT', kind.path, { body: JSON.stringify(fieldsOf(kind, o)) });
        io.out(formatOf(o as { format?: string }) === 'json' ? json(created) : renderAcl(kind, created));
        return 0;
      },
    );

    client(formatFlag(group.command('list').description(`list the ${kind.name}s`)), async (c, io, o) => {
      const list = await c.json<Json[]>('GET', kind.list);
      if (formatOf(o as { format?: string }) === 'json') {
        io.out(json(list));
        return 0;
      }
      // Each under its name (tokens: AccessorID; binding rules: ID), its fields indented.
      const label = kind.name === 'token' ? 'AccessorID' : kind.name === 'binding-rule' ? 'ID' : 'Name';
      io.out(
        list.map((x) => `${String(x[label] ?? '')}:\n${renderAcl(kind, x).replace(/^(?=.)/gm, '   ')}`).join('\n'),
      );
      return 0;
    });

    const read = keyOption(group.command('read').description(`read a ${kind.name}`), kind);
    if (kind.name === 'token') read.option('--self', 'the token this command uses');
    client(formatFlag(read), async (c, io, o: { id?: string; name?: string; self?: boolean; format?: string }) => {
      const obj = await readOne(c, kind, o);
      io.out(formatOf(o) === 'json' ? json(obj) : renderAcl(kind, obj));
      return 0;
    });

    const update = withFields(
      keyOption(group.command('update').description(`change fields of a ${kind.name}`), kind, true),
    );
    client(formatFlag(update), async (c, io, o: Json) => {
      const current = await readOne(c, kind, o as { id?: string; name?: string });
      const changes = fieldsOf(kind, o);
      const next = { ...current, ...changes };
      const id = String(current[kind.key]);
      const updated = await c.json<Json>('PUT', `${kind.path}/${encodeURIComponent(id)}`, {
        body: JSON.stringify(next),
      });
      io.out(formatOf(o as { format?: string }) === 'json' ? json(updated) : renderAcl(kind, updated));
      return 0;
    });

    client(
      keyOption(group.command('delete').description(`delete a ${kind.name}`), kind),
      async (c, io, o: { id?: string; name?: string }) => {
        const id = o.id ?? (o.name !== undefined ? String((await readOne(c, kind, o))[kind.key]) : undefined);
        if (id === undefined)
          throw new CliError(`Must specify the ${kind.name} to delete with -id${kind.byName ? ' or -name' : ''}`, 2);
        await c.ok('DELETE', `${kind.path}/${encodeURIComponent(id)}`);
        io.out(
          `${kind.name.charAt(0).toUpperCase()}${kind.name.slice(1).replace('-', ' ')} "${id}" deleted successfully\n`,
        );
        return 0;
      },
    );
  }

  client(
    program
      .command('login')
      .description('exchange a bearer token (a JWT) for a Konsul token with an auth method')
      .requiredOption('--method <name>', 'the auth method')
      .requiredOption('--bearer-token-file <path>', 'a file holding the bearer token')
      .requiredOption('--token-sink-file <path>', 'where to write the SecretID of the token obtained')
      .option('--meta <key=value>', 'metadata for the token (repeatable)', collect),
    async (c, _io, o: { method: string; bearerTokenFile: string; tokenSinkFile: string; meta?: string[] }) => {
      const bearer = textOrFile(`@${o.bearerTokenFile}`, 'bearer-token-file').trim();
      const meta = Object.fromEntries(
        (o.meta ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      const token = await c.json<{ SecretID: string }>('POST', '/v1/acl/login', {
        body: JSON.stringify({ AuthMethod: o.method, BearerToken: bearer, ...(o.meta ? { Meta: meta } : {}) }),
      });
      try {
        writeFileSync(o.tokenSinkFile, token.SecretID, { mode: 0o600 });
      } catch (err) {
        throw new CliError(
          `cannot write ${o.tokenSinkFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
      return 0;
    },
  );

  client(
    program.command('logout').description('destroy the token this command uses (one obtained by login)'),
    async (c) => {
      await c.ok('POST', '/v1/acl/logout');
      return 0;
    },
  );
}
