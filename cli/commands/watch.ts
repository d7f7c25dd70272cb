import { spawn } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SseParser } from '../../core/sync/sse-parser.js';
import { failure, type KonsulClient } from '../client/api.js';
import { CliError } from '../client/errors.js';
import type { Io } from '../client/output.js';
import type { ClientCommand } from './common.js';

type Json = Record<string, unknown>;

/** What a watch follows. */
interface WatchSpec {
  readonly type: 'key' | 'keyprefix' | 'services' | 'service' | 'checks' | 'event';
  readonly key?: string;
  readonly prefix?: string;
  readonly service?: string;
  readonly state?: string;
  readonly name?: string;
  readonly passingOnly?: boolean;
}

/** One running watch: the client, what it follows, its handler and state file, and when it stops. */
interface WatchRun {
  readonly c: KonsulClient;
  readonly io: Io;
  readonly spec: WatchSpec;
  /** `spec` as JSON, the identity a state file records. */
  readonly specText: string;
  readonly handler: readonly string[];
  readonly stateFile: string | undefined;
  readonly signal: AbortSignal;
}

/** What -state-file keeps: the last change handled and, for streamed watches, the data as it was then. */
interface SavedState {
  readonly v: 1;
  /** The watch it belongs to (a file of another watch is not used). */
  readonly spec: string;
  readonly index: number;
  readonly entries: Record<string, unknown>;
}

/** Changes read ahead of the handler at most; beyond, the stream is dropped and resumed later. */
const MAX_PENDING_CHANGES = 1024;
/** Largest time a blocking query waits (Consul's default wait is 5 minutes). */
const BLOCK_WAIT = '5m';

const keyPath = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** The input a handler gets for a streamed watch, from the data as it stands. */
function render(spec: WatchSpec, entries: Record<string, unknown>): unknown {
  const sorted = Object.keys(entries)
    .sort()
    .map((k) => entries[k]);
  switch (spec.type) {
    case 'key':
      return sorted[0] ?? null;
    case 'service':
      return spec.passingOnly
        ? sorted.filter((e) =>
            ((e as { Checks?: Array<{ Status: string }> }).Checks ?? []).every((c) => c.Status === 'passing'),
          )
        : sorted;
    default:
      return sorted;
  }
}

/** Runs the handler with `input` as JSON on stdin (or prints it when there is no handler). */
function runHandler(io: Io, handler: readonly string[], input: unknown, index: number): Promise<void> {
  const text = `${JSON.stringify(input)}\n`;
  if (handler.length === 0) {
    io.out(text);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    // One argument is a shell command line (as Consul runs a handler string); several are exec'd.
    const child =
      handler.length === 1
        ? spawn('/bin/sh', ['-c', handler[0] as string], {
            stdio: ['pipe', 'inherit', 'inherit'],
            env: { ...process.env, CONSUL_INDEX: String(index) },
          })
        : spawn(handler[0] as string, handler.slice(1), {
            stdio: ['pipe', 'inherit', 'inherit'],
            env: { ...process.env, CONSUL_INDEX: String(index) },
          });
    child.on('error', (err) => {
      io.err(`watch: the handler could not start: ${err.message}\n`);
      resolve();
    });
    child.on('exit', (code, signal) => {
      if (code !== 0) io.err(`watch: the handler exited with ${code ?? signal} (index ${index})\n`);
      resolve();
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(text);
  });
}

function loadState(file: string | undefined, spec: string, io: Io): SavedState | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(text) as SavedState;
    if (s.v !== 1 || typeof s.index !== 'number') throw new Error('not a watch state');
    if (s.spec !== spec) {
      io.err(`watch: ${file} belongs to another watch (${s.spec}); starting afresh\n`);
      return undefined;
    }
    return s;
  } catch (err) {
    throw new CliError(`-state-file ${file} is not a watch state: ${(err as Error).message}`, 2);
  }
}

function saveState(file: string | undefined, state: SavedState): void {
  if (file === undefined) return;
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, file);
}

/** The data a streamed watch starts from: the current state and its index. */
async function readCurrent(
  c: KonsulClient,
  spec: WatchSpec,
): Promise<{ index: number; entries: Record<string, unknown> }> {
  const entries: Record<string, unknown> = {};
  if (spec.type === 'event') {
    const a = await c.ok('GET', '/v1/event/list', { query: { name: spec.name } });
    return { index: Number(a.headers['x-consul-index'] ?? 0), entries };
  }
  if (spec.type === 'service') {
    const a = await c.ok('GET', `/v1/health/service/${encodeURIComponent(spec.service as string)}`);
    for (const e of JSON.parse(a.body.toString()) as Array<{ Node: { Node: string }; Service: { ID: string } }>)
      entries[`${e.Node.Node}/${e.Service.ID}`] = e;
    return { index: Number(a.headers['x-consul-index'] ?? 0), entries };
  }
  const key = spec.type === 'key' ? (spec.key as string) : (spec.prefix as string);
  const a = await c.request('GET', `/v1/kv/${keyPath(key)}`, { query: { recurse: spec.type === 'keyprefix' } });
  if (a.status !== 200 && a.status !== 404) throw failure(a);
  if (a.status === 200) for (const e of JSON.parse(a.body.toString()) as Array<{ Key: string }>) entries[e.Key] = e;
  return { index: Number(a.headers['x-consul-index'] ?? 0), entries };
}

/** Applies one streamed change to the data; undefined when the data must be read again (a reset). */
function applyChange(
  spec: WatchSpec,
  entries: Record<string, unknown>,
  data: Json,
): Record<string, unknown> | undefined {
  if (spec.type === 'service') {
    if (data['Op'] === 'reset') return undefined;
    const k = `${String(data['Node'])}/${String(data['ServiceID'])}`;
    if (data['Entry']) entries[k] = data['Entry'];
    else delete entries[k];
    return entries;
  }
  const op = data['Op'];
  if (op === 'delete-tree') {
    const prefix = String(data['Prefix']);
    for (const k of Object.keys(entries)) if (k.startsWith(prefix)) delete entries[k];
  } else if (spec.type === 'keyprefix' || data['Key'] === spec.key) {
    if (op === 'set') entries[String(data['Key'])] = data['Entry'];
    else delete entries[String(data['Key'])];
  }
  return entries;
}

/**
 * Follows a streamed watch (key, keyprefix, service, event) over its SSE stream from `state`,
 * running the handler once per index with changes; returns when `signal` aborts.
 */
async function followStream(run: WatchRun, start: SavedState): Promise<void> {
  const { c, io, spec, specText, handler, stateFile, signal } = run;
  let state = start;
  const path =
    spec.type === 'service'
      ? `/v1/watch/health/${encodeURIComponent(spec.service as string)}`
      : spec.type === 'event'
        ? '/v1/watch/events'
        : `/v1/watch/kv/${keyPath(spec.type === 'key' ? (spec.key as string) : (spec.prefix as string))}`;
  let backoff = 500;
  while (!signal.aborted) {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const streamAbort = new AbortController();
    let queue = Promise.resolve();
    let pending = 0;
    let resync = false;
    const handle = async (ev: { event?: string | undefined; id?: string | undefined; data: string }): Promise<void> => {
      if (resync || signal.aborted) return;
      if (ev.event === 'resync') {
        resync = true;
        streamAbort.abort();
        return;
      }
      const id = ev.id ?? '';
      const index = Number(id.split(':')[0]);
      const data = JSON.parse(ev.data) as Json;
      let entries = state.entries;
      let input: unknown;
      if (spec.type === 'event') input = [data['Event']];
      else {
        const next = applyChange(spec, { ...entries }, data);
        if (next === undefined) {
          resync = true;
          streamAbort.abort();
          return;
        }
        entries = next;
        input = render(spec, entries);
      }
      state = { ...state, index, entries };
      // The last change of an index has an id without ":n": the handler runs once per index.
      if (id.includes(':')) return;
      await runHandler(io, handler, input, index);
      saveState(stateFile, state);
    };
    try {
      await c.stream(
        path,
        { index: state.index, name: spec.type === 'event' ? spec.name : undefined },
        (chunk) => {
          for (const ev of parser.push(decoder.decode(chunk, { stream: true }))) {
            pending++;
            queue = queue.then(() => handle(ev)).finally(() => pending--);
          }
          // A handler slower than the changes: stop reading, and resume from the last handled index.
          if (pending > MAX_PENDING_CHANGES) streamAbort.abort();
        },
        anySignal(signal, streamAbort.signal),
      );
      backoff = 500;
    } catch (err) {
      if (!signal.aborted && !streamAbort.signal.aborted) io.err(`watch: ${(err as Error).message}; reconnecting\n`);
    }
    await queue;
    if (signal.aborted) return;
    if (resync) {
      const now = await readCurrent(c, spec);
      io.err(
        `watch: the server no longer holds the changes after index ${state.index}; ` +
          `running the handler once with the current state (index ${now.index})\n`,
      );
      state = { v: 1, spec: specText, index: now.index, entries: now.entries };
      await runHandler(io, handler, spec.type === 'event' ? [] : render(spec, now.entries), now.index);
      saveState(stateFile, state);
      continue;
    }
    if (streamAbort.signal.aborted) continue;
    await new Promise((r) => setTimeout(r, backoff));
    backoff = Math.min(backoff * 2, 10_000);
  }
}

/** A signal that aborts when either does. */
function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  const c = new AbortController();
  const abort = () => c.abort();
  if (a.aborted || b.aborted) c.abort();
  a.addEventListener('abort', abort, { once: true });
  b.addEventListener('abort', abort, { once: true });
  return c.signal;
}

/** Follows services or checks with blocking queries, running the handler whenever the index moves. */
async function followBlocking(run: WatchRun, start: SavedState | undefined): Promise<void> {
  const { c, io, spec, specText, handler, stateFile, signal } = run;
  const path =
    spec.type === 'services'
      ? '/v1/catalog/services'
      : spec.service !== undefined
        ? `/v1/health/checks/${encodeURIComponent(spec.service)}`
        : `/v1/health/state/${encodeURIComponent(spec.state ?? 'any')}`;
  let index = start?.index ?? 0;
  let first = start === undefined;
  while (!signal.aborted) {
    let a;
    try {
      a = await c.request('GET', path, { query: { index: index > 0 ? index : undefined, wait: BLOCK_WAIT } });
    } catch (err) {
      if (signal.aborted) return;
      io.err(`watch: ${(err as Error).message}; retrying\n`);
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    if (a.status !== 200) throw failure(a);
    const next = Number(a.headers['x-consul-index'] ?? 0);
    // As Consul: an index that went backwards (a restored snapshot) starts over.
    if (next < index) index = 0;
    if (first || next !== index) {
      first = false;
      index = next;
      await runHandler(io, handler, JSON.parse(a.body.toString()) as unknown, index);
      saveState(stateFile, { v: 1, spec: specText, index, entries: {} });
    }
  }
}

/** Registers `watch`. */
export function registerWatchCommand(program: Command, client: ClientCommand): void {
  client(
    program
      .command('watch')
      .description('run a handler with the JSON of the watched data on stdin once per change (or print it)')
      .requiredOption('--type <type>', 'key, keyprefix, services, service, checks or event')
      .option('--key <key>', 'the key (type key)')
      .option('--prefix <prefix>', 'the prefix (type keyprefix)')
      .option('--service <name>', 'the service (type service, or checks of one service)')
      .option('--state <state>', 'checks in this state: any, passing, warning, critical (type checks)')
      .option('--name <name>', 'the event name (type event)')
      .option('--passingonly', 'only instances whose checks all pass (type service)')
      .option('--state-file <path>', 'remember the last change handled here, to resume after a restart')
      .argument('[handler...]', 'the handler: one shell command line, or a program and its arguments'),
    async (
      c,
      io,
      handler: string[],
      o: {
        type: string;
        key?: string;
        prefix?: string;
        service?: string;
        state?: string;
        name?: string;
        passingonly?: boolean;
        stateFile?: string;
      },
    ) => {
      const types = ['key', 'keyprefix', 'services', 'service', 'checks', 'event'];
      if (!types.includes(o.type)) throw new CliError(`-type must be one of ${types.join(', ')}`, 2);
      const spec: WatchSpec = {
        type: o.type as WatchSpec['type'],
        ...(o.key !== undefined ? { key: o.key } : {}),
        ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
        ...(o.service !== undefined ? { service: o.service } : {}),
        ...(o.state !== undefined ? { state: o.state } : {}),
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(o.passingonly ? { passingOnly: true } : {}),
      };
      if (spec.type === 'key' && spec.key === undefined) throw new CliError('Must specify -key for a key watch', 2);
      if (spec.type === 'keyprefix' && spec.prefix === undefined)
        throw new CliError('Must specify -prefix for a keyprefix watch', 2);
      if (spec.type === 'service' && spec.service === undefined)
        throw new CliError('Must specify -service for a service watch', 2);
      const specText = JSON.stringify(spec);
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const run: WatchRun = { c, io, spec, specText, handler, stateFile: o.stateFile, signal: abort.signal };
        const saved = loadState(o.stateFile, specText, io);
        if (spec.type === 'services' || spec.type === 'checks') {
          await followBlocking(run, saved);
          return 0;
        }
        let start = saved;
        if (!start) {
          const now = await readCurrent(c, spec);
          start = { v: 1, spec: specText, index: now.index, entries: now.entries };
          if (spec.type !== 'event') await runHandler(io, handler, render(spec, now.entries), now.index);
          saveState(o.stateFile, start);
        }
        await followStream(run, start);
        return 0;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    },
  );
}
