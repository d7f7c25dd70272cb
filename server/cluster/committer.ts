import { decode, encode } from '@msgpack/msgpack';
import { type ErrorCode, KonsulError, NoLeaderError } from '../../core/errors.js';
import type { ApplyResult } from '../../core/fsm/state-machine.js';
import type { Committer } from '../../core/pipeline/committer.js';
import type { peerFetch } from '../peer-http.js';
import type { PeerInfo } from '../transport.js';
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
 * sends the command to the leader's /v1/internal/propose, so internal writers such as the agent's
 * anti-entropy work on every server. `proposeForPeer` is the leader's side of that route.
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
      return encode(
        r.ok
          ? { ok: true, index: r.index, value: r.value }
          : { ok: false, index: r.index, code: r.error.code, message: r.error.message },
      );
    } catch (err) {
      const e = err instanceof KonsulError ? err : new KonsulError('storage', (err as Error).message);
      return encode({ ok: false, index: 0, code: e.code, message: e.message });
    }
  }

  /** Nothing to wait for: proposals in flight end with the driver (Cluster.stop). */
  async close(): Promise<void> {}

  private async proposeAt(leader: PeerInfo, data: Uint8Array): Promise<ApplyResult> {
    let res: Response;
    try {
      const init = {
        method: 'POST',
        body: data as Uint8Array<ArrayBuffer>,
        headers: {
          'Content-Type': 'application/msgpack',
          ...(this.o.joinToken ? { 'X-Konsul-Join-Token': this.o.joinToken } : {}),
        },
        signal: AbortSignal.timeout(15_000),
      };
      res = await this.o.peerFetch(leader.httpAddr, '/v1/internal/propose', init);
    } catch (err) {
      throw new NoLeaderError(`No cluster leader: ${(err as Error).message}`);
    }
    if (res.status !== 200) throw new NoLeaderError(`No cluster leader: the leader answered ${res.status}`);
    const r = decode(new Uint8Array(await res.arrayBuffer())) as PeerProposalAnswer;
    if (r.ok) return { ok: true, index: r.index, value: r.value };
    return {
      ok: false,
      index: r.index,
      error: new KonsulError(r.code ?? 'storage', r.message ?? 'failed on the leader'),
    };
  }
}
