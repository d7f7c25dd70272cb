/** A 3-node Konsul cluster with default settings for the benchmarks (temp data dirs, loopback). */
import { freePorts, tempDir } from '../testing/process.js';
import { spawnServer, type SpawnedServer } from '../testing/spawn-server.js';
import { clusterMemberArgs } from '../testing/cluster-harness.js';

/** A running bench cluster: its servers, the leader's and every member's HTTP "host:port". */
export interface BenchCluster {
  readonly servers: SpawnedServer[];
  readonly names: string[];
  readonly leader: string;
  readonly all: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts three servers (k1..k3, --bootstrap-expect 3, default raft settings) and resolves once
 * all three name the same leader. `nodeArgs(name)` adds flags for node itself (e.g. --cpu-prof),
 * `args` flags for every server (e.g. --disable-metrics).
 */
export async function startKonsulCluster(
  options: { nodeArgs?: (name: string) => string[]; args?: readonly string[] } = {},
): Promise<BenchCluster> {
  const ports = await freePorts(6);
  const members = [0, 1, 2].map((i) => ({
    name: `k${i + 1}`,
    http: `127.0.0.1:${ports[2 * i]}`,
    raft: `127.0.0.1:${ports[2 * i + 1]}`,
  }));
  const servers = await Promise.all(
    members.map((m) =>
      spawnServer({
        cluster: true,
        dataDir: tempDir('konsul-bench-'),
        ...(options.nodeArgs ? { nodeArgs: options.nodeArgs(m.name) } : {}),
        args: [...clusterMemberArgs(m, members, 3), ...(options.args ?? [])],
      }),
    ),
  );
  for (;;) {
    const answers = await Promise.all(
      members.map((m) =>
        fetch(`http://${m.http}/v1/status/leader`).then(
          (r) => r.json() as Promise<string>,
          () => '',
        ),
      ),
    );
    const leader = members.find((m) => m.raft === answers[0]);
    if (leader && answers.every((a) => a === answers[0])) {
      return { servers, names: members.map((m) => m.name), leader: leader.http, all: members.map((m) => m.http) };
    }
    await sleep(100);
  }
}
