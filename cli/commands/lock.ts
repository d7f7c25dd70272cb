import { type ChildProcess, spawn } from 'node:child_process';
import type { Command } from 'commander';
import type { KonsulClient } from '../client/api.js';
import { CliError } from '../client/errors.js';
import { type ClientCommand, intFlag } from './common.js';

/** Consul's session settings for locks: a 15 s TTL renewed at half of it, release on invalidation. */
const SESSION_TTL = '15s';
const RENEW_MS = 7_500;
const BLOCK_WAIT = '15s';
/** The lock key under the prefix (Consul's name), and what the semaphore keeps in it. */
const LOCK_KEY = '.lock';

interface KvEntry {
  Key: string;
  Value: string | null;
  Session?: string;
  ModifyIndex: number;
}

interface SemaphoreLock {
  Limit: number;
  Holders: Record<string, boolean>;
}

const kvPath = (key: string) => `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
const decode = (e: KvEntry | undefined) => (e?.Value ? Buffer.from(e.Value, 'base64').toString('utf8') : '');

/** A held lock or semaphore slot: resolves `lost` when it is no longer held; release() gives it up. */
interface Held {
  readonly lost: Promise<void>;
  release(): Promise<void>;
}

async function createSession(c: KonsulClient, name: string): Promise<string> {
  const s = await c.json<{ ID: string }>('PUT', '/v1/session/create', {
    body: JSON.stringify({ Name: name, TTL: SESSION_TTL, Behavior: 'release' }),
  });
  return s.ID;
}

/** Reads `key` with a blocking query after `index` (0: at once); undefined when it does not exist. */
async function readKey(
  c: KonsulClient,
  key: string,
  index: number,
): Promise<{ entry: KvEntry | undefined; index: number }> {
  const a = await c.request('GET', kvPath(key), {
    query: { index: index || undefined, wait: index ? BLOCK_WAIT : undefined },
  });
  const next = Number(a.headers['x-consul-index'] ?? 0);
  if (a.status === 404) return { entry: undefined, index: next };
  if (a.status !== 200) throw new CliError(`reading ${key} failed: ${a.status} ${a.body.toString().trim()}`);
  return { entry: (JSON.parse(a.body.toString()) as KvEntry[])[0], index: next };
}

/**
 * Watches, with blocking queries, until `holds` says the lock is no longer ours (or the session
 * renewal fails); resolves then. `stopped` ends the watch without resolving as lost.
 */
function watchLoss(
  c: KonsulClient,
  session: string,
  key: string,
  holds: (entry: KvEntry | undefined) => boolean,
  stopped: { value: boolean },
): Promise<void> {
  return new Promise<void>((resolve) => {
    const renew = setInterval(() => {
      void c.request('PUT', `/v1/session/renew/${session}`).then(
        (a) => {
          if (a.status === 404 && !stopped.value) resolve();
        },
        () => undefined,
      );
    }, RENEW_MS);
    void (async () => {
      let index = 0;
      while (!stopped.value) {
        try {
          const r = await readKey(c, key, index);
          if (stopped.value) break;
          if (!holds(r.entry)) {
            resolve();
            break;
          }
          index = r.index;
        } catch {
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      clearInterval(renew);
    })();
  });
}

/** Takes the lock at PREFIX/.lock (Consul's lock protocol), waiting on the key between attempts. */
async function acquireLock(c: KonsulClient, prefix: string, session: string, deadline: number): Promise<Held> {
  const key = `${prefix}${LOCK_KEY}`;
  let index = 0;
  for (;;) {
    const r = await readKey(c, key, index);
    if (!r.entry?.Session) {
      const a = await c.request('PUT', kvPath(key), { query: { acquire: session }, body: '' });
      if (a.status === 200 && a.body.toString().trim() === 'true') break;
    }
    if (Date.now() > deadline) throw new CliError(`Lock acquisition failed: timed out waiting for ${key}`);
    index = r.index;
  }
  const stopped = { value: false };
  return {
    lost: watchLoss(c, session, key, (e) => e?.Session === session, stopped),
    release: async () => {
      stopped.value = true;
      await c.request('PUT', kvPath(key), { query: { release: session }, body: '' }).catch(() => undefined);
    },
  };
}

/**
 * Takes one of `limit` slots of the semaphore at PREFIX (Consul's semaphore protocol): a contender
 * key PREFIX/<session> held by the session, and PREFIX/.lock holding {Limit, Holders} written with
 * check-and-set; holders whose contender key is gone are pruned. Waits on the prefix between attempts.
 */
async function acquireSlot(
  c: KonsulClient,
  prefix: string,
  session: string,
  limit: number,
  deadline: number,
): Promise<Held> {
  const contender = `${prefix}${session}`;
  const a = await c.request('PUT', kvPath(contender), { query: { acquire: session }, body: '' });
  if (a.status !== 200 || a.body.toString().trim() !== 'true')
    throw new CliError(`could not create the contender key ${contender}`);
  const lockKey = `${prefix}${LOCK_KEY}`;
  let index = 0;
  for (;;) {
    const list = await c.request('GET', kvPath(prefix), {
      query: { recurse: true, index: index || undefined, wait: index ? BLOCK_WAIT : undefined },
    });
    index = Number(list.headers['x-consul-index'] ?? 0);
    const entries = list.status === 200 ? (JSON.parse(list.body.toString()) as KvEntry[]) : [];
    const lockEntry = entries.find((e) => e.Key === lockKey);
    const live = new Set(entries.filter((e) => e.Key !== lockKey && e.Session).map((e) => e.Session as string));
    let lock: SemaphoreLock = { Limit: limit, Holders: {} };
    if (lockEntry?.Value) {
      try {
        lock = JSON.parse(decode(lockEntry)) as SemaphoreLock;
      } catch {
        throw new CliError(`${lockKey} does not hold a semaphore (not JSON)`);
      }
      if (lock.Limit !== limit)
        throw new CliError(`Semaphore limit conflict (lock: ${lock.Limit}, local: ${limit}) at ${lockKey}`);
    }
    const holders = Object.keys(lock.Holders ?? {}).filter((h) => live.has(h));
    if (holders.length < limit) {
      const next: SemaphoreLock = {
        Limit: limit,
        Holders: Object.fromEntries([...holders, session].map((h) => [h, true])),
      };
      const w = await c.request('PUT', kvPath(lockKey), {
        query: { cas: lockEntry?.ModifyIndex ?? 0 },
        body: JSON.stringify(next),
      });
      if (w.status === 200 && w.body.toString().trim() === 'true') break;
      index = 0;
      continue;
    }
    if (Date.now() > deadline) throw new CliError(`Lock acquisition failed: timed out waiting for a slot of ${prefix}`);
  }
  const stopped = { value: false };
  const holds = (e: KvEntry | undefined): boolean => {
    try {
      return e !== undefined && (JSON.parse(decode(e)) as SemaphoreLock).Holders?.[session] === true;
    } catch {
      return false;
    }
  };
  return {
    lost: watchLoss(c, session, lockKey, holds, stopped),
    release: async () => {
      stopped.value = true;
      // Leave the holders (check-and-set, retried), then drop the contender key.
      for (let attempt = 0; attempt < 10; attempt++) {
        const r = await readKey(c, lockKey, 0).catch(() => undefined);
        if (!r?.entry) break;
        const lock = JSON.parse(decode(r.entry)) as SemaphoreLock;
        delete lock.Holders[session];
        const w = await c.request('PUT', kvPath(lockKey), {
          query: { cas: r.entry.ModifyIndex },
          body: JSON.stringify(lock),
        });
        if (w.status === 200 && w.body.toString().trim() === 'true') break;
      }
      await c.request('DELETE', kvPath(contender)).catch(() => undefined);
    },
  };
}

/** Runs the child, forwarding SIGINT, SIGTERM and SIGHUP; resolves with its exit code. */
function runChild(args: readonly string[], shell: boolean): { child: ChildProcess; exited: Promise<number> } {
  const child = shell
    ? spawn('/bin/sh', ['-c', args.join(' ')], { stdio: 'inherit' })
    : spawn(args[0] as string, args.slice(1), { stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  const exited = new Promise<number>((resolve) => {
    child.on('error', () => resolve(127));
    child.on('exit', (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
  return { child, exited };
}

/** Registers `lock`. */
export function registerLockCommand(program: Command, client: ClientCommand): void {
  client(
    program
      .command('lock')
      .description('hold a lock (or one of -n semaphore slots) under PREFIX while CMD runs')
      .argument('<prefix>', 'the KV prefix of the lock')
      .argument('<command...>', 'the command to run while holding it')
      .option('-n <n>', 'slots of a semaphore (1: a lock)', '1')
      .option('--name <name>', 'the session name', 'Consul lock')
      .option('--timeout <seconds>', 'give up acquiring after this many seconds (0: wait forever)', '0')
      .option('--shell', 'run CMD through the shell (the default)', true)
      .option('--no-shell', 'run CMD directly, without a shell')
      .option('--child-exit-code', 'exit with 2 when CMD fails (by default a failed CMD is not an error)')
      .option('--verbose', 'say what happens'),
    async (
      c,
      io,
      prefixArg: string,
      command: string[],
      o: { n: string; name: string; timeout: string; shell: boolean; childExitCode?: boolean; verbose?: boolean },
    ) => {
      const limit = intFlag(o.n, 'n');
      if (limit < 1) throw new CliError('-n must be at least 1', 2);
      const prefix = prefixArg.endsWith('/') ? prefixArg : `${prefixArg}/`;
      const timeout = intFlag(o.timeout, 'timeout');
      const deadline = timeout === 0 ? Number.POSITIVE_INFINITY : Date.now() + timeout * 1000;
      const say = (t: string) => o.verbose && io.err(`${t}\n`);
      const session = await createSession(c, o.name);
      let held: Held | undefined;
      try {
        held =
          limit === 1
            ? await acquireLock(c, prefix, session, deadline)
            : await acquireSlot(c, prefix, session, limit, deadline);
        say(`Lock acquired at ${prefix}`);
        const { child, exited } = runChild(command, o.shell);
        const outcome = await Promise.race([
          exited.then((code) => ({ code })),
          held.lost.then(() => ({ lost: true as const })),
        ]);
        if ('lost' in outcome) {
          io.err('Lock lost, killing child\n');
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(killer);
          return 1;
        }
        say(`Child exited with ${outcome.code}`);
        return o.childExitCode && outcome.code !== 0 ? 2 : 0;
      } finally {
        await held?.release();
        await c.request('PUT', `/v1/session/destroy/${session}`).catch(() => undefined);
        say('Lock released');
      }
    },
  );
}
