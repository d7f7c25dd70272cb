import type { Entry, NodeId } from '../../core/raft/types.js';
import type { SimNode } from './sim-node.js';

/** Which safety property a violation breaks (Figure 3 of the paper, plus monotonicity). */
export type InvariantName =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'monotonic'
  | 'liveness'
  | 'linearizability'
  | 'driver-error';

/** Thrown by the checker when a property fails; the simulator reports it with the seed. */
export class InvariantViolation extends Error {
  constructor(
    readonly invariant: InvariantName,
    message: string,
  ) {
    super(`${invariant}: ${message}`);
  }
}

function fingerprint(e: Entry): string {
  let h = 2166136261;
  for (let i = 0; i < e.data.byteLength; i++) h = Math.imul(h ^ (e.data[i] as number), 16777619);
  return `${e.type}:${e.data.byteLength}:${h >>> 0}`;
}

/**
 * Checks Raft's safety properties incrementally from what nodes persist, apply and become:
 * Election Safety (one leader per term), Log Matching (same index and term: same entry, same
 * predecessor term), Leader Completeness (a new leader holds every committed entry), State
 * Machine Safety (every node applies the same entry at an index), and that terms, commit and
 * apply indexes never go backwards.
 */
export class InvariantChecker {
  private readonly leaders = new Map<number, NodeId>();
  private readonly entries = new Map<string, { fp: string; prevTerm: number | undefined }>();
  /** index → term and fingerprint of the entry applied there (committed entries). */
  private readonly committed = new Map<number, { term: number; fp: string }>();
  private readonly lastSeen = new Map<
    NodeId,
    { term: number; durableTerm: number; commit: number; applied: number; incarnation: number }
  >();
  /** applied index → the registers every node must hold once it applied exactly up to there. */
  private readonly states = new Map<number, string>();
  elections = 0;

  /**
   * A node's state once it applied up to `index` (entries applied or a snapshot installed):
   * State Machine Safety for whole states, so a snapshot that does not hold what its index says
   * is caught where it is installed.
   */
  onState(node: SimNode, index: number, state: string): void {
    const known = this.states.get(index);
    if (known === undefined) this.states.set(index, state);
    else if (known !== state) {
      throw new InvariantViolation(
        'state-machine-safety',
        `${node.id} holds ${state} at applied index ${index} where another node held ${known}`,
      );
    }
  }

  /**
   * `node` became leader of `term`. Reported once the Ready that made it so completes, by when the
   * node may have stepped down into a later term: the term it led is the one given.
   */
  onLeader(node: SimNode, term: number): void {
    const other = this.leaders.get(term);
    if (other !== undefined && other !== node.id) {
      throw new InvariantViolation('election-safety', `${other} and ${node.id} both led term ${term}`);
    }
    if (other === undefined) this.elections++;
    this.leaders.set(term, node.id);
    // Its log is the leader's only while it is still in that term (a later leader may replace it).
    if (node.driver?.status().term !== term) return;
    const log = node.driver.raw.raft.log;
    for (const [index, c] of this.committed) {
      if (index <= log.snapshot.meta.index) continue;
      const t = log.term(index);
      if (t !== c.term) {
        throw new InvariantViolation(
          'leader-completeness',
          `leader ${node.id} of term ${term} lacks committed entry ${index} (term ${c.term}, has ${t ?? 'none'})`,
        );
      }
    }
  }

  /** A node persisted entries. */
  onPersist(node: SimNode, persisted: readonly Entry[]): void {
    const log = node.driver?.raw.raft.log;
    for (const e of persisted) {
      const key = `${e.index}/${e.term}`;
      const fp = fingerprint(e);
      const prevTerm = log?.term(e.index - 1);
      const known = this.entries.get(key);
      if (!known) {
        this.entries.set(key, { fp, prevTerm });
        continue;
      }
      if (known.fp !== fp)
        throw new InvariantViolation('log-matching', `two different entries at index ${e.index} term ${e.term}`);
      if (known.prevTerm !== undefined && prevTerm !== undefined && known.prevTerm !== prevTerm) {
        throw new InvariantViolation(
          'log-matching',
          `entry ${e.index}/${e.term} follows term ${known.prevTerm} on one node and ${prevTerm} on ${node.id}`,
        );
      }
    }
  }

  /**
   * A node applied an entry. The first time an index is applied anywhere, also checks the
   * inductive invariant behind Leader Completeness (§5.4.3): no voter lacking the newly committed
   * entry may have a log at least as up to date as a quorum of voters, since it could then win
   * an election without it.
   */
  onApply(node: SimNode, e: Entry, cluster: ReadonlyMap<NodeId, SimNode>): void {
    const fp = fingerprint(e);
    const known = this.committed.get(e.index);
    if (known) {
      if (known.term !== e.term || known.fp !== fp) {
        throw new InvariantViolation(
          'state-machine-safety',
          `${node.id} applied ${e.index}/${e.term} where another node applied ${e.index}/${known.term}`,
        );
      }
      return;
    }
    this.committed.set(e.index, { term: e.term, fp });
    const voters = node.driver?.status().conf.voters ?? [];
    const views = voters
      .map((id) => cluster.get(id))
      .filter((n): n is SimNode => n !== undefined)
      .map((n) => ({ id: n.id, ...n.durableLog() }));
    for (const x of views) {
      if (x.termAt(e.index) === e.term || e.index <= x.snapshotIndex) continue;
      const wouldVote = views.filter(
        (y) => x.lastTerm > y.lastTerm || (x.lastTerm === y.lastTerm && x.lastIndex >= y.lastIndex),
      ).length;
      if (wouldVote >= Math.floor(voters.length / 2) + 1) {
        throw new InvariantViolation(
          'leader-completeness',
          `${x.id} lacks committed entry ${e.index}/${e.term} ` +
            'yet its log is at least as up to date as a quorum of voters',
        );
      }
    }
  }

  /** After every event that touched `node`: nothing goes backwards within an incarnation; terms never do. */
  onStep(node: SimNode): void {
    const s = node.driver?.status();
    const incarnation = node.incarnation;
    const applied = node.driver?.applied() ?? 0;
    if (!s) return;
    const prev = this.lastSeen.get(node.id);
    // A term only the memory of a crashed node held (its write was in flight) may be forgotten;
    // a persisted one never.
    const durableTerm = node.durableTerm();
    if (prev) {
      if (durableTerm < prev.durableTerm)
        throw new InvariantViolation(
          'monotonic',
          `${node.id} persisted term went from ${prev.durableTerm} to ${durableTerm}`,
        );
      if (prev.incarnation === incarnation) {
        if (s.term < prev.term)
          throw new InvariantViolation('monotonic', `${node.id} term went from ${prev.term} to ${s.term}`);
        if (s.commit < prev.commit)
          throw new InvariantViolation('monotonic', `${node.id} commit went from ${prev.commit} to ${s.commit}`);
        if (applied < prev.applied)
          throw new InvariantViolation('monotonic', `${node.id} applied went from ${prev.applied} to ${applied}`);
      }
    }
    this.lastSeen.set(node.id, { term: s.term, durableTerm, commit: s.commit, applied, incarnation });
  }
}
