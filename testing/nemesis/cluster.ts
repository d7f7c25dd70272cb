import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePorts, track } from '../process.js';
import { clusterMemberArgs } from '../cluster-harness.js';
import type { NemesisNetwork } from './net.js';

const CLI = resolve(import.meta.dirname, '../../dist/cli.js');

/** Bytes of a server's recent output kept in memory (to find its ready line); the rest is in its log. */
const TAIL_BYTES = 64 * 1024;

/** What a member is doing, as the nemesis left it. */
export type MemberState = 'up' | 'down' | 'paused' | 'removed';

/** One server of the nemesis cluster: its fixed addresses survive restarts. */
export interface NemesisMember {
  readonly index: number;
  readonly name: string;
  readonly http: string;
  readonly raft: string;
  dataDir: string;
  state: MemberState;
  proc: ChildProcess | undefined;
  /** Extra environment for its next start (libfaketime for clock faults). */
  env: Record<string, string>;
  /** Set while the nemesis is stopping it (an exit then is no crash). */
  stopping: boolean;
}

/** Options of a nemesis cluster. */
export interface NemesisClusterOptions {
  readonly nodes: number;
  readonly network: NemesisNetwork;
  /** Where data dirs and server logs go. */
  readonly dir: string;
  /** Extra server flags for every member. */
  readonly serverArgs?: readonly string[];
  /** A data dir to use for one member instead of `<dir>/data/<name>` (the disk fault's tmpfs). */
  readonly dataDirOf?: (name: string) => string | undefined;
  /** Told when a member's process exits without the nemesis having signalled it, with its last output. */
  readonly onCrash?: (m: NemesisMember, code: number | string, lastOutput: string) => void;
}

/**
 * Real `konsul server` processes for the nemesis: started in their network places, each logging
 * to `<dir>/logs/<name>.log` (appended across restarts), killed, paused, resumed, removed from the
 * Raft configuration and added back.
 */
export class NemesisCluster {
  readonly members: NemesisMember[];
  private readonly logs = new Map<string, WriteStream>();

  private constructor(
    private readonly o: NemesisClusterOptions,
    members: NemesisMember[],
  ) {
    this.members = members;
  }

  /** Starts every member (each joining the others, --bootstrap-expect n) and waits for a leader. */
  static async start(o: NemesisClusterOptions): Promise<NemesisCluster> {
    const loopback = o.network.mechanism !== 'netns';
    const ports = loopback ? await freePorts(o.nodes * 2) : [];
    const members: NemesisMember[] = Array.from({ length: o.nodes }, (_, i) => {
      const host = o.network.place(i).host;
      const name = `n${i + 1}`;
      return {
        index: i,
        name,
        http: loopback ? `${host}:${ports[2 * i]}` : `${host}:8500`,
        raft: loopback ? `${host}:${ports[2 * i + 1]}` : `${host}:8300`,
        dataDir: o.dataDirOf?.(name) ?? join(o.dir, 'data', name),
        state: 'down',
        proc: undefined,
        env: {},
        stopping: false,
      };
    });
    mkdirSync(join(o.dir, 'logs'), { recursive: true });
    const c = new NemesisCluster(o, members);
    await Promise.all(members.map((m) => c.startMember(m, true)));
    await c.waitForLeader(30_000);
    return c;
  }

  private args(m: NemesisMember, bootstrap: boolean): string[] {
    const place = this.o.network.place(m.index);
    return [
      ...place.wrap,
      process.execPath,
      CLI,
      'server',
      ...clusterMemberArgs(m, this.members, bootstrap ? this.o.nodes : undefined),
      '--dns-addr',
      `${place.host}:0`,
      '--data-dir',
      m.dataDir,
      '--log-format',
      'json',
      ...(this.o.serverArgs ?? []),
    ];
  }

  private log(m: NemesisMember): WriteStream {
    let s = this.logs.get(m.name);
    if (!s) this.logs.set(m.name, (s = createWriteStream(join(this.o.dir, 'logs', `${m.name}.log`), { flags: 'a' })));
    return s;
  }

  /**
   * Starts `m` (its data dir kept) and resolves once it logs "server ready"; rejects if it exits
   * first or takes longer than 30 s. `bootstrap`: with --bootstrap-expect (the first start).
   */
  async startMember(m: NemesisMember, bootstrap = false): Promise<void> {
    mkdirSync(m.dataDir, { recursive: true });
    const [cmd, ...args] = this.args(m, bootstrap);
    const proc = spawn(cmd as string, args, { env: { ...process.env, ...m.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    track(proc);
    m.proc = proc;
    const log = this.log(m);
    log.write(`--- start ${new Date().toISOString()} ${args.join(' ')}\n`);
    let tail = '';
    // The last lines it wrote, kept after the ready line too (to say why it crashed).
    let last = '';
    m.stopping = false;
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`${m.name} not ready within 30 s (log: ${m.name}.log)`)), 30_000);
      const onData = (d: Buffer): void => {
        log.write(d);
        last = (last + d.toString()).slice(-2000);
        if (tail === '\u0000') return;
        tail = (tail + d.toString()).slice(-TAIL_BYTES);
        if (tail.includes('"@message":"server ready"')) {
          tail = '\u0000';
          clearTimeout(timer);
          ok();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code, sig) => {
        log.write(`--- exit ${new Date().toISOString()} ${code ?? sig}\n`);
        if (m.proc === proc) m.proc = undefined;
        if (tail === '\u0000' && !m.stopping) this.o.onCrash?.(m, code ?? sig ?? -1, last);
        clearTimeout(timer);
        if (tail !== '\u0000') fail(new Error(`${m.name} exited (${code ?? sig}) before it was ready`));
      });
    });
    m.state = 'up';
  }

  /** Sends `signal` to `m`'s process; for SIGKILL/SIGTERM resolves once it has exited. */
  async signal(m: NemesisMember, signal: NodeJS.Signals): Promise<void> {
    const proc = m.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    if (signal === 'SIGKILL' || signal === 'SIGTERM') m.stopping = true;
    proc.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      // A stopped process must be continued to act on SIGTERM.
      if (signal === 'SIGTERM') proc.kill('SIGCONT');
      await exited;
      m.state = 'down';
    } else if (signal === 'SIGSTOP') m.state = 'paused';
    else if (signal === 'SIGCONT') m.state = 'up';
  }

  /** The members whose process runs and is not paused. */
  live(): NemesisMember[] {
    return this.members.filter((m) => m.state === 'up' && m.proc !== undefined);
  }

  /** The member every live member agrees leads (polls up to `timeoutMs`); undefined if none agree. */
  async waitForLeader(timeoutMs = 20_000): Promise<NemesisMember | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const among = this.live();
      const answers = await Promise.all(
        among.map(async (m) => {
          try {
            const res = await fetch(`http://${m.http}/v1/status/leader`, { signal: AbortSignal.timeout(1000) });
            return (await res.json()) as string;
          } catch {
            return '';
          }
        }),
      );
      const first = answers[0];
      if (first && answers.every((a) => a === first)) {
        const leader = this.members.find((m) => m.raft === first);
        if (leader && leader.state === 'up') return leader;
      }
      if (Date.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Removes `m` from the Raft configuration (asked of a live member), kills it and wipes its data:
   * it is gone as a server would be after a disk loss.
   */
  async remove(m: NemesisMember): Promise<boolean> {
    const via = this.live().find((o) => o !== m);
    if (!via) return false;
    const res = await fetch(`http://${via.http}/v1/operator/raft/peer?id=${m.name}`, {
      method: 'DELETE',
      signal: AbortSignal.timeout(15_000),
    }).catch(() => undefined);
    if (res?.status !== 200) return false;
    await this.signal(m, 'SIGKILL');
    rmSync(m.dataDir, { recursive: true, force: true });
    m.state = 'removed';
    return true;
  }

  /** Starts a removed member afresh (empty data dir) joining the others. */
  async readd(m: NemesisMember): Promise<void> {
    await this.startMember(m, false);
  }

  /** Kills every process and closes the logs. */
  async stopAll(): Promise<void> {
    await Promise.all(this.members.map((m) => this.signal(m, 'SIGKILL')));
    await Promise.all([...this.logs.values()].map((s) => new Promise<void>((r) => s.end(r))));
    this.logs.clear();
  }
}
