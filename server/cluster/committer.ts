import { pack, unpack } from '../../core/util/msgpack.js';
import { type ErrorCode, KonsulError, NoLeaderError } from '../../core/errors.js';
import type { ApplyResult } from '../../core/fsm/state-machine.js';
import type { Committer } from '../../core/pipeline/committer.js';
import { NO_TRACER, type TraceSpan, type Tracer } from '../../core/ports/tracing.js';
import type { peerFetch } from '../peer-http.js';
import {
  ForwardCancel,
  ForwardFailedError,
  type ForwardedAnswer,
  type ForwardedRequest,
  type PeerInfo,
  PROPOSE_METHOD,
} from '../transport.js';
import { LEADER_ANSWER_MS, type LeaderWatch } from './leader-watch.js';
import { type ClusterState, sleep } from './state.js';

/** What the cluster's committer needs besides the shared cluster state. */
export interface ClusterCommitterOptions {
  readonly state: ClusterState;
  /** Calls to other servers' APIs (HTTP, or HTTPS when the API is served over TLS). */
  readonly peerFetch: ReturnType<typeof peerFetch>;
  /** How long a proposal on a follower waits for a leader to appear (ms). */
  readonly leaderWaitMs: number;
  /** Presented to the leader with internal proposals. */
  readonly joinToken?: string;
  /**
   * Carries a follower's proposals to the leader on the raft transport's connection
   * (RaftTransport.forward with PROPOSE_METHOD); absent, or when it could not send one, they go
   * to the leader's /v1/internal/propose over HTTP.
   */
  readonly transport?: {
    forward(to: string, r: ForwardedRequest, cancel: ForwardCancel): Promise<ForwardedAnswer>;
  };
  /** Cancels proposals sent to a leader that no longer leads, or unanswered for too long. */
  readonly watch: LeaderWatch;
  /**
   * Opens a "propose to leader" client span for a proposal sent to the leader within a traced
   * write, whose `traceparent` travels with it (NO_TRACER: none).
   */
  readonly tracer?: Tracer;
}

/** The answer of /v1/internal/propose, msgpack-encoded. */
interface PeerProposalAnswer {
  ok: boolean;
  index: number;
  value?: unknown;
  code?: ErrorCode;
  message?: string;
}

/**
 * Commits commands through Raft from any server: the leader proposes to its driver; a follower
 * sends the command to the leader (on the raft transport, else to its /v1/internal/propose), so
 * writes run on any server: KV writes a follower takes (RouteFacts.proposedHere), internal
 * writers such as the agent's anti-entropy. `proposeForPeer` and `proposeForTransportPeer` are
 * the leader's side.
 */
export class ClusterCommitter implements Committer {
  constructor(private readonly o: ClusterCommitterOptions) {}

  /**
   * Proposes a command: on the leader directly; on a follower at the leader (waiting up to
   * leaderWaitMs for one). Rejects with NoLeaderError when no leader takes it, or the driver's errors.
   */
  async propose(data: Uint8Array): Promise<ApplyResult> {
    const { state } = this.o;
    const deadline = Date.now() + this.o.leaderWaitMs;
    for (;;) {
      if (!state.driver) throw new NoLeaderError();
      // Its own disk full, this server could not apply the write to answer it: refuse at once.
      const full = state.driver.diskFullError();
      if (full) throw full;
      if (state.isLeader()) return state.driver.propose(data);
      const leader = state.leaderInfo();
      if (leader && leader.name !== state.self.name) return this.proposeAt(leader, data);
      if (Date.now() >= deadline) throw new NoLeaderError();
      await sleep(50);
    }
  }

  /**
   * Serves /v1/internal/propose: proposes `data` and encodes the outcome (msgpack) for the
   * follower that sent it; never rejects (failures are encoded with their error code).
   */
  async proposeForPeer(data: Uint8Array): Promise<Uint8Array> {
    try {
      const r = await this.propose(data);
      return pack(
        r.ok
          ? { ok: true, index: r.index, value: r.value }
          : { ok: false, index: r.index, code: r.error.code, message: r.error.message },
      );
    } catch (err) {
      const e = err instanceof KonsulError ? err : new KonsulError('storage', (err as Error).message);
      return pack({ ok: false, index: 0, code: e.code, message: e.message });
    }
  }

  /**
   * The leader's side of a proposal a follower sent on the raft transport: like proposeForPeer,
   * but only a leader proposes (a server that is no longer leader answers no_leader, so a
   * proposal never travels on between servers).
   */
  async proposeForTransportPeer(data: Uint8Array): Promise<Uint8Array> {
    if (!this.o.state.isLeader())
      return pack({
        ok: false,
        index: 0,
        code: 'no_leader',
        message: 'No cluster leader: this server no longer leads',
      });
    return this.proposeForPeer(data);
  }

  /** Nothing to wait for: proposals in flight end with the driver (Cluster.stop). */
  async close(): Promise<void> {}

  private async proposeAt(leader: PeerInfo, data: Uint8Array): Promise<ApplyResult> {
    const tracer = this.o.tracer ?? NO_TRACER;
    // Only a proposal made within a traced write gets a span (internal writers start no trace).
    const span =
      tracer.enabled && tracer.current() !== undefined
        ? tracer.startSpan('propose to leader', 'client', { attributes: { 'konsul.leader': leader.name } })
        : undefined;
    try {
      return await this.sendTo(leader, data, span);
    } catch (err) {
      span?.fail((err as Error).message);
      throw err;
    } finally {
      span?.end();
    }
  }

  private async sendTo(leader: PeerInfo, data: Uint8Array, span: TraceSpan | undefined): Promise<ApplyResult> {
    const traceparent = span?.traceparent();
    if (this.o.transport) {
      const answer = await this.overTransport(leader, data, traceparent);
      if (answer) return answer;
    }
    let res: Response;
    try {
      const init = {
        method: 'POST',
        body: data as Uint8Array<ArrayBuffer>,
        headers: {
          'Content-Type': 'application/msgpack',
          ...(this.o.joinToken ? { 'X-Konsul-Join-Token': this.o.joinToken } : {}),
          ...(traceparent ? { traceparent } : {}),
        },
        signal: AbortSignal.timeout(LEADER_ANSWER_MS),
      };
      res = await this.o.peerFetch(leader.httpAddr, '/v1/internal/propose', init);
    } catch (err) {
      throw new NoLeaderError(`No cluster leader: ${(err as Error).message}`);
    }
    if (res.status !== 200) throw new NoLeaderError(`No cluster leader: the leader answered ${res.status}`);
    return outcomeOf(unpack(new Uint8Array(await res.arrayBuffer())) as PeerProposalAnswer);
  }

  /**
   * Sends a proposal to the leader on the raft transport; undefined when it could not be sent
   * there (certainly not applied: HTTP carries it then). Rejects with NoLeaderError when it was
   * sent and no answer came (the outcome is unknown) or the leader refused it. `traceparent`
   * goes with it as a header.
   */
  private async overTransport(
    leader: PeerInfo,
    data: Uint8Array,
    traceparent: string | undefined,
  ): Promise<ApplyResult | undefined> {
    const transport = this.o.transport as NonNullable<ClusterCommitterOptions['transport']>;
    const cancel = new ForwardCancel();
    const unwatch = this.o.watch.add({
      leader: leader.name,
      cancel,
      deadline: Date.now() + LEADER_ANSWER_MS,
      movesLeader: false,
    });
    let a: ForwardedAnswer;
    try {
      const headers: Array<[string, string]> = traceparent ? [['traceparent', traceparent]] : [];
      a = await transport.forward(leader.name, { method: PROPOSE_METHOD, path: '', headers, body: data }, cancel);
    } catch (err) {
      if (err instanceof ForwardFailedError && !err.sent) return undefined;
      throw new NoLeaderError('No cluster leader: the leader did not answer; the outcome of a write is unknown');
    } finally {
      unwatch();
    }
    if (a.status !== 200) throw new NoLeaderError(`No cluster leader: the leader answered ${a.status}`);
    return outcomeOf(unpack(a.body) as PeerProposalAnswer);
  }
}

/** The ApplyResult a leader's encoded answer stands for. */
function outcomeOf(r: PeerProposalAnswer): ApplyResult {
  if (r.ok) return { ok: true, index: r.index, value: r.value };
  return {
    ok: false,
    index: r.index,
    error: new KonsulError(r.code ?? 'storage', r.message ?? 'failed on the leader'),
  };
}
