import { freePorts } from './process.js';
import { spawnServer, type SpawnedServer, tempDir } from './spawn-server.js';

export { freePorts };

/** Addresses of one server of a cluster the tests or benches start. */
export interface ServerPlace {
  readonly name: string;
  readonly http: string;
  readonly raft: string;
}

/**
 * The flags that make `m` one of `all` (names, HTTP and raft addresses), joining the others:
 * with `bootstrapExpect` (a first start) it waits for that many servers before electing.
 */
export function clusterMemberArgs(
  m: ServerPlace,
  all: readonly ServerPlace[],
  bootstrapExpect: number | undefined,
): string[] {
  return [
    '--node-name',
    m.name,
    '--http-addr',
    m.http,
    '--raft-addr',
    m.raft,
    ...(bootstrapExpect === undefined ? [] : ['--bootstrap-expect', String(bootstrapExpect)]),
    ...all.filter((o) => o.name !== m.name).flatMap((o) => ['--join', o.raft]),
  ];
}

/** One member of a test cluster: its fixed addresses survive restarts. */
export interface Member {
  readonly name: string;
  readonly http: string;
  readonly raft: string;
  readonly dataDir: string;
  args: string[];
  /** Environment variables for the member's process (beyond the runner's own). */
  env?: Record<string, string>;
  server: SpawnedServer | undefined;
}

/** A cluster of real server processes on loopback, with fault injection enabled. */
export class TestClusterProcesses {
  constructor(readonly members: Member[]) {}

  /**
   * Starts `n` servers with --bootstrap-expect n, each joining the others, and waits for a leader.
   * By default the servers run a fast Raft tick (30 ms) and enable the fault-injection endpoint;
   * `{ defaults: true }` leaves both at Konsul's defaults (what a deployment runs), and partition()
   * and heal() are then unavailable.
   */
  static async start(
    n: number,
    extraArgs: readonly string[] = [],
    options: { defaults?: boolean } = {},
  ): Promise<TestClusterProcesses> {
    const ports = await freePorts(n * 2);
    const members: Member[] = Array.from({ length: n }, (_, i) => ({
      name: `n${i + 1}`,
      http: `127.0.0.1:${ports[2 * i]}`,
      raft: `127.0.0.1:${ports[2 * i + 1]}`,
      dataDir: tempDir(),
      args: [],
      server: undefined,
    }));
    for (const m of members) {
      m.args = [
        ...clusterMemberArgs(m, members, n),
        ...(options.defaults ? [] : ['--test-faults', '--raft-tick-ms', '30']),
        ...extraArgs,
      ];
    }
    const c = new TestClusterProcesses(members);
    await Promise.all(members.map((m) => c.startMember(m)));
    await c.waitForLeader();
    return c;
  }

  async startMember(m: Member): Promise<SpawnedServer> {
    m.server = await spawnServer({ cluster: true, dataDir: m.dataDir, args: m.args, ...(m.env ? { env: m.env } : {}) });
    return m.server;
  }

  member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  /** The member every live server agrees leads (polls up to `timeoutMs`). */
  async waitForLeader(
    timeoutMs = 20_000,
    among: readonly Member[] = this.members.filter((m) => m.server),
  ): Promise<Member> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answers = await Promise.all(
        among.map(async (m) => {
          try {
            return (await (
              await fetch(`http://${m.http}/v1/status/leader`, { signal: AbortSignal.timeout(1000) })
            ).json()) as string;
          } catch {
            return '';
          }
        }),
      );
      const first = answers[0];
      if (first && answers.every((a) => a === first)) {
        const leader = this.members.find((m) => m.raft === first);
        if (leader?.server && among.includes(leader)) return leader;
      }
      if (Date.now() > deadline) throw new Error(`no agreed leader within ${timeoutMs} ms: ${JSON.stringify(answers)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Simulates a partition: each member drops raft traffic with the members on the other side. */
  async partition(sideA: readonly string[]): Promise<void> {
    await Promise.all(
      this.members
        .filter((m) => m.server)
        .map((m) => {
          const mine = sideA.includes(m.name);
          const block = this.members.filter((o) => sideA.includes(o.name) !== mine).map((o) => o.name);
          return fetch(`http://${m.http}/v1/internal/faults`, { method: 'PUT', body: JSON.stringify({ block }) });
        }),
    );
  }

  async heal(): Promise<void> {
    await this.partition(this.members.map((m) => m.name));
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.members.map((m) => m.server?.stop('SIGKILL')));
  }
}
