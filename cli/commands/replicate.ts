import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import type { KonsulClient } from '../client/api.js';
import { CliError } from '../client/errors.js';
import { type ClientCommand, collect } from './common.js';

/** One `-prefix` of `konsul replicate`: a source prefix in a datacenter, copied under a destination prefix here. */
export interface ReplicatedPrefix {
  readonly source: string;
  readonly datacenter: string;
  readonly destination: string;
}

/**
 * Reads a `-prefix` as consul-replicate writes it: `<source>@<datacenter>[:<destination>]`
 * (destination defaults to the source). Throws CliError (2) naming what is missing.
 */
export function parseReplicatedPrefix(text: string): ReplicatedPrefix {
  const at = text.lastIndexOf('@');
  if (at <= 0) throw new CliError(`-prefix ${JSON.stringify(text)}: want <source>@<datacenter>[:<destination>]`, 2);
  const source = text.slice(0, at).replace(/^\/+/, '');
  const rest = text.slice(at + 1);
  const colon = rest.indexOf(':');
  const datacenter = colon < 0 ? rest : rest.slice(0, colon);
  const destination = colon < 0 ? source : rest.slice(colon + 1).replace(/^\/+/, '');
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(datacenter))
    throw new CliError(`-prefix ${JSON.stringify(text)}: ${JSON.stringify(datacenter)} is not a datacenter name`, 2);
  return { source, datacenter, destination };
}

/** A KV entry as the API lists it. */
interface KvEntry {
  readonly Key: string;
  readonly Flags: number;
  readonly Value: string | null;
}

/** One transaction operation (the API's JSON). */
type TxnOp = { KV: { Verb: 'set' | 'delete'; Key: string; Value?: string; Flags?: number } };

/**
 * What makes the destination equal to the source: a `set` for every source key whose copy is
 * missing or differs (value or flags), a `delete` for every destination key the source lacks.
 */
export function replicationOps(p: ReplicatedPrefix, source: readonly KvEntry[], here: readonly KvEntry[]): TxnOp[] {
  const mine = new Map(here.map((e) => [e.Key, e] as const));
  const ops: TxnOp[] = [];
  const wanted = new Set<string>();
  for (const e of source) {
    if (!e.Key.startsWith(p.source)) continue;
    const key = p.destination + e.Key.slice(p.source.length);
    wanted.add(key);
    const old = mine.get(key);
    if (old && (old.Value ?? '') === (e.Value ?? '') && old.Flags === e.Flags) continue;
    ops.push({ KV: { Verb: 'set', Key: key, Value: e.Value ?? '', Flags: e.Flags } });
  }
  for (const e of here) if (!wanted.has(e.Key)) ops.push({ KV: { Verb: 'delete', Key: e.Key } });
  return ops;
}

/** Where the progress of one `-prefix` is kept (as consul-replicate keeps its statuses). */
export function statusKey(p: ReplicatedPrefix): string {
  const id = createHash('sha256').update(`${p.source}@${p.datacenter}:${p.destination}`).digest('hex').slice(0, 16);
  return `service/konsul-replicate/statuses/${id}`;
}

/** Operations per transaction (the servers take up to 128 by default). */
const OPS_PER_TXN = 64;

async function listed(
  c: KonsulClient,
  prefix: string,
  query: Record<string, string>,
  signal: AbortSignal,
): Promise<[KvEntry[], number]> {
  const a = await c.request('GET', `/v1/kv/${prefix}`, { query: { recurse: '', ...query }, signal });
  const index = Number(a.headers['x-consul-index'] ?? 0);
  if (a.status === 404) return [[], index];
  if (a.status !== 200) throw new CliError(`listing ${prefix}: ${a.status} ${a.body.toString('utf8').trim()}`);
  return [JSON.parse(a.body.toString('utf8')) as KvEntry[], index];
}

/**
 * Copies one prefix until `signal` aborts: a blocking read of the source in its datacenter (through
 * the local server, `?dc=`), then the transactions that make the destination equal, then the
 * progress (the source's index) under statusKey, so a restart resumes from it. Errors are
 * reported through `log` and retried with backoff (1 s to 30 s).
 */
async function follow(
  c: KonsulClient,
  p: ReplicatedPrefix,
  signal: AbortSignal,
  log: (line: string) => void,
  once: boolean,
): Promise<void> {
  const status = await c.request('GET', `/v1/kv/${statusKey(p)}`, { query: { raw: '' } });
  let index = 0;
  if (status.status === 200) {
    const saved = JSON.parse(status.body.toString('utf8')) as { LastReplicated?: unknown };
    if (typeof saved.LastReplicated === 'number') index = saved.LastReplicated;
  }
  if (index > 0) log(`${p.source}@${p.datacenter}: resuming after index ${index}`);
  let backoff = 1000;
  while (!signal.aborted) {
    try {
      const wait: Record<string, string> = index > 0 && !once ? { index: String(index), wait: '5m' } : {};
      const [source, at] = await listed(c, p.source, { dc: p.datacenter, ...wait }, signal);
      if (signal.aborted) return;
      const [here] = await listed(c, p.destination, {}, signal);
      const ops = replicationOps(p, source, here);
      for (let i = 0; i < ops.length; i += OPS_PER_TXN)
        await c.ok('PUT', '/v1/txn', { body: JSON.stringify(ops.slice(i, i + OPS_PER_TXN)) });
      if (ops.length > 0)
        log(`${p.source}@${p.datacenter}: ${ops.length} changes copied to ${p.destination} (index ${at})`);
      index = at;
      const progress = { Source: p.source, Datacenter: p.datacenter, Destination: p.destination, LastReplicated: at };
      await c.ok('PUT', `/v1/kv/${statusKey(p)}`, { body: JSON.stringify(progress) });
      backoff = 1000;
      if (once) return;
    } catch (err) {
      if (signal.aborted) return;
      log(`${p.source}@${p.datacenter}: ${(err as Error).message}; retrying`);
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 30_000);
    }
  }
}

/**
 * Registers `konsul replicate` (consul-replicate's job): copies KV prefixes from another
 * datacenter into this one, one way, following changes (and deletions) with blocking queries
 * through the local server, resuming from the index it reached.
 */
export function registerReplicateCommand(program: Command, client: ClientCommand): void {
  client(
    program
      .command('replicate')
      .description('copy KV prefixes from another datacenter into this one, one way, and keep following them')
      .option('--prefix <source@dc[:destination]>', 'a prefix to copy (repeatable)', collect)
      .option('--once', 'copy once and exit instead of following changes'),
    async (c, io, o: { prefix?: string[]; once?: boolean }) => {
      const prefixes = (o.prefix ?? []).map(parseReplicatedPrefix);
      if (prefixes.length === 0) throw new CliError('at least one -prefix is needed', 2);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await Promise.all(
          prefixes.map((p) => follow(c, p, stop.signal, (line) => io.err(`replicate: ${line}\n`), o.once === true)),
        );
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      return 0;
    },
  );
}
