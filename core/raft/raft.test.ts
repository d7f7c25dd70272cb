import { describe, expect, it } from 'vitest';
import { TestCluster } from '../../testing/raft-cluster.js';
import { encodeOp } from '../../testing/raft-node.js';
import { seededRng } from '../../testing/seeded-rng.js';
import { NotLeaderError, ProposalRefusedError } from './errors.js';
import { Raft } from './raft.js';
import { RawNode, bootstrapState } from './raw-node.js';
import type { Entry, Message, Ready } from './types.js';

const put = (key: string, value: string) => encodeOp({ id: `${key}=${value}`, op: 'put', key, value });
const ABC = ['a', 'b', 'c'];

function leaderOf(c: TestCluster, id = 'a'): TestCluster {
  c.campaign(id);
  expect(c.leader()).toBe(id);
  return c;
}

/** Ticks `node`, the only voter, until it leads, handing each Ready to `onReady` before advancing. */
function campaignAlone(node: RawNode, onReady: (rd: Ready) => void): void {
  for (let i = 0; i < 60 && node.status().role !== 'leader'; i++) {
    node.tick();
    while (node.hasReady()) {
      const rd = node.ready();
      onReady(rd);
      node.advance(rd);
    }
  }
  expect(node.status().role).toBe('leader');
}

function msgs(c: TestCluster, type: Message['type'], from?: string, to?: string): Message[] {
  return c.sent.filter(
    (m) => m.type === type && (from === undefined || m.from === from) && (to === undefined || m.to === to),
  );
}

describe('Figure 2 and §5.1: terms', () => {
  it('a node that sees a higher term adopts it and becomes a follower (§5.1)', () => {
    const c = leaderOf(new TestCluster(ABC));
    const term = c.raw('a').status().term;
    c.raw('a').step({ type: 'appResp', from: 'b', to: 'a', term: term + 5, index: 0 });
    expect(c.raw('a').status()).toMatchObject({ term: term + 5, role: 'follower' });
  });

  it('a request with a stale term is rejected and answered with the current term (§5.1)', () => {
    const c = leaderOf(new TestCluster(ABC));
    const term = c.raw('b').status().term;
    const before = c.raw('b').status().lastIndex;
    c.raw('b').step({
      type: 'app',
      from: 'c',
      to: 'b',
      term: term - 1,
      index: before,
      logTerm: term,
      entries: [],
      commit: 0,
    });
    c.stabilize();
    expect(c.raw('b').status().lastIndex).toBe(before);
    const answer = msgs(c, 'appResp', 'b', 'c').at(-1);
    expect(answer?.term).toBe(term);
  });
});

describe('§5.2: leader election', () => {
  it('elects exactly one leader, which appends a no-op of its term (§8)', () => {
    const c = leaderOf(new TestCluster(ABC));
    const leaders = ABC.filter((id) => c.raw(id).status().role === 'leader');
    expect(leaders).toEqual(['a']);
    const s = c.raw('a').status();
    expect(c.raw('a').raft.log.term(s.lastIndex)).toBe(s.term);
  });

  it('a voter grants at most one vote per term (Figure 2, RequestVote rule 2)', () => {
    const b = new RawNode({ id: 'b', rng: seededRng(1), preVote: false }, bootstrapState(ABC));
    b.step({ type: 'vote', from: 'a', to: 'b', term: 2, index: 3, logTerm: 1 });
    b.step({ type: 'vote', from: 'c', to: 'b', term: 2, index: 3, logTerm: 1 });
    const rd = b.ready();
    const answers = rd.messages.filter((m) => m.type === 'voteResp').map((m) => [m.to, m.reject]);
    expect(answers).toEqual([
      ['a', false],
      ['c', true],
    ]);
  });

  it('the vote is in the hard state of the same Ready that carries the grant (persist before send)', () => {
    const b = new RawNode({ id: 'b', rng: seededRng(1), preVote: false }, bootstrapState(ABC));
    b.step({ type: 'vote', from: 'a', to: 'b', term: 2, index: 3, logTerm: 1 });
    const rd = b.ready();
    expect(rd.hardState).toMatchObject({ term: 2, vote: 'a' });
    expect(rd.messages.some((m) => m.type === 'voteResp' && !m.reject)).toBe(true);
  });

  it('election timeouts are randomized in [electionTicks, 2*electionTicks) from the injected Rng', () => {
    const timeouts = new Set<number>();
    for (let seed = 1; seed <= 30; seed++) {
      const n = new RawNode(
        { id: 'a', rng: seededRng(seed), electionTicks: 10, preVote: false },
        bootstrapState(['a', 'b', 'c']),
      );
      n.advance(n.ready()); // apply the bootstrap membership entries
      let ticks = 0;
      while (n.status().role === 'follower' && ticks < 100) {
        n.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      timeouts.add(ticks);
    }
    expect(timeouts.size).toBeGreaterThan(3);
  });

  it('dueling candidates split the vote, and a later election settles it (§5.2)', () => {
    const c = new TestCluster(['a', 'b', 'c', 'd'], { raft: { preVote: false } });
    // a and b campaign at once; c and d each vote for the first request they see.
    c.cut('a', 'd');
    c.cut('b', 'c');
    for (const id of ['a', 'b']) {
      for (let i = 0; i < 25 && c.raw(id).status().role === 'follower'; i++) c.raw(id).tick();
    }
    c.stabilize();
    expect(c.leader()).toBeUndefined();
    const splitTerm = c.raw('a').status().term;
    c.heal();
    c.tick(60);
    const leader = c.leader();
    expect(leader).toBeDefined();
    expect(c.raw(leader as string).status().term).toBeGreaterThan(splitTerm);
  });

  it('a candidate with a stale log cannot win (§5.4.1 election restriction)', () => {
    const c = leaderOf(new TestCluster(ABC, { raft: { preVote: false } }));
    c.isolate('c');
    c.raw('a').propose(put('k', 'v'));
    c.stabilize();
    c.heal();
    // c, missing the entry, campaigns: a and b refuse.
    c.isolate('a');
    c.campaign('c');
    expect(c.raw('c').status().role).not.toBe('leader');
    expect(msgs(c, 'voteResp', 'b', 'c').every((m) => m.reject)).toBe(true);
  });
});

describe('§5.3: log replication', () => {
  it('commits an entry once a majority has it and every node applies it', () => {
    const c = leaderOf(new TestCluster(ABC));
    c.raw('a').propose(put('k', 'v'));
    c.stabilize();
    c.tick(2);
    for (const id of ABC) expect(c.node(id).kv.get('k')).toBe('v');
  });

  it('does not commit without a majority', () => {
    const c = leaderOf(new TestCluster(ABC));
    c.isolate('a');
    const { index } = c.raw('a').propose(put('k', 'v'));
    c.stabilize();
    expect(c.raw('a').status().commit).toBeLessThan(index);
  });

  it("replaces a follower's conflicting suffix with the leader's (Figure 2, AppendEntries 3-4)", () => {
    const c = leaderOf(new TestCluster(ABC, { raft: { preVote: false } }));
    c.isolate('a');
    for (let i = 0; i < 30; i++) c.raw('a').propose(put('lost', String(i)));
    c.stabilize();
    // b becomes leader of a newer term and commits different entries.
    c.heal();
    c.isolate('a');
    c.tick(40, ['b', 'c']);
    const other = c.raw('b').status().role === 'leader' ? 'b' : 'c';
    expect(c.raw(other).status().role).toBe('leader');
    for (let i = 0; i < 30; i++) c.raw(other).propose(put('kept', String(i)));
    c.stabilize();
    c.heal();
    c.tick(30);
    const a = c.raw('a').raft.log;
    const b = c.raw(other).raft.log;
    expect(a.lastIndex()).toBe(b.lastIndex());
    for (let i = 1; i <= b.lastIndex(); i++) expect(a.term(i)).toBe(b.term(i));
    expect(c.node('a').kv.get('lost')).toBeUndefined();
    expect(c.node('a').kv.get('kept')).toBe('29');
  });

  it('a follower learns the commit index as min(leaderCommit, last new entry) (AppendEntries 5)', () => {
    const f = new RawNode({ id: 'b', rng: seededRng(1) }, bootstrapState(ABC));
    const entries: Entry[] = [{ term: 2, index: 4, type: 'normal', data: new Uint8Array() }];
    f.step({ type: 'app', from: 'a', to: 'b', term: 2, index: 3, logTerm: 1, entries, commit: 10 });
    expect(f.status().commit).toBe(4);
  });

  it('rejects an append whose previous entry does not match, with a hint that skips the term', () => {
    const f = new RawNode({ id: 'b', rng: seededRng(1) }, bootstrapState(ABC));
    f.step({ type: 'app', from: 'a', to: 'b', term: 3, index: 9, logTerm: 3, entries: [], commit: 0 });
    const resp = f.ready().messages.find((m) => m.type === 'appResp');
    expect(resp).toMatchObject({ reject: true, index: 9, rejectHint: 3, logTerm: 1 });
  });

  it('catches up a far-behind follower in a few round trips (fast back-off)', () => {
    const c = leaderOf(new TestCluster(ABC, { raft: { preVote: false } }));
    c.isolate('c');
    for (let i = 0; i < 50; i++) c.raw('a').propose(put('k', String(i)));
    c.stabilize();
    const rejectionsBefore = msgs(c, 'appResp', 'c').filter((m) => m.reject).length;
    c.heal();
    c.tick(3);
    expect(c.node('c').kv.get('k')).toBe('49');
    const rejections = msgs(c, 'appResp', 'c').filter((m) => m.reject).length - rejectionsBefore;
    expect(rejections).toBeLessThanOrEqual(2);
  });

  it('keeps at most maxInflightMsgs appends in flight per follower, and honours maxMsgBytes', () => {
    const c = leaderOf(new TestCluster(ABC, { raft: { maxInflightMsgs: 2, maxMsgBytes: 1 } }));
    c.cut('a', 'b', true);
    c.cut('a', 'c', true);
    const sentBefore = c.sent.length;
    // Followers' answers are dropped, so nothing is acknowledged: the window must close.
    for (let i = 0; i < 10; i++) c.raw('a').propose(put('k', String(i)));
    c.stabilize();
    const appends = c.sent
      .slice(sentBefore)
      .filter((m) => m.type === 'app' && m.to === 'b' && (m.entries?.length ?? 0) > 0);
    expect(appends.length).toBe(2);
    for (const m of appends) expect(m.entries?.length).toBe(1);
  });

  it("does not commit an earlier term's entry by counting replicas (§5.4.2, Figure 8)", () => {
    // A leader of term 3 whose log holds an uncommitted entry from term 2.
    const raft = new Raft(
      { ...new RawNode({ id: 'a', rng: seededRng(1) }).raft.cfg, id: 'a', preVote: false },
      {
        hardState: { term: 2, vote: undefined, commit: 3 },
        entries: [...bootstrapState(ABC).entries, { term: 2, index: 4, type: 'normal', data: put('old', '1') }],
        conf: { voters: ABC, learners: [] },
        applied: 3,
      },
    );
    for (let i = 0; i < 30 && raft.role !== 'candidate'; i++) raft.tick();
    raft.step({ type: 'voteResp', from: 'b', to: 'a', term: 3, reject: false });
    expect(raft.role).toBe('leader');
    raft.persistedTo(5, 3); // the leader's own no-op is on disk
    // b acknowledges index 4 (the term-2 entry) but not the term-3 no-op at 5.
    raft.step({ type: 'appResp', from: 'b', to: 'a', term: 3, index: 4 });
    expect(raft.log.committed).toBe(3);
    raft.step({ type: 'appResp', from: 'b', to: 'a', term: 3, index: 5 });
    expect(raft.log.committed).toBe(5);
  });

  const title =
    'a leader sends early only once its term and vote are on disk, even if the Ready that set them was advanced';
  it(title, () => {
    const boot = bootstrapState(['a']);
    const node = new RawNode(
      { id: 'a', rng: seededRng(3) },
      { hardState: boot.hardState, entries: boot.entries, conf: { voters: ['a'], learners: ['l'] } },
    );
    // Campaign and win, handing every Ready to "storage" without any write completing.
    const handedOut: Ready[] = [];
    campaignAlone(node, (rd) => handedOut.push(rd));
    expect(node.status().term).toBe(2);
    expect(handedOut.some((rd) => rd.sendBeforePersist)).toBe(false);
    for (let i = 0; i < 3; i++) node.tick();
    const next = node.ready();
    expect(next.messages.length).toBeGreaterThan(0);
    expect(next.sendBeforePersist).toBe(false);
    for (const rd of [...handedOut, next]) node.persisted(rd);
    node.advance(next);
    for (let i = 0; i < 3; i++) node.tick();
    expect(node.ready().sendBeforePersist).toBe(true);
  });

  /** a, of voters a, b, c, elected by b's vote in term 2, with b holding a's no-op at 4. */
  const leaderWithNoopAtB = (soleVoterCommitsUnpersisted = false): Raft => {
    const raft = new Raft(
      { ...new RawNode({ id: 'a', rng: seededRng(1) }).raft.cfg, id: 'a', preVote: false, soleVoterCommitsUnpersisted },
      {
        hardState: { term: 1, vote: undefined, commit: 3 },
        entries: bootstrapState(ABC).entries,
        conf: { voters: ABC, learners: [] },
        applied: 3,
      },
    );
    for (let i = 0; i < 30 && raft.role !== 'candidate'; i++) raft.tick();
    raft.step({ type: 'voteResp', from: 'b', to: 'a', term: 2, reject: false });
    expect(raft.role).toBe('leader');
    raft.step({ type: 'appResp', from: 'b', to: 'a', term: 2, index: 4 });
    return raft;
  };

  it('a leader counts its own entries toward commitment only once they are durable (thesis §10.2.1)', () => {
    // The no-op at 4 went out to b before a's own write of it finished: b alone is no quorum.
    const raft = leaderWithNoopAtB();
    expect(raft.log.committed).toBe(3);
    // A report for an entry that is not in the log (wrong term) changes nothing.
    raft.persistedTo(4, 1);
    expect(raft.log.committed).toBe(3);
    raft.persistedTo(4, 2);
    expect(raft.log.committed).toBe(4);
  });

  it('as the only voter, with soleVoterCommitsUnpersisted, a leader hands out to apply what it asks to persist', () => {
    const leadAlone = (soleVoterCommitsUnpersisted: boolean) => {
      const boot = bootstrapState(['a']);
      const node = new RawNode({ id: 'a', rng: seededRng(3), soleVoterCommitsUnpersisted }, boot);
      campaignAlone(node, (rd) => node.persisted(rd));
      node.propose(put('k', 'v'));
      return node.ready();
    };
    const eager = leadAlone(true);
    const last = eager.entries[eager.entries.length - 1];
    expect(last?.data).toEqual(put('k', 'v'));
    expect(eager.committedEntries.map((e) => e.index)).toContain(last?.index);
    expect(eager.hardState?.commit).toBe(last?.index);
    // Without it, the entry waits for its write to be reported durable.
    const careful = leadAlone(false);
    expect(careful.committedEntries.map((e) => e.index)).not.toContain(careful.entries.at(-1)?.index);

    // With other voters the option changes nothing: b alone is no quorum.
    expect(leaderWithNoopAtB(true).log.committed).toBe(3);
  });
});

describe('§6 (CheckQuorum, PreVote) and scenarios', () => {
  const titlePartitioned =
    'partitioned leader: steps down after an election timeout; ' +
    'the majority elects another (§6.2 of the dissertation)';
  it(titlePartitioned, () => {
    const c = leaderOf(new TestCluster(ABC));
    c.isolate('a');
    c.tick(25);
    expect(c.raw('a').status().role).not.toBe('leader');
    const leader = c.leader();
    expect(leader === 'b' || leader === 'c').toBe(true);
    c.heal();
    c.tick(5);
    expect(c.raw('a').status()).toMatchObject({ role: 'follower', lead: leader });
  });

  const titleFlapping =
    'flapping follower: an isolated follower rejoins without disrupting the leader (PreVote, dissertation §9.6)';
  it(titleFlapping, () => {
    const c = leaderOf(new TestCluster(ABC));
    const term = c.raw('a').status().term;
    for (let round = 0; round < 3; round++) {
      c.isolate('c');
      c.tick(40);
      c.heal();
      c.tick(5);
    }
    expect(c.leader()).toBe('a');
    expect(c.raw('a').status().term).toBe(term);
    expect(c.raw('c').status()).toMatchObject({ term, lead: 'a' });
  });

  it('leader with a stale log: a restarted old leader cannot take over (§5.4.1)', () => {
    const c = leaderOf(new TestCluster(ABC, { raft: { preVote: false, checkQuorum: false } }));
    c.node('a').crash();
    c.campaign('b');
    expect(c.leader()).toBe('b');
    for (let i = 0; i < 5; i++) c.raw('b').propose(put('k', String(i)));
    c.stabilize();
    c.node('a').start();
    c.campaign('a');
    expect(c.raw('a').status().role).not.toBe('leader');
    c.tick(30);
    expect(c.node('a').kv.get('k')).toBe('4');
  });

  it('a follower that hears from a live leader ignores vote requests (no disruptive rejoins)', () => {
    const c = leaderOf(new TestCluster(ABC));
    const term = c.raw('b').status().term;
    c.raw('b').step({ type: 'vote', from: 'c', to: 'b', term: term + 1, index: 100, logTerm: term });
    expect(c.raw('b').status().term).toBe(term);
    c.stabilize();
    expect(msgs(c, 'voteResp', 'b', 'c')).toEqual([]);
  });
});

describe('reads (§6.4 of the dissertation)', () => {
  it('ReadIndex is confirmed by a heartbeat round of a quorum', () => {
    const c = leaderOf(new TestCluster(ABC));
    c.raw('a').readIndex('r1');
    const rd = c.raw('a').ready();
    expect(rd.readStates).toEqual([]);
    expect(rd.messages.filter((m) => m.type === 'heartbeat' && m.context === 'r1')).toHaveLength(2);
    c.raw('a').advance(rd);
    for (const m of rd.messages) c.raw(m.to).step(m);
    for (const id of ['b', 'c']) {
      const r = c.raw(id).ready();
      for (const m of r.messages) c.raw('a').step(m);
      c.raw(id).advance(r);
    }
    expect(c.raw('a').ready().readStates).toEqual([{ index: c.raw('a').status().commit, context: 'r1' }]);
  });

  it('an isolated leader never confirms a read', () => {
    const c = leaderOf(new TestCluster(ABC));
    c.isolate('a');
    c.raw('a').readIndex('r');
    let confirmed = false;
    for (let i = 0; i < 10; i++) {
      const fx = c.node('a').processReady();
      if (fx?.readStates.length) confirmed = true;
      c.tick(1);
    }
    expect(confirmed).toBe(false);
  });

  it('a follower gets its read point from the leader, confirmed by a heartbeat round', () => {
    const c = leaderOf(new TestCluster(ABC));
    c.raw('a').propose(put('k', '1'));
    c.stabilize();
    const commit = c.raw('a').status().commit;
    c.raw('b').readIndex('b.1');
    c.stabilize();
    expect(c.sent.filter((m) => m.type === 'readIndex').map((m) => [m.from, m.to, m.context])).toEqual([
      ['b', 'a', 'b.1'],
    ]);
    // The leader confirmed it with a heartbeat round carrying the context before answering.
    expect(c.sent.some((m) => m.type === 'heartbeat' && m.context === 'b.1')).toBe(true);
    expect(c.reads).toEqual([{ node: 'b', index: commit, context: 'b.1' }]);
  });

  it("a follower's read is never answered by a leader cut off from the quorum", () => {
    const c = leaderOf(new TestCluster(['a', 'b', 'c', 'd', 'e']));
    // a and b still talk to each other, but are two of five.
    for (const other of ['c', 'd', 'e']) c.cut('a', other);
    c.raw('b').readIndex('b.1');
    for (let i = 0; i < 5; i++) c.tick(1, ['a']);
    expect(c.sent.some((m) => m.type === 'readIndex' && m.to === 'a')).toBe(true);
    expect(c.reads).toEqual([]);
  });

  it('a follower that knows no leader, and a candidate, refuse reads; followers refuse proposals', () => {
    const c = leaderOf(new TestCluster(ABC));
    expect(() => c.raw('b').propose(put('k', 'v'))).toThrow(NotLeaderError);
    try {
      c.raw('b').propose(put('k', 'v'));
    } catch (err) {
      expect((err as NotLeaderError).leader).toBe('a');
    }
    c.isolate('c');
    for (let i = 0; i < 40 && c.raw('c').status().role === 'follower'; i++) c.tick(1, ['c']);
    expect(c.raw('c').status().role).not.toBe('follower');
    expect(() => c.raw('c').readIndex('c.1')).toThrow(NotLeaderError);
  });

  it('lease mode answers at once while the lease holds, not after losing contact', () => {
    const c = leaderOf(new TestCluster(ABC, { raft: { readMode: 'lease' } }));
    c.tick(2);
    c.raw('a').readIndex('fast');
    expect(
      c
        .raw('a')
        .ready()
        .readStates.map((r) => r.context),
    ).toEqual(['fast']);
    c.stabilize();
    c.isolate('a');
    c.tick(11, ['a']);
    c.raw('a').readIndex('late');
    expect(
      c
        .raw('a')
        .ready()
        .readStates.map((r) => r.context),
    ).not.toContain('late');
  });
});

describe('leader transfer (dissertation §3.10)', () => {
  it('hands leadership to a caught-up voter with TimeoutNow', () => {
    const c = leaderOf(new TestCluster(ABC));
    c.raw('a').transferLeader('c');
    c.stabilize();
    expect(msgs(c, 'timeoutNow', 'a', 'c')).toHaveLength(1);
    expect(c.leader()).toBe('c');
  });

  it('refuses proposals while a transfer is in progress, and says it is transferring until it is over', () => {
    const c = leaderOf(new TestCluster(ABC));
    c.isolate('c');
    expect(c.raw('a').raft.transferring()).toBe(false);
    c.raw('a').transferLeader('c');
    // A leader handing over answers default reads only after a heartbeat round (server/cluster/forwarder.ts).
    expect(c.raw('a').raft.transferring()).toBe(true);
    expect(() => c.raw('a').propose(put('k', 'v'))).toThrow(/transfer/);
    c.tick(12, ['a']);
    expect(c.raw('a').raft.transferring()).toBe(false);
    expect(() => c.raw('a').propose(put('k', 'v'))).not.toThrow();
  });
});

describe('membership (dissertation §4.1) and learners', () => {
  it('adds a learner that receives the log without voting, then promotes it', () => {
    const c = leaderOf(new TestCluster(ABC, { spares: ['d'] }));
    c.raw('a').proposeConfChange({ type: 'addLearner', node: 'd' });
    c.stabilize();
    c.raw('a').propose(put('k', 'v'));
    c.tick(3);
    expect(c.node('d').kv.get('k')).toBe('v');
    expect(c.raw('a').status().conf.learners).toEqual(['d']);
    // A learner's acknowledgement never counts: with b and c cut off, nothing commits.
    c.isolate('b');
    c.isolate('c');
    const { index } = c.raw('a').propose(put('k', 'w'));
    c.tick(3, ['a', 'd']);
    expect(c.raw('a').status().commit).toBeLessThan(index);
    c.heal();
    c.tick(3);
    c.raw('a').proposeConfChange({ type: 'addVoter', node: 'd' });
    c.tick(3);
    expect(c.raw('a').status().conf.voters).toEqual(['a', 'b', 'c', 'd']);
  });

  it('allows one change at a time', () => {
    const c = leaderOf(new TestCluster(ABC, { spares: ['d', 'e'] }));
    c.isolate('b');
    c.isolate('c');
    c.raw('a').proposeConfChange({ type: 'addLearner', node: 'd' });
    expect(() => c.raw('a').proposeConfChange({ type: 'addLearner', node: 'e' })).toThrow(ProposalRefusedError);
  });

  it('removes a voter, and a removed leader steps down', () => {
    const c = leaderOf(new TestCluster(ABC));
    c.raw('a').proposeConfChange({ type: 'removeNode', node: 'a' });
    c.tick(30, ['b', 'c']);
    const leader = c.leader();
    expect(leader === 'b' || leader === 'c').toBe(true);
    expect(c.raw(leader as string).status().conf.voters).toEqual(['b', 'c']);
  });

  it('refuses invalid changes', () => {
    const c = leaderOf(new TestCluster(ABC));
    expect(() => c.raw('a').proposeConfChange({ type: 'addVoter', node: 'b' })).toThrow(/already a voter/);
    expect(() => c.raw('a').proposeConfChange({ type: 'removeNode', node: 'zz' })).toThrow(/not a member/);
  });
});

describe('§7: log compaction and InstallSnapshot', () => {
  it('sends a snapshot in bounded chunks to a follower that fell behind the compacted log', () => {
    const c = leaderOf(new TestCluster(ABC, { compactEvery: 10, raft: { maxSnapshotChunkBytes: 16 } }));
    c.isolate('c');
    for (let i = 0; i < 30; i++) c.raw('a').propose(put(`k${i}`, String(i)));
    c.stabilize();
    expect(c.raw('a').status().snapshotIndex).toBeGreaterThan(c.raw('c').status().lastIndex);
    c.heal();
    c.tick(40);
    const chunks = msgs(c, 'snap', 'a', 'c');
    expect(chunks.length).toBeGreaterThan(1);
    for (const m of chunks) expect(m.snapshot?.data.byteLength).toBeLessThanOrEqual(16);
    expect(c.node('c').kv.get('k29')).toBe('29');
    expect(c.raw('c').status().snapshotIndex).toBeGreaterThan(0);
  });

  it('a restarted node recovers from its snapshot and log tail', () => {
    const c = leaderOf(new TestCluster(ABC, { compactEvery: 5 }));
    for (let i = 0; i < 12; i++) c.raw('a').propose(put('k', String(i)));
    c.stabilize();
    c.tick(2);
    c.node('b').crash();
    c.node('b').start();
    c.tick(3);
    expect(c.node('b').kv.get('k')).toBe('11');
    expect(c.raw('b').status().applied).toBe(c.raw('a').status().commit);
  });
});
