import { execFileSync } from 'node:child_process';

/** How a fault on the network was made; the report names it for every fault. */
export type NetMechanism = 'netns' | 'fault-layer';

/** Where one server listens and how its process is started. */
export interface ServerPlace {
  /** The host its Raft and HTTP listeners bind (and peers and clients dial). */
  readonly host: string;
  /** The command prefix that runs a program in its network (e.g. `ip netns exec <ns>`); [] for none. */
  readonly wrap: readonly string[];
}

/**
 * The network the nemesis runs servers on. With network namespaces (root only), each server gets
 * its own namespace with an address on its loopback, every pair of servers is joined by a veth
 * pair (so a link can be cut and restored), and the runner reaches each namespace over one more
 * veth pair from its own. Without root, servers share 127.0.0.1 with distinct ports and the
 * partitions go through the transport's fault layer instead (the caller does that).
 */
export interface NemesisNetwork {
  readonly mechanism: NetMechanism;
  /** The place of server `i` (0-based). */
  place(i: number): ServerPlace;
  /** Cuts the link between servers `a` and `b` (netns only). */
  cut(a: number, b: number): void;
  /** Restores the link between `a` and `b` (netns only). */
  restore(a: number, b: number): void;
  /** Removes everything it created; safe to call twice. */
  teardown(): void;
}

const live = new Set<NemesisNetwork>();

/** Tears down every network still up (for an interrupted run). */
export function teardownAllNetworks(): void {
  for (const n of live) n.teardown();
}

/** Runs `ip` with `args`; throws with its stderr on failure. */
function ip(args: readonly string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Whether this process may create network namespaces (root with iproute2). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Servers on 127.0.0.1 in the runner's own network: partitions must use the fault layer. */
export function loopbackNetwork(): NemesisNetwork {
  return {
    mechanism: 'fault-layer',
    place: () => ({ host: '127.0.0.1', wrap: [] }),
    cut: () => {
      throw new Error('the loopback network cannot cut links: use the fault layer');
    },
    restore: () => undefined,
    teardown: () => undefined,
  };
}

/**
 * Creates `n` namespaces `kn<tag>-<i>`, server i at 10.77.<tag>.<i+1> on its loopback, a veth pair
 * for every pair of servers (routes to each peer's address over it) and a veth pair from the
 * runner's namespace to each (10.78.<tag*16+i>.1 ↔ .2). `tag` (0-15) keeps concurrent runs apart.
 * Nothing is routed beyond these namespaces.
 */
export function netnsNetwork(n: number, tag: number): NemesisNetwork {
  if (n < 1 || n > 9) throw new Error('netns networks hold 1 to 9 servers');
  if (tag < 0 || tag > 15) throw new Error('the netns tag is 0 to 15');
  const ns = (i: number) => `kn${tag}-${i}`;
  const addr = (i: number) => `10.77.${tag}.${i + 1}`;
  // Interface names: at most 15 characters.
  const link = (a: number, b: number) => `kn${tag}l${a}${b}`;
  const up = (i: number) => `kn${tag}u${i}`;
  const created: string[] = [];
  const network: NemesisNetwork = {
    mechanism: 'netns',
    place: (i) => ({ host: addr(i), wrap: ['ip', 'netns', 'exec', ns(i)] }),
    cut: (a, b) => setLink(a, b, 'down'),
    restore: (a, b) => setLink(a, b, 'up'),
    teardown: () => teardown(),
  };
  const teardown = (): void => {
    live.delete(network);
    for (const name of created.splice(0)) {
      try {
        ip(['netns', 'del', name]);
      } catch {
        // Already gone.
      }
    }
  };
  // Leftovers of a run that was killed before it cleaned up.
  for (let i = 0; i < n; i++)
    try {
      ip(['netns', 'del', ns(i)]);
    } catch {
      // None.
    }
  try {
    for (let i = 0; i < n; i++) {
      ip(['netns', 'add', ns(i)]);
      created.push(ns(i));
      ip(['-n', ns(i), 'link', 'set', 'lo', 'up']);
      ip(['-n', ns(i), 'addr', 'add', `${addr(i)}/32`, 'dev', 'lo']);
      // The runner's way in: a /30 between its namespace and server i's.
      const sub = `10.78.${tag * 16 + i}`;
      ip(['link', 'add', up(i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(i)]);
      ip(['addr', 'add', `${sub}.1/30`, 'dev', up(i)]);
      ip(['link', 'set', up(i), 'up']);
      ip(['-n', ns(i), 'addr', 'add', `${sub}.2/30`, 'dev', 'eth0']);
      ip(['-n', ns(i), 'link', 'set', 'eth0', 'up']);
      ip(['route', 'replace', `${addr(i)}/32`, 'via', `${sub}.2`]);
    }
    for (let a = 0; a < n; a++)
      for (let b = a + 1; b < n; b++) {
        ip(['-n', ns(a), 'link', 'add', link(a, b), 'type', 'veth', 'peer', 'name', link(b, a), 'netns', ns(b)]);
      }
  } catch (err) {
    teardown();
    throw err;
  }
  const setLink = (a: number, b: number, state: 'up' | 'down'): void => {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      ip(['-n', ns(x), 'link', 'set', link(x, y), state]);
      // Routes over a link go with it when it goes down; put them back when it comes up.
      if (state === 'up') ip(['-n', ns(x), 'route', 'replace', `${addr(y)}/32`, 'dev', link(x, y), 'src', addr(x)]);
    }
  };
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) setLink(a, b, 'up');
  live.add(network);
  return network;
}
