// A PostgreSQL cluster managed by real Patroni processes whose DCS is Konsul (Patroni's `consul:`
// DCS), for the consumers suite. Every member has its own directory, ports and Konsul server; a
// member can be killed -9 (its postmaster and every PostgreSQL process with it, then its Patroni)
// and started again on the same data directory.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chownTree, type RunAs } from './os-user.js';
import { type GroupProcess, isAlive, killGroupOf, spawnGroup, waitForExit } from './process-group.js';

/** The Patroni program (the Debian package's, run by /usr/bin/python3). */
export const PATRONI = '/usr/bin/patroni';

/**
 * The bin directory of the newest PostgreSQL under /usr/lib/postgresql (Debian's layout), or
 * undefined when none has initdb.
 */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** Patroni's DCS timing (seconds). Patroni's rule: loop_wait + 2 × retry_timeout <= ttl. */
export interface PatroniTiming {
  readonly ttl: number;
  readonly loopWait: number;
  readonly retryTimeout: number;
}

/** What GET /patroni answers (the fields the tests read). */
export interface PatroniStatus {
  readonly state: string;
  /** "master" (Patroni 3.0 spells the primary so here) or "replica". */
  readonly role: string;
  readonly timeline?: number;
  readonly replication?: { application_name: string; state: string }[];
}

/** One member of GET /cluster. */
export interface PatroniClusterMember {
  readonly name: string;
  /** "leader", "replica", "sync_standby" or "standby_leader". */
  readonly role: string;
  readonly state: string;
  readonly timeline?: number;
}

/** Ports and addresses of one member. */
export interface PatroniMemberSpec {
  readonly name: string;
  readonly restPort: number;
  readonly pgPort: number;
  /** "host:port" of the Konsul server this member's Patroni talks to. */
  readonly konsul: string;
}

/** Passwords of the PostgreSQL roles Patroni creates (random per cluster; never logged). */
interface Credentials {
  readonly superuser: string;
  readonly replication: string;
  readonly rewind: string;
}

/** One Patroni + PostgreSQL member; start() and kill9() may be repeated. */
export class PatroniMember {
  private proc: GroupProcess | undefined;
  private earlierOutput = '';
  private starts = 0;

  constructor(
    readonly spec: PatroniMemberSpec,
    /** This member's directory (config, data dir, socket). */
    readonly dir: string,
    private readonly scope: string,
    private readonly binDir: string,
    private readonly timing: PatroniTiming,
    private readonly credentials: Credentials,
    private readonly runAs: RunAs | undefined,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** "http://127.0.0.1:PORT" of the Patroni REST API. */
  get restUrl(): string {
    return `http://127.0.0.1:${this.spec.restPort}`;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** Whether its Patroni process is running. */
  get running(): boolean {
    return this.proc !== undefined && !this.proc.exited();
  }

  /** Writes the Patroni configuration (JSON, which YAML reads) into the member's directory. */
  writeConfig(): string {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const { name, restPort, pgPort, konsul } = this.spec;
    const config = {
      scope: this.scope,
      name,
      log: { level: 'INFO' },
      restapi: { listen: `127.0.0.1:${restPort}`, connect_address: `127.0.0.1:${restPort}` },
      consul: { host: konsul },
      bootstrap: {
        dcs: {
          ttl: this.timing.ttl,
          loop_wait: this.timing.loopWait,
          retry_timeout: this.timing.retryTimeout,
          maximum_lag_on_failover: 1048576,
          postgresql: {
            use_pg_rewind: true,
            parameters: {
              wal_level: 'replica',
              hot_standby: 'on',
              max_wal_senders: 10,
              max_replication_slots: 10,
              wal_log_hints: 'on',
            },
          },
        },
        initdb: [{ encoding: 'UTF8' }, 'data-checksums', 'no-sync'],
        pg_hba: [
          'local all all trust',
          'host all all 127.0.0.1/32 md5',
          'host replication replicator 127.0.0.1/32 md5',
        ],
      },
      postgresql: {
        listen: `127.0.0.1:${pgPort}`,
        connect_address: `127.0.0.1:${pgPort}`,
        data_dir: this.dataDir,
        bin_dir: this.binDir,
        pgpass: join(this.dir, 'pgpass'),
        authentication: {
          superuser: { username: 'postgres', password: this.credentials.superuser },
          replication: { username: 'replicator', password: this.credentials.replication },
          rewind: { username: 'rewinder', password: this.credentials.rewind },
        },
        parameters: {
          unix_socket_directories: this.dir,
          // Killing -9 a process loses nothing from the page cache, so tests need no fsync.
          fsync: 'off',
          shared_buffers: '16MB',
          max_connections: 30,
        },
      },
    };
    const file = join(this.dir, 'patroni.yml');
    writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
    chownTree(this.dir, this.runAs);
    return file;
  }

  /** Starts Patroni (as the database user when the test runs as root). */
  start(): void {
    if (this.running) throw new Error(`${this.name}: Patroni is already running`);
    if (this.proc) this.earlierOutput += this.proc.output();
    const file = join(this.dir, 'patroni.yml');
    if (this.starts++ === 0 || !existsSync(file)) this.writeConfig();
    const env: Record<string, string> = {
      PATH: `${this.binDir}:/usr/bin:/bin`,
      HOME: this.dir,
      LANG: 'C.UTF-8',
      // Loopback only, whatever proxy the environment names.
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
    };
    this.earlierOutput += `\n===== ${this.name}: Patroni start #${this.starts} =====\n`;
    this.proc = spawnGroup(PATRONI, [file], { env, cwd: this.dir, runAs: this.runAs });
  }

  /** Everything this member's Patroni and PostgreSQL wrote, over every start. */
  output(): string {
    return this.earlierOutput + (this.proc?.output() ?? '');
  }

  /**
   * The last `lines` lines of output() without Python traceback frames (the exception line that
   * ends a traceback stays), so a failure message shows events rather than one stack.
   */
  tail(lines = 40): string {
    const kept = this.output()
      .split('\n')
      .filter((l) => l.trim() !== '' && !/^\s/.test(l) && !l.startsWith('Traceback ('));
    return kept.slice(-lines).join('\n');
  }

  /** The postmaster's pid from postmaster.pid, when that process is alive. */
  postmasterPid(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * kill -9 of the postmaster with every PostgreSQL process (its process group: Patroni starts it
   * in a session of its own) and of Patroni with its group; resolves once all of them are gone.
   */
  async kill9(): Promise<void> {
    const postmaster = this.postmasterPid();
    if (postmaster !== undefined) killGroupOf(postmaster);
    await this.proc?.kill();
    if (postmaster !== undefined) await waitForExit([postmaster]);
  }

  /** GET /patroni, or undefined when the REST API does not answer. */
  async status(): Promise<PatroniStatus | undefined> {
    try {
      const res = await fetch(`${this.restUrl}/patroni`, { signal: AbortSignal.timeout(2000) });
      return (await res.json()) as PatroniStatus;
    } catch {
      return undefined;
    }
  }

  /** Whether GET /primary answers 200 (Patroni holds the leader lock and runs the primary). */
  async isPrimary(): Promise<boolean> {
    try {
      const res = await fetch(`${this.restUrl}/primary`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** GET /cluster (read from the DCS by this member), or undefined when it does not answer. */
  async cluster(): Promise<PatroniClusterMember[] | undefined> {
    try {
      const res = await fetch(`${this.restUrl}/cluster`, { signal: AbortSignal.timeout(3000) });
      if (res.status !== 200) return undefined;
      return ((await res.json()) as { members: PatroniClusterMember[] }).members;
    } catch {
      return undefined;
    }
  }

  /**
   * Runs one SQL statement on this member's PostgreSQL as the superuser with psql over TCP and
   * returns its unaligned, tuples-only output. Rejects with psql's error output.
   */
  sql(statement: string): Promise<string> {
    const psql = join(this.binDir, 'psql');
    const args = ['-h', '127.0.0.1', '-p', String(this.spec.pgPort), '-U', 'postgres', '-d', 'postgres'];
    return new Promise((resolve, reject) => {
      execFile(
        psql,
        [...args, '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', statement],
        {
          env: { ...process.env, PGPASSWORD: this.credentials.superuser, PGCONNECT_TIMEOUT: '3' },
          timeout: 10_000,
        },
        (err, stdout, stderr) =>
          err ? reject(new Error(`${this.name}: psql: ${stderr || err.message}`)) : resolve(stdout.trim()),
      );
    });
  }
}

/** A Patroni cluster: members created together with one scope and shared credentials. */
export class PatroniCluster {
  constructor(
    readonly scope: string,
    readonly members: PatroniMember[],
  ) {}

  /** Creates (does not start) one member per spec, each in `baseDir/<name>`. */
  static create(options: {
    scope: string;
    baseDir: string;
    binDir: string;
    timing: PatroniTiming;
    specs: readonly PatroniMemberSpec[];
    runAs: RunAs | undefined;
  }): PatroniCluster {
    const credentials: Credentials = {
      superuser: randomBytes(12).toString('hex'),
      replication: randomBytes(12).toString('hex'),
      rewind: randomBytes(12).toString('hex'),
    };
    const members = options.specs.map(
      (spec) =>
        new PatroniMember(
          spec,
          join(options.baseDir, spec.name),
          options.scope,
          options.binDir,
          options.timing,
          credentials,
          options.runAs,
        ),
    );
    return new PatroniCluster(options.scope, members);
  }

  member(name: string): PatroniMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no Patroni member ${name}`);
    return m;
  }

  /** The names of the running members whose GET /primary answers 200. */
  async primaries(among: readonly PatroniMember[] = this.members.filter((m) => m.running)): Promise<string[]> {
    const answers = await Promise.all(among.map(async (m) => ((await m.isPrimary()) ? m.name : undefined)));
    return answers.filter((n): n is string => n !== undefined);
  }

  /** The last lines of every member's output, for failure messages. */
  tails(lines = 30): string {
    return this.members.map((m) => `----- ${m.name} (last ${lines} lines) -----\n${m.tail(lines)}`).join('\n');
  }

  /** kill -9 of every member (idempotent); call from afterAll. */
  async killAll(): Promise<void> {
    await Promise.all(this.members.map((m) => m.kill9()));
  }
}
