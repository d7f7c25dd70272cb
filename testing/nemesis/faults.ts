import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '../../core/ports/rng.js';
import type { NemesisCluster, NemesisMember } from './cluster.js';
import type { NemesisNetwork } from './net.js';

/** The kinds of fault the nemesis injects. */
export const FAULT_KINDS = ['kill', 'pause', 'partition', 'membership', 'loss', 'delay', 'clock', 'disk'] as const;
/** One kind of fault. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A fault as the report shows it: what, where, how, and when (ms since the run began). */
export interface FaultRecord {
  readonly kind: FaultKind;
  readonly detail: string;
  /** How it was made: signals, netns links, the transport's fault layer, libfaketime, a full tmpfs. */
  readonly mechanism: string;
  readonly start: number;
  end: number;
}

/** What the faults need besides the cluster. */
export interface NemesisContext {
  readonly cluster: NemesisCluster;
  readonly network: NemesisNetwork;
  readonly rng: Rng;
  readonly now: () => number;
  readonly log: (line: string) => void;
  /** The member started under libfaketime, and its timestamp file (clock faults). */
  readonly clockMember?: { readonly member: NemesisMember; readonly file: string };
  /** The member whose data dir is a small tmpfs at `mount` (disk faults). */
  readonly diskMember?: { readonly member: NemesisMember; readonly mount: string };
}

const pick = <T>(rng: Rng, list: readonly T[]): T | undefined => list[Math.floor(rng.next() * list.length)];

/** Chaos experiments a fault-layer partition started, per member name (ended by heal). */
const partitionExperiments = new Map<string, string>();

/**
 * Cuts (netns) or blocks (fault layer) traffic between the groups of a partition. On the fault
 * layer each member is asked through the chaos API (a partition from the members it may not talk
 * to, rolled back by the server itself after `durationMs` and a margin, should the runner die);
 * a member that refuses it (a peer outside its Raft configuration during a membership change)
 * gets the block list of the test-only fault route instead. Returns the mechanism used.
 */
async function partition(ctx: NemesisContext, groups: number[][], durationMs: number): Promise<string> {
  const { cluster, network } = ctx;
  const n = cluster.members.length;
  // Two members can talk when they share a group (a bridge member is in two).
  const talk = (a: number, b: number) => groups.some((g) => g.includes(a) && g.includes(b));
  if (network.mechanism === 'netns') {
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) if (!talk(a, b)) network.cut(a, b);
    return 'netns veth links cut';
  }
  const seconds = Math.ceil(durationMs / 1000) + 5;
  const fallbacks = await Promise.all(
    cluster.members.map(async (m) => {
      const block = cluster.members.filter((o) => o !== m && !talk(m.index, o.index)).map((o) => o.name);
      if (block.length === 0) return false;
      const res = await fetch(`http://${m.http}/v1/operator/chaos`, {
        method: 'PUT',
        body: JSON.stringify({ Kind: 'partition', Peers: block, DurationSeconds: seconds }),
        signal: AbortSignal.timeout(5000),
      }).catch(() => undefined);
      if (res?.status === 200) {
        partitionExperiments.set(m.name, ((await res.json()) as { ID: string }).ID);
        return false;
      }
      await res?.body?.cancel();
      await fetch(`http://${m.http}/v1/internal/faults`, {
        method: 'PUT',
        body: JSON.stringify({ block }),
        signal: AbortSignal.timeout(5000),
      }).catch(() => undefined);
      return true;
    }),
  );
  return fallbacks.some(Boolean)
    ? 'transport fault layer (chaos API; the fault route where a server refused it)'
    : 'transport fault layer (chaos API)';
}

/** Restores every link (netns), or ends the partition experiments and clears every block list (fault layer). */
async function heal(ctx: NemesisContext): Promise<void> {
  const { cluster, network } = ctx;
  const n = cluster.members.length;
  if (network.mechanism === 'netns') {
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) network.restore(a, b);
    return;
  }
  await Promise.all(
    cluster.members.map(async (m) => {
      const id = partitionExperiments.get(m.name);
      partitionExperiments.delete(m.name);
      if (id)
        await fetch(`http://${m.http}/v1/operator/chaos/${id}`, {
          method: 'DELETE',
          signal: AbortSignal.timeout(5000),
        }).catch(() => undefined);
      await fetch(`http://${m.http}/v1/internal/faults`, {
        method: 'PUT',
        body: '{"block":[]}',
        signal: AbortSignal.timeout(5000),
      }).catch(() => undefined);
    }),
  );
}

/** Shuffled member indexes. */
function shuffled(rng: Rng, n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j] as number, a[i] as number];
  }
  return a;
}

/**
 * Starts one fault of `kind` and returns how to end it (undefined when it could not start, e.g.
 * no leader to isolate). The end restores what the start changed.
 */
export async function startFault(
  ctx: NemesisContext,
  kind: FaultKind,
  durationMs: number,
): Promise<{ detail: string; mechanism: string; end: () => Promise<void> } | undefined> {
  const { cluster, rng } = ctx;
  const leader = await cluster.waitForLeader(2000);
  const live = cluster.live();
  // Leaders half the time, else anyone live.
  const victim = (): NemesisMember | undefined => (leader && rng.next() < 0.5 ? leader : pick(rng, live));
  switch (kind) {
    case 'kill': {
      const m = victim();
      if (!m) return undefined;
      await cluster.signal(m, 'SIGKILL');
      return {
        detail: `kill -9 ${m.name}${m === leader ? ' (leader)' : ''}`,
        mechanism: 'SIGKILL, restart',
        end: () => cluster.startMember(m).catch((err: Error) => ctx.log(`restart ${m.name} failed: ${err.message}`)),
      };
    }
    case 'pause': {
      const m = victim();
      if (!m) return undefined;
      await cluster.signal(m, 'SIGSTOP');
      return {
        detail: `pause ${m.name}${m === leader ? ' (leader)' : ''}`,
        mechanism: 'SIGSTOP, SIGCONT',
        end: () => cluster.signal(m, 'SIGCONT'),
      };
    }
    case 'partition': {
      const n = cluster.members.length;
      const order = shuffled(rng, n);
      const variant = pick(rng, ['halves', 'isolated-leader', 'bridge'] as const) as string;
      let groups: number[][];
      let detail: string;
      const names = (g: number[]) => g.map((i) => cluster.members[i]?.name).join(',');
      if (variant === 'isolated-leader' && leader) {
        const rest = order.filter((i) => i !== leader.index);
        groups = [[leader.index], rest];
        detail = `isolate leader ${leader.name} | ${names(rest)}`;
      } else if (variant === 'bridge' && n >= 3) {
        const bridge = order[0] as number;
        const half = Math.floor((n - 1) / 2);
        const a = order.slice(1, 1 + half);
        const b = order.slice(1 + half);
        groups = [
          [...a, bridge],
          [...b, bridge],
        ];
        detail = `bridge ${names(a)} <-> ${cluster.members[bridge]?.name} <-> ${names(b)}`;
      } else {
        const cut = Math.floor(n / 2);
        groups = [order.slice(0, cut), order.slice(cut)];
        detail = `minority ${names(groups[0] as number[])} | majority ${names(groups[1] as number[])}`;
      }
      const mechanism = await partition(ctx, groups, durationMs);
      return { detail, mechanism, end: () => heal(ctx) };
    }
    case 'membership': {
      // A follower leaves (removed, its data lost) and comes back empty.
      const m = pick(
        rng,
        live.filter((x) => x !== leader),
      );
      if (!m || live.length <= Math.floor(cluster.members.length / 2) + 1) return undefined;
      if (!(await cluster.remove(m))) return undefined;
      return {
        detail: `remove ${m.name}, then add it back with an empty data dir`,
        mechanism: 'DELETE /v1/operator/raft/peer, join',
        end: () => cluster.readd(m).catch((err: Error) => ctx.log(`re-add ${m.name} failed: ${err.message}`)),
      };
    }
    case 'loss':
    case 'delay': {
      const m = victim();
      if (!m) return undefined;
      const body =
        kind === 'loss'
          ? { Kind: 'loss', LossPercent: 20 + Math.floor(rng.next() * 40) }
          : { Kind: 'latency', DelayMs: 50 + Math.floor(rng.next() * 200), JitterMs: 20 };
      const seconds = Math.max(1, Math.round(durationMs / 1000));
      const res = await fetch(`http://${m.http}/v1/operator/chaos`, {
        method: 'PUT',
        body: JSON.stringify({ ...body, DurationSeconds: seconds }),
        signal: AbortSignal.timeout(5000),
      }).catch(() => undefined);
      if (res?.status !== 200) {
        ctx.log(`chaos ${kind} on ${m.name} refused: ${res ? `${res.status} ${await res.text()}` : 'no answer'}`);
        return undefined;
      }
      const { ID } = (await res.json()) as { ID: string };
      return {
        detail:
          kind === 'loss'
            ? `${body.LossPercent}% loss on ${m.name}'s raft links`
            : `${body.DelayMs}±20 ms delay on ${m.name}'s raft links`,
        mechanism: 'transport fault layer (chaos API)',
        end: async () => {
          // It ends by itself at DurationSeconds; end it now in case the fault ran short.
          await fetch(`http://${m.http}/v1/operator/chaos/${ID}`, { method: 'DELETE' }).catch(() => undefined);
        },
      };
    }
    case 'clock': {
      const c = ctx.clockMember;
      if (!c || c.member.state !== 'up') return undefined;
      // libfaketime's relative offsets, in seconds.
      const jump = pick(rng, ['+45', '-45', '+300', '-10', '+3600'] as const) as string;
      writeFileSync(c.file, `${jump}\n`);
      return {
        detail: `${c.member.name}'s clock jumps ${jump} s`,
        mechanism: 'libfaketime (FAKETIME_TIMESTAMP_FILE)',
        end: async () => writeFileSync(c.file, '+0\n'),
      };
    }
    case 'disk': {
      const d = ctx.diskMember;
      if (!d || d.member.state !== 'up') return undefined;
      const filler = join(d.mount, 'filler');
      // Fill the tmpfs to the last byte.
      const fd = openSync(filler, 'w');
      const chunk = Buffer.alloc(1 << 20);
      try {
        for (;;) writeSync(fd, chunk);
      } catch {
        // ENOSPC: full.
      } finally {
        closeSync(fd);
      }
      return {
        detail: `${d.member.name}'s data dir is full`,
        mechanism: 'tmpfs filled, then freed',
        end: async () => {
          rmSync(filler, { force: true });
          // A server that stopped because it could not write is restarted, as a supervisor would.
          if (d.member.state === 'up' && !d.member.proc)
            await ctx.cluster
              .startMember(d.member)
              .catch((err: Error) => ctx.log(`restart ${d.member.name} failed: ${err.message}`));
        },
      };
    }
  }
}
