import { decode, encode } from '@msgpack/msgpack';
import { createStorage } from 'unstorage';
import memoryDriver from 'unstorage/drivers/memory';
import type { HealthEntry } from '../core/catalog/queries.js';
import type { KvRecord } from '../core/kv/types.js';
import type { FileStore } from '../core/ports/runtime.js';
import type { ReplicaDelta } from '../core/sync/replica.js';
import type { SyncScope } from '../core/sync/types.js';

/** Longest path segment used for a key (file names stay well under 255 bytes). */
const SEGMENT = 180;

/** base64url of UTF-8, split into path segments and closed with "v" (so no file is also a directory). */
function pathOf(base: string, ...parts: string[]): string {
  const b64 = parts
    .map((p) => {
      const bytes = new TextEncoder().encode(p);
      let bin = '';
      for (const b of bytes) bin += String.fromCharCode(b);
      return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') || '_';
    })
    .join('.');
  const segments: string[] = [];
  for (let i = 0; i < b64.length; i += SEGMENT) segments.push(b64.slice(i, i + SEGMENT));
  return [base, ...segments, 'v'].join(':');
}

/** What is kept about the replica besides its records. */
interface ReplicaMeta {
  readonly index: number;
  readonly scope: SyncScope;
  readonly agentId: string;
}

const toBytes = (v: unknown): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array(v as ArrayBuffer));

/** A FileStore in memory (`--storage memory`, tests): nothing outlives the process. */
export function memoryFileStore(): FileStore {
  return createStorage({ driver: memoryDriver() });
}

/**
 * The edge agent's durable state in a FileStore (the runtime's files, or memoryFileStore()):
 * replica records (KV entries and health entries, one item each), the replica's index and scope,
 * and the outbox. Items are msgpack. Writes are serialized in call order; `flush()` waits for
 * them. The store is owned from here on: close() disposes of it.
 */
export class EdgePersistence {
  readonly storage: FileStore;
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(storage: FileStore) {
    this.storage = storage;
  }

  /** Number of queued writes not yet done. */
  get backlog(): number {
    return this.pending;
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    this.pending++;
    const run = this.chain.then(job).finally(() => this.pending--);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Waits for every queued write. */
  flush(): Promise<void> {
    return this.chain;
  }

  /** Persists what an apply changed, then the replica's new index (so a crash re-applies, never skips). */
  saveDelta(delta: ReplicaDelta, meta: Omit<ReplicaMeta, 'index'>): Promise<void> {
    return this.enqueue(async () => {
      const s = this.storage;
      // Key by key: unstorage's fs-lite and memory drivers clear everything whatever the base,
      // which took the agent id and the outbox with the old replica.
      if (delta.reset)
        for (const base of ['kv', 'health']) for (const k of await s.getKeys(base)) await s.removeItem(k);
      for (const [key, rec] of delta.kvPut) await s.setItemRaw(pathOf('kv', key), encode({ key, rec }));
      for (const key of delta.kvDelete) await s.removeItem(pathOf('kv', key));
      for (const [[svc, node, id], entry] of delta.healthPut)
        await s.setItemRaw(pathOf('health', svc, node, id), encode(entry));
      for (const [svc, node, id] of delta.healthDelete) await s.removeItem(pathOf('health', svc, node, id));
      await s.setItemRaw('meta:replica', encode({ ...meta, index: delta.index }));
    });
  }

  /** Loads the replica: its meta and records (empty when none was saved). */
  async loadReplica(): Promise<{
    meta: ReplicaMeta | undefined;
    kv: Array<[string, KvRecord]>;
    health: HealthEntry[];
  }> {
    const s = this.storage;
    const raw = await s.getItemRaw('meta:replica');
    const meta = raw ? (decode(toBytes(raw)) as ReplicaMeta) : undefined;
    const kv: Array<[string, KvRecord]> = [];
    for (const k of await s.getKeys('kv')) {
      const v = await s.getItemRaw(k);
      if (!v) continue;
      const { key, rec } = decode(toBytes(v)) as { key: string; rec: KvRecord };
      kv.push([key, rec]);
    }
    const health: HealthEntry[] = [];
    for (const k of await s.getKeys('health')) {
      const v = await s.getItemRaw(k);
      if (v) health.push(decode(toBytes(v)) as HealthEntry);
    }
    return { meta, kv, health };
  }

  /** A small value kept under `meta:<name>` (e.g. the agent id). */
  async getMeta<T>(name: string): Promise<T | undefined> {
    const raw = await this.storage.getItemRaw(`meta:${name}`);
    return raw ? (decode(toBytes(raw)) as T) : undefined;
  }

  setMeta(name: string, value: unknown): Promise<void> {
    return this.enqueue(() => this.storage.setItemRaw(`meta:${name}`, encode(value)));
  }

  /** Stores an outbox item (durable when the promise resolves). */
  putOutbox(seq: number, item: unknown): Promise<void> {
    return this.enqueue(() => this.storage.setItemRaw(`outbox:${String(seq).padStart(12, '0')}`, encode(item)));
  }

  removeOutbox(seq: number): Promise<void> {
    return this.enqueue(() => this.storage.removeItem(`outbox:${String(seq).padStart(12, '0')}`));
  }

  /** Every outbox item, in sequence order. */
  async loadOutbox(): Promise<unknown[]> {
    const keys = (await this.storage.getKeys('outbox')).sort();
    const out: unknown[] = [];
    for (const k of keys) {
      const v = await this.storage.getItemRaw(k);
      if (v) out.push(decode(toBytes(v)));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.storage.dispose();
  }
}
