import { KonsulError, NoLeaderError, OverloadedError, ShuttingDownError } from '../core/errors.js';
import type { Applier } from '../core/fsm/applier.js';
import { writeAppliedIndex, writeConfState } from '../core/fsm/meta.js';
import type { ApplyResult, CommittedEntry } from '../core/fsm/state-machine.js';
import type { Logger } from '../core/ports/logger.js';
import type { Rng } from '../core/ports/rng.js';
import type { StateStore } from '../core/ports/state-store.js';
import { applyToConf } from '../core/raft/conf-change.js';
import type { RaftConfig } from '../core/raft/config.js';
import { confChangeOf } from '../core/raft/raft.js';
import { RawNode, type RaftStatus } from '../core/raft/raw-node.js';
import type { ConfChange, ConfState, Message, NodeId, Ready } from '../core/raft/types.js';
import { dumpTables, parseDump, replaceTables } from '../core/snapshot/state-snapshot.js';
import type { RaftStorage } from './raft-storage.js';

/** Options of the driver; bounds are positive integers. */
export interface RaftDriverOptions {
  readonly id: NodeId;
  readonly rng: Rng;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'rng'>>;
  readonly tickMs: number;
  readonly storage: RaftStorage;
  readonly store: StateStore;
  /** State tables (what snapshots hold), i.e. the state machine's tables. */
  readonly stateTables: readonly string[];
  readonly applier: Applier;
  readonly logger: Logger;
  /** Sends messages (after they were made durable). */
  readonly send: (messages: readonly Message[]) => void;
  /** Compact the log when this many applied entries follow the last snapshot. */
  readonly snapshotThreshold: number;
  /** Proposals and reads waiting for a result; more are refused. */
  readonly maxPending: number;
  /** How long a proposal or read may wait before it fails (outcome unknown for writes). */
  readonly requestTimeoutMs: number;
  /** Inputs (messages) queued while a Ready is being handled; more are dropped. */
  readonly maxQueuedMessages: number;
}

interface Pending {
  readonly term: number;
  readonly resolve: (r: ApplyResult) => void;
  readonly reject: (e: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

type Input =
  | { kind: 'propose'; data: Uint8Array; resolve: (r: ApplyResult) => void; reject: (e: unknown) => void }
  | { kind: 'read'; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'conf'; cc: ConfChange; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'transfer'; to: NodeId; resolve: () => void; reject: (e: unknown) => void };

/**
 * Runs a RawNode against real storage and a transport, honouring the Ready contract (see Ready):
 * persist (synced when required; a leader may send first), send, install/apply, then advance.
 * Inputs that arrive while a Ready is in flight are queued, so RawNode is never stepped between
 * ready() and advance(); each Ready's write is reported (RawNode.persisted) as soon as it is
 * durable, which is when a leader's own entries start to count toward commitment.
 */
export class RaftDriver {
  readonly raw: RawNode;
  private conf: ConfState;
  private readonly queue: Message[] = [];
  private readonly inputs: Input[] = [];
  private ticks = 0;
  private running = false;
  private dirty = false;
  private closed = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private readonly proposals = new Map<number, Pending>();
  private readonly reads = new Map<
    string,
    { resolve: () => void; reject: (e: unknown) => void; index?: number; timer: NodeJS.Timeout }
  >();
  private readSeq = 0;
  private lastLeaderContact = 0;
  private readonly roleListeners: Array<(role: RaftStatus['role'], lead: NodeId | undefined) => void> = [];
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly o: RaftDriverOptions) {
    const init = o.storage.load();
    this.conf = init.conf ?? { voters: [], learners: [] };
    this.raw = new RawNode({ ...o.raft, id: o.id, rng: o.rng }, init);
  }

  /** Starts ticking. */
  start(): void {
    this.tickTimer = setInterval(() => {
      this.ticks++;
      this.pump();
    }, this.o.tickMs);
    this.pump();
  }

  /** Membership as of the applied index. */
  membership(): ConfState {
    return this.conf;
  }

  status(): RaftStatus {
    return this.raw.status();
  }

  /** Milliseconds since the last message from the leader (0 on the leader). */
  lastContactMs(): number {
    const s = this.raw.status();
    if (s.role === 'leader') return 0;
    return this.lastLeaderContact === 0 ? Infinity : Date.now() - this.lastLeaderContact;
  }

  /** Calls `fn` whenever role or leader changes. */
  onRoleChange(fn: (role: RaftStatus['role'], lead: NodeId | undefined) => void): void {
    this.roleListeners.push(fn);
  }

  /** A message from a peer. */
  receive(m: Message): void {
    if (this.closed) return;
    if (this.queue.length >= this.o.maxQueuedMessages) return; // Raft retransmits what is dropped.
    this.queue.push(m);
    this.pump();
  }

  /** Proposes an encoded command; resolves once it is applied here (see Committer). */
  propose(data: Uint8Array): Promise<ApplyResult> {
    return this.enqueue((resolve, reject) => ({ kind: 'propose', data, resolve, reject }));
  }

  /** Resolves once this node has applied everything committed when the call was made (ReadIndex). */
  readBarrier(): Promise<void> {
    return this.enqueue((resolve, reject) => ({ kind: 'read', resolve, reject }));
  }

  /** Proposes a membership change; resolves when accepted by Raft (not when applied). */
  changeMembership(cc: ConfChange): Promise<void> {
    return this.enqueue((resolve, reject) => ({ kind: 'conf', cc, resolve, reject }));
  }

  /** Starts a leadership transfer. */
  transferLeader(to: NodeId): Promise<void> {
    return this.enqueue((resolve, reject) => ({ kind: 'transfer', to, resolve, reject }));
  }

  /** Stops ticking, fails everything pending, and waits for the Ready in flight. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    await this.idle;
    const err = new ShuttingDownError('raft');
    for (const i of this.inputs.splice(0)) i.reject(err);
    for (const [, p] of this.proposals) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.proposals.clear();
    for (const [, r] of this.reads) {
      clearTimeout(r.timer);
      r.reject(err);
    }
    this.reads.clear();
  }

  private enqueue<T>(make: (resolve: (v: T) => void, reject: (e: unknown) => void) => Input): Promise<T> {
    if (this.closed) return Promise.reject(new ShuttingDownError('raft'));
    if (this.inputs.length + this.proposals.size + this.reads.size >= this.o.maxPending) {
      return Promise.reject(new OverloadedError(`too many pending requests (limit ${this.o.maxPending})`));
    }
    return new Promise<T>((resolve, reject) => {
      this.inputs.push(make(resolve as never, reject));
      this.pump();
    });
  }

  private pump(): void {
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = true;
    this.idle = this.run()
      .catch((err: unknown) => {
        this.o.logger.error('raft loop failed; stopping', { error: (err as Error).stack ?? String(err) });
        this.closed = true;
        if (this.tickTimer) clearInterval(this.tickTimer);
      })
      .finally(() => {
        this.running = false;
      });
  }

  private async run(): Promise<void> {
    do {
      this.dirty = false;
      this.feed();
      while (this.raw.hasReady()) {
        const rd = this.raw.ready();
        await this.handle(rd);
        this.raw.advance(rd);
        await this.afterAdvance();
        this.feed();
      }
    } while (this.dirty && !this.closed);
  }

  /** Feeds queued ticks, messages and requests into the RawNode (only between Readies). */
  private feed(): void {
    for (; this.ticks > 0; this.ticks--) this.raw.tick();
    const lead = this.raw.status().lead;
    for (const m of this.queue.splice(0)) {
      if (m.from === lead || m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap')
        this.lastLeaderContact = Date.now();
      this.raw.step(m);
    }
    for (const input of this.inputs.splice(0)) {
      try {
        switch (input.kind) {
          case 'propose': {
            const { index, term } = this.raw.propose(input.data);
            const timer = setTimeout(() => {
              this.proposals.delete(index);
              input.reject(
                new KonsulError('no_leader', 'timed out waiting for the write to commit; its outcome is unknown'),
              );
            }, this.o.requestTimeoutMs);
            this.proposals.set(index, { term, resolve: input.resolve, reject: input.reject, timer });
            break;
          }
          case 'read': {
            const ctx = `r${++this.readSeq}`;
            this.raw.readIndex(ctx);
            const timer = setTimeout(() => {
              this.reads.delete(ctx);
              input.reject(new NoLeaderError('No cluster leader: read could not be confirmed'));
            }, this.o.requestTimeoutMs);
            this.reads.set(ctx, { resolve: input.resolve, reject: input.reject, timer });
            break;
          }
          case 'conf':
            this.raw.proposeConfChange(input.cc);
            input.resolve();
            break;
          case 'transfer':
            this.raw.transferLeader(input.to);
            input.resolve();
            break;
        }
      } catch (err) {
        input.reject(err);
      }
    }
  }

  /**
   * One Ready: a leader's messages go out first when allowed (its log write overlaps
   * replication); the log write and the state machine applying the committed entries share one
   * transaction (synced only when the Ready must be); then the remaining messages go out, and
   * proposals and watchers learn the results.
   */
  private async handle(rd: Ready): Promise<void> {
    if (rd.sendBeforePersist) this.o.send(rd.messages);
    const batch: CommittedEntry[] = rd.committedEntries.map((e) => {
      const cc = confChangeOf(e);
      if (cc) {
        this.conf = applyToConf(this.conf, cc);
        return { index: e.index, data: e.data, conf: this.conf };
      }
      return { index: e.index, data: e.data };
    });
    const snap = rd.snapshot;
    // A snapshot from the leader replaces the state in the same transaction that stores it, so
    // a crash cannot leave the log saying it is applied while the tables are still the old ones.
    const dump = snap ? parseDump(snap.data, this.o.stateTables) : undefined;
    const writes = rd.hardState !== undefined || rd.entries.length > 0 || snap !== undefined || batch.length > 0;
    const staged = writes
      ? await this.o.storage.persist(
          { hardState: rd.hardState, entries: rd.entries, snapshot: snap, sync: rd.mustSync },
          (tx) => {
            if (snap && dump) {
              replaceTables(tx, this.o.stateTables, dump);
              writeAppliedIndex(tx, snap.meta.index);
              writeConfState(tx, snap.meta.conf);
            }
            return batch.length > 0 ? this.o.applier.stage(tx, batch) : undefined;
          },
        )
      : undefined;
    this.raw.persisted(rd);
    if (!rd.sendBeforePersist) this.o.send(rd.messages);
    if (snap) {
      this.conf = snap.meta.conf;
      this.o.applier.replaced(snap.meta.index);
      this.o.logger.info('raft snapshot installed', { index: snap.meta.index, bytes: snap.data.length });
    }
    if (staged) {
      staged.publish();
      rd.committedEntries.forEach((e, i) => {
        const p = this.proposals.get(e.index);
        if (!p) return;
        this.proposals.delete(e.index);
        clearTimeout(p.timer);
        if (p.term === e.term) p.resolve(staged.results[i] as ApplyResult);
        else
          p.reject(
            new NoLeaderError('No cluster leader: leadership changed before the write committed; it was not applied'),
          );
      });
    }
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.context);
      if (r) r.index = rs.index;
    }
    if (rd.softState) for (const fn of this.roleListeners) fn(rd.softState.role, rd.softState.lead);
  }

  private async afterAdvance(): Promise<void> {
    const applied = this.raw.status().applied;
    for (const [ctx, r] of this.reads) {
      if (r.index !== undefined && r.index <= applied) {
        clearTimeout(r.timer);
        this.reads.delete(ctx);
        r.resolve();
      }
    }
    const s = this.raw.status();
    if (s.applied - s.snapshotIndex >= this.o.snapshotThreshold) await this.compactNow();
  }

  /** Takes a snapshot of the applied state, persists it and drops the log it covers (§7). */
  private async compactNow(): Promise<void> {
    const applied = this.raw.status().applied;
    const data = this.o.store.read((tx) => dumpTables(tx, this.o.stateTables));
    const snap = this.raw.compact(applied, data);
    await this.o.storage.saveSnapshot(snap);
    this.o.logger.info('raft snapshot taken', { index: snap.meta.index, bytes: data.length });
  }
}
