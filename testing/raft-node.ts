import type { Rng } from '../core/ports/rng.js';
import type { PlantedBugs, RaftConfig } from '../core/raft/config.js';
import { RawNode } from '../core/raft/raw-node.js';
import type { Entry, HardState, Message, NodeId, Ready, ReadState, Snapshot } from '../core/raft/types.js';

/** A KV command carried in a log entry of the test state machine. */
export type KvOp =
  | { readonly id: string; readonly op: 'put'; readonly key: string; readonly value: string }
  | {
      readonly id: string;
      readonly op: 'cas';
      readonly key: string;
      readonly expect: string | null;
      readonly value: string;
    };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Encodes a KvOp as entry data. */
export function encodeOp(op: KvOp): Uint8Array {
  return enc.encode(JSON.stringify(op));
}

/** Decodes entry data into a KvOp; undefined for empty (no-op) entries. */
export function decodeOp(data: Uint8Array): KvOp | undefined {
  return data.byteLength === 0 ? undefined : (JSON.parse(dec.decode(data)) as KvOp);
}

/** What a node has made durable: it survives crashes, everything else does not. */
export interface Durable {
  hardState: HardState | undefined;
  snapshot: Snapshot | undefined;
  entries: Entry[];
}

/** What one Ready did, for observers (invariant checkers, clients). */
export interface ReadyEffects {
  readonly messages: readonly Message[];
  readonly persisted: readonly Entry[];
  readonly applied: ReadonlyArray<{ entry: Entry; result: boolean | undefined }>;
  readonly readStates: readonly ReadState[];
  readonly snapshotInstalled: Snapshot | undefined;
  readonly becameLeader: boolean;
}

/** Options for a test node. */
export interface TestRaftNodeOptions {
  readonly id: NodeId;
  readonly rng: Rng;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'rng' | 'plantedBugs'>>;
  readonly plantedBugs?: PlantedBugs;
  /** Compact the log when this many applied entries follow the snapshot (0: never). */
  readonly compactEvery?: number;
}

/**
 * A Raft node with a durable store and a KV state machine, all in memory, following the RawNode
 * contract one Ready at a time. A crash drops the RawNode and the state machine; restart rebuilds
 * them from what was made durable. Used by the Raft scenario tests (core/raft/raft.test.ts); the
 * simulator runs the production driver instead (testing/sim/sim-node.ts).
 */
export class TestRaftNode {
  readonly id: NodeId;
  raw: RawNode | undefined;
  kv = new Map<string, string>();
  applied = 0;
  readonly durable: Durable = { hardState: undefined, snapshot: undefined, entries: [] };

  constructor(private readonly options: TestRaftNodeOptions) {
    this.id = options.id;
  }

  /** Persists the bootstrap state and starts the node (a founding member). */
  bootstrap(state: { hardState: HardState; entries: readonly Entry[] }): void {
    this.durable.hardState = state.hardState;
    this.durable.entries = [...state.entries];
    this.start();
  }

  /** (Re)starts the node from its durable state. */
  start(): void {
    const snap = this.durable.snapshot;
    this.kv = snap ? new Map(JSON.parse(dec.decode(snap.data)) as Array<[string, string]>) : new Map();
    this.applied = snap?.meta.index ?? 0;
    this.raw = new RawNode(
      {
        ...this.options.raft,
        id: this.id,
        rng: this.options.rng,
        ...(this.options.plantedBugs ? { plantedBugs: this.options.plantedBugs } : {}),
      },
      {
        ...(this.durable.hardState ? { hardState: this.durable.hardState } : {}),
        ...(snap ? { snapshot: snap } : {}),
        entries: this.durable.entries,
      },
    );
  }

  /** Loses everything not durable. */
  crash(): void {
    this.raw = undefined;
    this.kv = new Map();
    this.applied = 0;
  }

  get alive(): boolean {
    return this.raw !== undefined;
  }

  /**
   * Handles one Ready per the contract: persist, send (returned to the caller), apply, advance.
   * Answers undefined when there is nothing to do.
   */
  processReady(): ReadyEffects | undefined {
    const raw = this.raw;
    if (!raw || !raw.hasReady()) return undefined;
    const rd = raw.ready();
    this.makeDurable(rd);
    raw.persisted(rd);
    if (rd.snapshot) {
      this.kv = new Map(JSON.parse(dec.decode(rd.snapshot.data)) as Array<[string, string]>);
      this.applied = rd.snapshot.meta.index;
    }
    const applied: Array<{ entry: Entry; result: boolean | undefined }> = [];
    for (const e of rd.committedEntries) {
      if (e.index !== this.applied + 1) throw new Error(`${this.id}: applying ${e.index} after ${this.applied}`);
      applied.push({ entry: e, result: this.applyEntry(e) });
      this.applied = e.index;
    }
    raw.advance(rd);
    this.maybeCompact();
    return {
      messages: rd.messages,
      persisted: rd.entries,
      applied,
      readStates: rd.readStates,
      snapshotInstalled: rd.snapshot,
      becameLeader: rd.softState?.role === 'leader',
    };
  }

  /** Step 1 of the contract: what a Ready writes becomes durable. */
  private makeDurable(rd: Ready): void {
    if (rd.hardState) this.durable.hardState = rd.hardState;
    if (rd.snapshot) {
      this.durable.snapshot = rd.snapshot;
      this.durable.entries = [];
    }
    if (rd.entries.length > 0) {
      const first = (rd.entries[0] as Entry).index;
      const base = (this.durable.snapshot?.meta.index ?? 0) + 1;
      this.durable.entries.length = Math.max(0, first - base);
      this.durable.entries.push(...rd.entries);
    }
  }

  private applyEntry(e: Entry): boolean | undefined {
    if (e.type === 'conf') return undefined;
    const op = decodeOp(e.data);
    if (!op) return undefined;
    if (op.op === 'put') {
      this.kv.set(op.key, op.value);
      return true;
    }
    const current = this.kv.get(op.key) ?? null;
    if (current !== op.expect) return false;
    this.kv.set(op.key, op.value);
    return true;
  }

  private maybeCompact(): void {
    const every = this.options.compactEvery ?? 0;
    const raw = this.raw;
    if (!raw || every <= 0) return;
    const base = this.durable.snapshot?.meta.index ?? 0;
    if (this.applied - base < every) return;
    const data = enc.encode(JSON.stringify([...this.kv.entries()].sort()));
    const snap = raw.compact(this.applied, data);
    this.durable.snapshot = snap;
    this.durable.entries = this.durable.entries.filter((e) => e.index > snap.meta.index);
  }
}
