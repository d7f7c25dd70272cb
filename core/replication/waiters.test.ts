import { describe, expect, it } from 'vitest';
import type { ApplyResult } from '../fsm/state-machine.js';
import { Waiters } from './waiters.js';

function proposal(deadline: number, log: string[], name: string, term = 1) {
  return {
    term,
    deadline,
    resolve: (r: ApplyResult) => log.push(`${name} ok ${r.index}`),
    reject: (e: unknown) => log.push(`${name} failed ${(e as Error).message}`),
  };
}

describe('Waiters', () => {
  it('expires proposals and reads whose deadline passed, oldest first, and only those', () => {
    const w = new Waiters();
    const log: string[] = [];
    w.addProposal(5, proposal(100, log, 'p5'), () => new Error('superseded'));
    w.addProposal(6, proposal(200, log, 'p6'), () => new Error('superseded'));
    w.addRead('r1', { deadline: 150, resolve: () => log.push('r1 ok'), reject: () => log.push('r1 failed') });
    w.expire(
      150,
      () => new Error('timeout'),
      () => new Error('read timeout'),
    );
    expect(log).toEqual(['p5 failed timeout', 'r1 failed']);
    expect(w.size).toBe(1);
    w.takeProposal(6)?.resolve({ ok: true, index: 6, value: true });
    expect(log).toEqual(['p5 failed timeout', 'r1 failed', 'p6 ok 6']);
    w.expire(
      1000,
      () => new Error('timeout'),
      () => new Error('read timeout'),
    );
    expect(log).toHaveLength(3);
  });

  it('fails a proposal whose index a later proposal takes; only the later one expires at its deadline', () => {
    const w = new Waiters();
    const log: string[] = [];
    w.addProposal(7, proposal(100, log, 'old'), () => new Error('superseded'));
    w.addProposal(7, proposal(300, log, 'new', 2), () => new Error('superseded'));
    expect(log).toEqual(['old failed superseded']);
    w.expire(
      200,
      () => new Error('timeout'),
      () => new Error('read timeout'),
    );
    expect(w.proposals.get(7)?.term).toBe(2);
  });

  it('resolves confirmed reads once their index is applied, not before', () => {
    const w = new Waiters();
    const log: string[] = [];
    w.addRead('a', { deadline: 100, resolve: () => log.push('a'), reject: () => undefined });
    w.addRead('b', { deadline: 100, resolve: () => log.push('b'), reject: () => undefined });
    w.resolveReads(10);
    expect(log).toEqual([]);
    (w.reads.get('a') as { index?: number }).index = 8;
    (w.reads.get('b') as { index?: number }).index = 12;
    w.resolveReads(10);
    expect(log).toEqual(['a']);
    w.resolveReads(12);
    expect(log).toEqual(['a', 'b']);
  });

  it('fails the unconfirmed reads asked of another leader, keeping confirmed ones and those of the leader now', () => {
    const w = new Waiters();
    const failed: string[] = [];
    const read = (ctx: string, leader: string | undefined) =>
      w.addRead(ctx, { deadline: 100, leader, resolve: () => undefined, reject: () => failed.push(ctx) });
    read('old', 'n1');
    read('confirmed', 'n1');
    read('new', 'n2');
    (w.reads.get('confirmed') as { index?: number }).index = 5;
    w.failReadsNotFrom('n2', () => new Error('leader changed'));
    expect(failed).toEqual(['old']);
    expect([...w.reads.keys()]).toEqual(['confirmed', 'new']);
    // No leader known: every unconfirmed read fails.
    w.failReadsNotFrom(undefined, () => new Error('no leader'));
    expect(failed).toEqual(['old', 'new']);
    expect([...w.reads.keys()]).toEqual(['confirmed']);
  });

  it('keeps its deadline queues bounded when requests are answered long before their deadline', () => {
    const w = new Waiters();
    for (let i = 1; i <= 5000; i++) {
      w.addProposal(i, proposal(1_000_000, [], 'p'), () => new Error('superseded'));
      w.takeProposal(i);
      w.expire(
        i,
        () => new Error('timeout'),
        () => new Error('read timeout'),
      );
    }
    expect(w.size).toBe(0);
    expect((w as unknown as { proposalOrder: unknown[] }).proposalOrder.length).toBeLessThanOrEqual(1025);
  });
});
