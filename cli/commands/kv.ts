import type { Command } from 'commander';
import { failure, type KonsulClient } from '../client/api.js';
import { CliError } from '../client/errors.js';
import { readFileOrFail } from '../client/files.js';
import { type Io, progress } from '../client/output.js';
import { type ClientCommand, intFlag } from './common.js';

/** A KV entry as the API answers it. */
interface KvEntry {
  Key: string;
  Value: string | null;
  Flags: number;
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  Session?: string;
}

/** One entry of Consul's `kv export` format. */
interface Exported {
  key: string;
  flags: number;
  value: string;
}

/** Transaction operations per import transaction at most (Consul's limit is 64). */
const DEFAULT_TXN_MAX_OPS = 64;

const keyPath = (key: string) => `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
const valueOf = (e: KvEntry, base64: boolean): Buffer | string =>
  base64 ? (e.Value ?? '') : Buffer.from(e.Value ?? '', 'base64');

/** Consul's `-detailed` rendering of an entry: one field per line, aligned. */
function detailed(e: KvEntry, base64: boolean): string {
  const rows: Array<[string, string]> = [
    ['CreateIndex', String(e.CreateIndex)],
    ['Flags', String(e.Flags)],
    ['Key', e.Key],
    ['LockIndex', String(e.LockIndex)],
    ['ModifyIndex', String(e.ModifyIndex)],
    ['Session', e.Session ?? '-'],
    ['Value', valueOf(e, base64).toString()],
  ];
  return rows.map(([k, v]) => `${k.padEnd(17)}${v}\n`).join('');
}

/**
 * The data argument of `kv put` and `kv import`: `@file` reads a file, `-` reads stdin, anything
 * else is the data itself; with `base64`, the data is decoded first.
 */
async function dataArg(io: Io, arg: string | undefined, base64: boolean): Promise<Buffer> {
  let raw: Buffer;
  if (arg === undefined) raw = Buffer.alloc(0);
  else if (arg === '-') raw = await io.stdin();
  else if (arg.startsWith('@')) {
    raw = readFileOrFail(arg.slice(1), undefined);
  } else raw = Buffer.from(arg);
  if (!base64) return raw;
  const text = raw.toString().trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new CliError('the data is not valid base64 (-base64 was given)', 2);
  return Buffer.from(text, 'base64');
}

/** Registers `kv get|put|delete|export|import` with Consul's flags. */
export function registerKvCommands(program: Command, client: ClientCommand): void {
  const kv = program.command('kv').description('read and write the key/value store');

  client(
    kv
      .command('get')
      .description('read a key, or keys under a prefix')
      .argument('[key]', 'the key (or prefix with -recurse or -keys)', '')
      .option('--recurse', 'every key under the prefix, as key:value lines')
      .option('--keys', 'list the keys under the prefix (up to the separator)')
      .option('--separator <sep>', 'with -keys: list up to this separator ("" for all keys)', '/')
      .option('--detailed', 'every field of each entry')
      .option('--base64', 'print values base64-encoded')
      .option('--stale', 'let any server answer (possibly behind the leader)'),
    async (
      c,
      io,
      key: string,
      o: {
        recurse?: boolean;
        keys?: boolean;
        separator: string;
        detailed?: boolean;
        base64?: boolean;
        stale?: boolean;
      },
    ) => {
      if (o.keys) {
        const query = { keys: true, separator: o.separator === '' ? undefined : o.separator, stale: o.stale };
        const a = await c.request('GET', keyPath(key), { query });
        if (a.status === 404) return 0;
        if (a.status !== 200) throw failure(a);
        for (const k of JSON.parse(a.body.toString()) as string[]) io.out(`${k}\n`);
        return 0;
      }
      if (o.recurse) {
        const a = await c.request('GET', keyPath(key), { query: { recurse: true, stale: o.stale } });
        if (a.status === 404) return 0;
        if (a.status !== 200) throw failure(a);
        const entries = JSON.parse(a.body.toString()) as KvEntry[];
        entries.forEach((e, i) => {
          if (o.detailed) io.out(`${i > 0 ? '\n' : ''}${detailed(e, o.base64 === true)}`);
          else
            io.out(
              Buffer.concat([Buffer.from(`${e.Key}:`), Buffer.from(valueOf(e, o.base64 === true)), Buffer.from('\n')]),
            );
        });
        return 0;
      }
      if (key === '') throw new CliError('Missing KEY argument', 2);
      const a = await c.request('GET', keyPath(key), { query: { stale: o.stale } });
      if (a.status === 404) throw new CliError(`Error! No key exists at: ${key}`);
      if (a.status !== 200) throw failure(a);
      const [e] = JSON.parse(a.body.toString()) as KvEntry[];
      if (!e) throw new CliError(`Error! No key exists at: ${key}`);
      if (o.detailed) io.out(detailed(e, o.base64 === true));
      else io.out(Buffer.concat([Buffer.from(valueOf(e, o.base64 === true)), Buffer.from('\n')]));
      return 0;
    },
  );

  client(
    kv
      .command('put')
      .description('write a key (DATA: the value, @FILE, or - for stdin)')
      .argument('<key>', 'the key')
      .argument('[data]', 'the value, @FILE or -')
      .option('--cas', 'write only if the key is at -modify-index (0: only if absent)')
      .option('--modify-index <n>', 'the ModifyIndex -cas expects')
      .option('--flags <n>', 'an unsigned 64-bit integer stored with the value', '0')
      .option('--base64', 'DATA is base64-encoded')
      .option('--acquire', 'take the lock on the key with -session')
      .option('--release', 'release the lock on the key held by -session')
      .option('--session <id>', 'the session for -acquire or -release'),
    async (
      c,
      io,
      key: string,
      data: string | undefined,
      o: {
        cas?: boolean;
        modifyIndex?: string;
        flags: string;
        base64?: boolean;
        acquire?: boolean;
        release?: boolean;
        session?: string;
      },
    ) => {
      if (o.cas && o.modifyIndex === undefined) throw new CliError('Must specify -modify-index with -cas!', 2);
      if ((o.acquire || o.release) && o.session === undefined)
        throw new CliError('Must specify -session with -acquire or -release!', 2);
      if (o.acquire && o.release) throw new CliError('Cannot specify both -acquire and -release!', 2);
      const value = await dataArg(io, data, o.base64 === true);
      const query = {
        flags: intFlag(o.flags, 'flags'),
        ...(o.cas ? { cas: intFlag(o.modifyIndex as string, 'modify-index') } : {}),
        ...(o.acquire ? { acquire: o.session } : {}),
        ...(o.release ? { release: o.session } : {}),
      };
      const a = await c.request('PUT', keyPath(key), { query, body: value });
      if (a.status !== 200) throw failure(a);
      const done = a.body.toString().trim() === 'true';
      if (o.acquire) {
        if (!done) throw new CliError('Error! Did not acquire lock');
        io.out(`Success! Lock acquired on: ${key}\n`);
      } else if (o.release) {
        if (!done) throw new CliError('Error! Did not release lock');
        io.out(`Success! Lock released on: ${key}\n`);
      } else {
        if (!done) throw new CliError(`Error! Did not write to ${key}: CAS failed`);
        io.out(`Success! Data written to: ${key}\n`);
      }
      return 0;
    },
  );

  client(
    kv
      .command('delete')
      .description('delete a key, or every key under a prefix')
      .argument('<key>', 'the key (or prefix with -recurse)')
      .option('--recurse', 'delete every key under the prefix')
      .option('--cas', 'delete only if the key is at -modify-index')
      .option('--modify-index <n>', 'the ModifyIndex -cas expects'),
    async (c, io, key: string, o: { recurse?: boolean; cas?: boolean; modifyIndex?: string }) => {
      if (o.cas && o.modifyIndex === undefined) throw new CliError('Must specify -modify-index with -cas!', 2);
      if (o.cas && o.recurse) throw new CliError('Cannot specify both -cas and -recurse!', 2);
      const query = { recurse: o.recurse, ...(o.cas ? { cas: intFlag(o.modifyIndex as string, 'modify-index') } : {}) };
      const a = await c.request('DELETE', keyPath(key), { query });
      if (a.status !== 200) throw failure(a);
      if (o.cas && a.body.toString().trim() !== 'true')
        throw new CliError(`Error! Did not delete key ${key}: CAS failed`);
      io.out(o.recurse ? `Success! Deleted keys with prefix: ${key}\n` : `Success! Deleted key: ${key}\n`);
      return 0;
    },
  );

  client(
    kv
      .command('export')
      .description("print the keys under a prefix in Consul's JSON export format")
      .argument('[prefix]', 'the prefix', ''),
    async (c, io, prefix: string) => {
      const a = await c.request('GET', keyPath(prefix), { query: { recurse: true } });
      if (a.status !== 200 && a.status !== 404) throw failure(a);
      const entries = a.status === 404 ? [] : (JSON.parse(a.body.toString()) as KvEntry[]);
      const exported: Exported[] = entries.map((e) => ({ key: e.Key, flags: e.Flags, value: e.Value ?? '' }));
      // As Consul writes it: tab-indented JSON.
      io.out(`${JSON.stringify(exported, null, '\t')}\n`);
      return 0;
    },
  );

  client(
    kv
      .command('import')
      .description('write the keys of a Consul JSON export (DATA: the JSON, @FILE, or - for stdin)')
      .argument('[data]', 'the JSON, @FILE or -', '-')
      .option('--prefix <prefix>', 'put this before every imported key', '')
      .option('--txn-max-ops <n>', 'operations per transaction at most (1-64)', String(DEFAULT_TXN_MAX_OPS)),
    async (c, io, data: string, o: { prefix: string; txnMaxOps: string }) => {
      const maxOps = intFlag(o.txnMaxOps, 'txn-max-ops');
      if (maxOps < 1 || maxOps > 64) throw new CliError('-txn-max-ops must be 1 to 64', 2);
      const entries = parseExport((await dataArg(io, data, false)).toString('utf8'));
      const bar = progress(io, 'Importing', entries.length);
      let done = 0;
      try {
        for (let i = 0; i < entries.length; i += maxOps) {
          const batch = entries.slice(i, i + maxOps);
          const ops = batch.map((e) => ({
            KV: { Verb: 'set', Key: o.prefix + e.key, Value: e.value, Flags: e.flags },
          }));
          await importBatch(c, ops);
          done += batch.length;
          bar.update(done);
          if (!io.tty) for (const e of batch) io.out(`Imported: ${o.prefix}${e.key}\n`);
        }
      } finally {
        bar.stop();
      }
      if (io.tty) io.out(`Imported ${done} keys\n`);
      return 0;
    },
  );
}

/** Checks and returns the entries of a Consul export, naming the first bad one. */
export function parseExport(text: string): Exported[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`the import data is not JSON: ${(err as Error).message}`, 2);
  }
  if (!Array.isArray(parsed)) throw new CliError('the import data is not a JSON array of {key, flags, value}', 2);
  return parsed.map((e: unknown, i) => {
    const o = e as Partial<Exported> | null;
    if (o === null || typeof o !== 'object' || typeof o.key !== 'string' || o.key === '')
      throw new CliError(`import entry ${i}: "key" must be a non-empty string`, 2);
    if (o.flags !== undefined && (typeof o.flags !== 'number' || !Number.isSafeInteger(o.flags) || o.flags < 0))
      throw new CliError(`import entry ${i} (${o.key}): "flags" must be an unsigned integer`, 2);
    const value = o.value ?? '';
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
      throw new CliError(`import entry ${i} (${o.key}): "value" must be base64`, 2);
    return { key: o.key, flags: o.flags ?? 0, value };
  });
}

async function importBatch(c: KonsulClient, ops: unknown[]): Promise<void> {
  const a = await c.request('PUT', '/v1/txn', { body: JSON.stringify(ops) });
  if (a.status === 200) return;
  if (a.status === 409) {
    const errors = (JSON.parse(a.body.toString()) as { Errors?: Array<{ What: string }> }).Errors ?? [];
    throw new CliError(`import failed: ${errors.map((e) => e.What).join('; ') || 'the transaction was rolled back'}`);
  }
  throw failure(a);
}
