import type { HealthEntry } from '../catalog/queries.js';
import { CATALOG_WATCH_TABLE } from '../catalog/state-machine.js';
import {
  type CatalogCheck,
  type CatalogService,
  CHECKS_TABLE,
  childKey,
  INDEX,
  NODES_TABLE,
  SERVICE_NAME_INDEX,
  SERVICES_TABLE,
} from '../catalog/types.js';
import { bumpTableIndex, META_TABLE, readAppliedIndex, writeAppliedIndex } from '../fsm/meta.js';
import {
  KV_INDEX_NAME,
  KV_TABLE,
  KV_TOMBSTONE_TABLE,
  type KvRecord,
  type KvTombstone,
  TOMBSTONE_KEY_PREFIX,
} from '../kv/types.js';
import type { ReadTxn, StateStore, WriteTxn } from '../ports/state-store.js';
import type { Change } from '../watch/change.js';
import type { WatchRegistry } from '../watch/watch-registry.js';
import { scopeHasChange } from './scope.js';
import type { SyncBatch, SyncChange, SyncScope, SyncSnapshot } from './types.js';

/** The StateStore tables a replica needs (the read API's KV and catalog tables). */
export const REPLICA_TABLES = [
  META_TABLE,
  KV_TABLE,
  KV_TOMBSTONE_TABLE,
  NODES_TABLE,
  SERVICES_TABLE,
  CHECKS_TABLE,
  SERVICE_NAME_INDEX,
];

/** What one apply changed, for a persistence layer: records to upsert or remove, and the new index. */
export interface ReplicaDelta {
  /** The replica was replaced (snapshot): drop everything persisted before applying the rest. */
  readonly reset: boolean;
  readonly kvPut: Array<readonly [string, KvRecord]>;
  readonly kvDelete: string[];
  /** Health entries by instance key (service, node, id). */
  readonly healthPut: Array<readonly [readonly [string, string, string], HealthEntry]>;
  readonly healthDelete: Array<readonly [string, string, string]>;
  readonly index: number;
}

/** How applying a batch went. */
export type BatchOutcome =
  | { readonly applied: true; readonly delta: ReplicaDelta }
  | { readonly applied: false; readonly reason: 'duplicate' | 'gap' };

function emptyDelta(reset: boolean, index: number): { -readonly [K in keyof ReplicaDelta]: ReplicaDelta[K] } {
  return { reset, kvPut: [], kvDelete: [], healthPut: [], healthDelete: [], index };
}

/**
 * A replica of a scope of the server's state, in a StateStore laid out like the server's, so the
 * same read routes (KV, catalog, health, with blocking queries) serve it. It keeps the server's
 * indexes (ModifyIndex, X-Consul-Index) and the last applied log index. Snapshots replace it;
 * batches apply in order (see SyncBatch.prev). Every apply is one store transaction, then wakes
 * the blocking queries it affects, and returns what changed so a caller can persist it.
 */
export class Replica {
  constructor(
    private readonly store: StateStore,
    private readonly watches: WatchRegistry,
    readonly scope: SyncScope,
  ) {}

  /** The last log index this replica has applied (0: empty). */
  get lastIndex(): number {
    return this.store.read(readAppliedIndex);
  }

  /** Replaces the replica with `snap`. */
  async applySnapshot(snap: SyncSnapshot): Promise<ReplicaDelta> {
    const delta = emptyDelta(true, snap.index);
    await this.store.write((tx) => {
      for (const t of REPLICA_TABLES) {
        const keys = [...tx.range(t)].map(([k]) => k);
        for (const k of keys) tx.delete(t, k);
      }
      for (const e of snap.kv) {
        const { key, ...rec } = e;
        if (!this.scope.prefixes.some((p) => key.startsWith(p))) continue;
        tx.put(KV_TABLE, key, rec);
        delta.kvPut.push([key, rec]);
      }
      // Deleted keys have no tombstone in a snapshot: a tombstone per prefix keeps list indexes from going back.
      for (const p of this.scope.prefixes)
        tx.put<KvTombstone>(KV_TOMBSTONE_TABLE, TOMBSTONE_KEY_PREFIX + p, { index: snap.index });
      bumpTableIndex(tx, KV_INDEX_NAME, snap.index);
      for (const h of snap.health) {
        if (!this.scope.services.includes(h.service.Service)) continue;
        putHealth(tx, h, snap.index);
        delta.healthPut.push([[h.service.Service, h.node.Node, h.service.ID], h]);
      }
      for (const s of this.scope.services) bumpTableIndex(tx, INDEX.service(s), snap.index);
      for (const name of [INDEX.nodes, INDEX.services, INDEX.checks]) bumpTableIndex(tx, name, snap.index);
      writeAppliedIndex(tx, snap.index);
    });
    this.watches.wakeAll();
    return delta;
  }

  /**
   * Applies a batch if it follows this replica: 'duplicate' when it is not newer, 'gap' when the
   * replica missed something before it (resume or re-snapshot). Changes outside the scope are skipped.
   */
  async applyBatch(batch: SyncBatch): Promise<BatchOutcome> {
    const last = this.lastIndex;
    if (batch.index <= last) return { applied: false, reason: 'duplicate' };
    if (batch.prev > last) return { applied: false, reason: 'gap' };
    const delta = emptyDelta(false, batch.index);
    const changes: Change[] = [];
    await this.store.write((tx) => {
      for (const c of batch.changes) if (scopeHasChange(this.scope, c)) applyChange(tx, c, batch.index, delta, changes);
      writeAppliedIndex(tx, batch.index);
    });
    this.watches.notify(changes);
    return { applied: true, delta };
  }

  /**
   * Moves the replica to `index` without changes (a server told it nothing in scope happened up
   * to there). Never moves backwards.
   */
  async advanceTo(index: number): Promise<void> {
    if (index <= this.lastIndex) return;
    await this.store.write((tx) => writeAppliedIndex(tx, index));
  }

  /**
   * Writes records whose index is unknown (the latest values a broker retained) into an empty
   * replica, leaving its index at 0 so the first snapshot from a server replaces them.
   */
  async applyLoose(kv: ReadonlyArray<readonly [string, KvRecord]>, health: readonly HealthEntry[]): Promise<void> {
    if (this.lastIndex > 0) return;
    await this.store.write((tx) => {
      for (const [key, rec] of kv) if (this.scope.prefixes.some((p) => key.startsWith(p))) tx.put(KV_TABLE, key, rec);
      for (const h of health) if (this.scope.services.includes(h.service.Service)) putHealth(tx, h, 0);
    });
    this.watches.wakeAll();
  }

  /** Applies persisted records as a snapshot at `index` (loading the replica at startup). */
  async load(
    index: number,
    kv: ReadonlyArray<readonly [string, KvRecord]>,
    health: readonly HealthEntry[],
  ): Promise<void> {
    await this.applySnapshot({ index, kv: kv.map(([key, rec]) => ({ key, ...rec })), health });
  }

  /** Reads the replica's state (for tests and status). */
  read<T>(fn: (tx: ReadTxn) => T): T {
    return this.store.read(fn);
  }
}

function applyChange(
  tx: WriteTxn,
  c: SyncChange,
  index: number,
  delta: ReturnType<typeof emptyDelta>,
  changes: Change[],
): void {
  if (c.t === 'kv') {
    if (c.entry) {
      tx.put(KV_TABLE, c.key, c.entry);
      delta.kvPut.push([c.key, c.entry]);
    } else {
      if (!tx.delete(KV_TABLE, c.key)) return;
      tx.put<KvTombstone>(KV_TOMBSTONE_TABLE, TOMBSTONE_KEY_PREFIX + c.key, { index });
      delta.kvDelete.push(c.key);
    }
    bumpTableIndex(tx, KV_INDEX_NAME, index);
    changes.push({ table: KV_TABLE, key: c.key });
    return;
  }
  if (c.t === 'kv-tree') {
    const keys = [...tx.range(KV_TABLE, { prefix: c.prefix })].map(([k]) => k);
    for (const k of keys) tx.delete(KV_TABLE, k);
    delta.kvDelete.push(...keys);
    tx.put<KvTombstone>(KV_TOMBSTONE_TABLE, TOMBSTONE_KEY_PREFIX + c.prefix, { index });
    bumpTableIndex(tx, KV_INDEX_NAME, index);
    changes.push({ table: KV_TABLE, prefix: c.prefix });
    return;
  }
  const touched = [INDEX.service(c.service), INDEX.services, INDEX.nodes, INDEX.checks, INDEX.node(c.node)];
  if (c.entry) {
    putHealth(tx, c.entry, index);
    delta.healthPut.push([[c.service, c.node, c.id], c.entry]);
  } else {
    removeInstance(tx, c.service, c.node, c.id);
    delta.healthDelete.push([c.service, c.node, c.id]);
  }
  for (const name of touched) {
    bumpTableIndex(tx, name, index);
    changes.push({ table: CATALOG_WATCH_TABLE, key: name });
  }
}

/** Writes an instance with its node and checks (replacing the instance's previous checks). */
function putHealth(tx: WriteTxn, h: HealthEntry, index: number): void {
  const node = h.node.Node;
  const key = childKey(node, h.service.ID);
  const previous = tx.get<CatalogService>(SERVICES_TABLE, key);
  if (previous && previous.Service !== h.service.Service)
    tx.delete(SERVICE_NAME_INDEX, `${previous.Service}\u0000${key}`);
  tx.put(NODES_TABLE, node, h.node);
  tx.put(SERVICES_TABLE, key, h.service);
  tx.put(SERVICE_NAME_INDEX, `${h.service.Service}\u0000${key}`, '');
  const keep = new Set(h.checks.map((c) => c.CheckID));
  const stale = [...tx.range<CatalogCheck>(CHECKS_TABLE, { prefix: `${node}/` })]
    .filter(([, c]) => c.ServiceID === h.service.ID && !keep.has(c.CheckID))
    .map(([k]) => k);
  for (const k of stale) tx.delete(CHECKS_TABLE, k);
  for (const c of h.checks) tx.put(CHECKS_TABLE, childKey(node, c.CheckID), c);
  bumpTableIndex(tx, INDEX.node(node), index);
}

/** Removes an instance and its checks; the node (and its node checks) go when it has no instance left. */
function removeInstance(tx: WriteTxn, service: string, node: string, id: string): void {
  const key = childKey(node, id);
  const existing = tx.get<CatalogService>(SERVICES_TABLE, key);
  if (existing) tx.delete(SERVICE_NAME_INDEX, `${existing.Service}\u0000${key}`);
  else tx.delete(SERVICE_NAME_INDEX, `${service}\u0000${key}`);
  tx.delete(SERVICES_TABLE, key);
  const checks = [...tx.range<CatalogCheck>(CHECKS_TABLE, { prefix: `${node}/` })];
  for (const [k, c] of checks) if (c.ServiceID === id) tx.delete(CHECKS_TABLE, k);
  const left = [...tx.range(SERVICES_TABLE, { prefix: `${node}/`, limit: 1 })].length > 0;
  if (left) return;
  tx.delete(NODES_TABLE, node);
  for (const [k] of [...tx.range(CHECKS_TABLE, { prefix: `${node}/` })]) tx.delete(CHECKS_TABLE, k);
}
