import { concatBytes } from '../util/bytes.js';
import { pack, unpack } from '../util/msgpack.js';
import type { HealthEntry } from '../catalog/queries.js';
import { CorruptError, TooLargeError } from '../errors.js';
import type { KvEntry, KvRecord } from '../kv/types.js';
import { MAX_SYNC_MESSAGE_BYTES, type SyncBatch, type SyncChange, type SyncScope, type SyncSnapshot } from './types.js';

/** A part of a snapshot: parts 0..parts-1 of the same index together make the whole. */
export interface SnapshotChunk {
  readonly index: number;
  readonly part: number;
  readonly parts: number;
  readonly kv: readonly KvEntry[];
  readonly health: readonly HealthEntry[];
}

/** A replica asking a server (over MQTT) for what it is missing. */
export interface SyncRequest {
  /** The replica's id; the answer goes to its response topic. */
  readonly agent: string;
  /** Echoed in the answer, so a replica can tell answers to different requests apart. */
  readonly nonce: string;
  /** The replica's last applied index, or null for a fresh snapshot. */
  readonly after: number | null;
  readonly scope: SyncScope;
  /** The replica's ACL token, when the servers enforce ACLs (the scope must be readable with it). */
  readonly token?: string;
}

/** Every message of the sync protocol. */
export type SyncMessage =
  | { readonly k: 'batch'; readonly batch: SyncBatch }
  | { readonly k: 'chunk'; readonly chunk: SnapshotChunk }
  | { readonly k: 'req'; readonly req: SyncRequest }
  /** The end of an answer to a request: the replica is now at `index` (MQTT). */
  | { readonly k: 'done'; readonly nonce: string; readonly index: number };

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStr = (v: unknown): v is string => typeof v === 'string';

function bad(what: string): never {
  throw new CorruptError(`malformed sync message: ${what}`);
}

function checkRecord(v: unknown): KvRecord {
  if (
    !isObj(v) ||
    !(v['value'] instanceof Uint8Array) ||
    !isStr(v['flags']) ||
    !isIndex(v['createIndex']) ||
    !isIndex(v['modifyIndex']) ||
    !isIndex(v['lockIndex'])
  ) {
    return bad('KV entry');
  }
  if (v['session'] !== undefined && !isStr(v['session'])) return bad('KV entry session');
  return v as unknown as KvRecord;
}

function checkHealth(v: unknown): HealthEntry {
  if (!isObj(v) || !isObj(v['node']) || !isObj(v['service']) || !Array.isArray(v['checks'])) return bad('health entry');
  const node = v['node'];
  const service = v['service'];
  if (!isStr(node['Node']) || !isStr(service['ID']) || !isStr(service['Service'])) return bad('health entry names');
  if (!v['checks'].every((c) => isObj(c) && isStr(c['CheckID']) && isStr(c['Status'])))
    return bad('health entry checks');
  return v as unknown as HealthEntry;
}

/** The payload of a retained `kv/<key>` or `health/...` topic: the latest value and its index. */
export type RetainedValue =
  { readonly index: number; readonly entry: KvRecord } | { readonly index: number; readonly entry: HealthEntry };

/** Encodes a retained topic's payload (msgpack `{index, entry}`). */
export function encodeRetained(index: number, entry: KvRecord | HealthEntry): Uint8Array {
  return pack({ index, entry });
}

/**
 * Decodes and checks a retained topic's payload of the given kind; throws CorruptError when it
 * is not one (anyone able to publish on the broker could have put it there).
 */
export function decodeRetained(bytes: Uint8Array, kind: 'kv'): { index: number; entry: KvRecord };
export function decodeRetained(bytes: Uint8Array, kind: 'health'): { index: number; entry: HealthEntry };
export function decodeRetained(bytes: Uint8Array, kind: 'kv' | 'health'): RetainedValue {
  if (bytes.byteLength > MAX_SYNC_MESSAGE_BYTES) return bad('retained value too large');
  let v: unknown;
  try {
    v = unpack(bytes);
  } catch {
    return bad('retained value is not msgpack');
  }
  if (!isObj(v) || !isIndex(v['index'])) return bad('retained value');
  return kind === 'kv'
    ? { index: v['index'], entry: checkRecord(v['entry']) }
    : { index: v['index'], entry: checkHealth(v['entry']) };
}

function checkChange(v: unknown): SyncChange {
  if (!isObj(v)) return bad('change');
  switch (v['t']) {
    case 'kv':
      if (!isStr(v['key'])) return bad('kv change key');
      if (v['entry'] !== null) checkRecord(v['entry']);
      return v as unknown as SyncChange;
    case 'kv-tree':
      if (!isStr(v['prefix']) || !Array.isArray(v['keys']) || !v['keys'].every(isStr)) return bad('kv-tree change');
      return v as unknown as SyncChange;
    case 'health':
      if (!isStr(v['service']) || !isStr(v['node']) || !isStr(v['id'])) return bad('health change');
      if (v['entry'] !== null) checkHealth(v['entry']);
      return v as unknown as SyncChange;
    default:
      return bad(`change type ${JSON.stringify(v['t'])}`);
  }
}

function checkScope(v: unknown): SyncScope {
  if (
    !isObj(v) ||
    !Array.isArray(v['prefixes']) ||
    !v['prefixes'].every(isStr) ||
    !Array.isArray(v['services']) ||
    !v['services'].every(isStr)
  ) {
    return bad('scope');
  }
  return { prefixes: v['prefixes'] as string[], services: v['services'] as string[] };
}

/** Encodes a message as msgpack. Throws TooLargeError beyond MAX_SYNC_MESSAGE_BYTES. */
export function encodeSyncMessage(m: SyncMessage): Uint8Array {
  const bytes = pack(m, { ignoreUndefined: true });
  if (bytes.byteLength > MAX_SYNC_MESSAGE_BYTES)
    throw new TooLargeError(`sync message of ${bytes.byteLength} bytes exceeds ${MAX_SYNC_MESSAGE_BYTES}`);
  return bytes;
}

/** A batch encoded for the broker: the `changes` message and each change's retained payload. */
export interface BrokerBatch {
  /** encodeSyncMessage({ k: 'batch', batch }), byte for byte. */
  readonly message: Uint8Array;
  /**
   * Per change, in order: encodeRetained(batch.index, entry) of a change with an entry (the same
   * value: undefined fields left out, as in the message); null for a deletion or a kv-tree change.
   */
  readonly retained: ReadonlyArray<Uint8Array | null>;
}

/** A MessagePack array header for `n` elements (what the encoder writes before them). */
function arrayHeader(n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(0x90 | n);
  if (n < 0x10000) return Uint8Array.of(0xdc, n >> 8, n & 0xff);
  return Uint8Array.of(0xdd, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * `value` (whose last field is `entry: null`) encoded with `entry` in that last place: the
 * encoder writes a trailing null as the single byte 0xc0, which the entry's encoding replaces.
 */
function withEntry(head: Uint8Array, entry: Uint8Array): Uint8Array {
  return concatBytes([head.subarray(0, head.byteLength - 1), entry]);
}

/**
 * Encodes `batch` for the broker, each entry once: the message and the retained payloads share
 * the entries' encodings (under a burst of registrations this halves the bridge's encoding work).
 * Throws TooLargeError, as encodeSyncMessage does, when the message is too large.
 */
export function encodeBatchForBroker(batch: SyncBatch): BrokerBatch {
  const changes: Uint8Array[] = [];
  const retained: Array<Uint8Array | null> = [];
  let retainedHead: Uint8Array | undefined;
  for (const ch of batch.changes) {
    if (ch.t === 'kv-tree' || ch.entry === null) {
      changes.push(pack(ch, { ignoreUndefined: true }));
      retained.push(null);
      continue;
    }
    const entry = pack(ch.entry, { ignoreUndefined: true });
    const head =
      ch.t === 'kv'
        ? pack({ t: ch.t, key: ch.key, entry: null })
        : pack({ t: ch.t, service: ch.service, node: ch.node, id: ch.id, entry: null });
    changes.push(withEntry(head, entry));
    retainedHead ??= pack({ index: batch.index, entry: null });
    retained.push(withEntry(retainedHead, entry));
  }
  // The batch's fields in the order encodeSyncMessage meets them, `changes` last and empty: the
  // encoder ends it with an empty array's header (0x90), which the changes' header replaces.
  const head = pack({ k: 'batch', batch: { index: batch.index, prev: batch.prev, changes: [] } });
  const message = concatBytes([head.subarray(0, head.byteLength - 1), arrayHeader(changes.length), ...changes]);
  if (message.byteLength > MAX_SYNC_MESSAGE_BYTES)
    throw new TooLargeError(`sync message of ${message.byteLength} bytes exceeds ${MAX_SYNC_MESSAGE_BYTES}`);
  return { message, retained };
}

/** Decodes and validates a message; throws CorruptError for anything malformed or too large. */
export function decodeSyncMessage(bytes: Uint8Array): SyncMessage {
  if (bytes.byteLength > MAX_SYNC_MESSAGE_BYTES) return bad(`${bytes.byteLength} bytes`);
  let v: unknown;
  try {
    v = unpack(bytes);
  } catch (err) {
    return bad((err as Error).message);
  }
  if (!isObj(v)) return bad('not a map');
  switch (v['k']) {
    case 'batch': {
      const b = v['batch'];
      if (!isObj(b) || !isIndex(b['index']) || !isIndex(b['prev']) || !Array.isArray(b['changes'])) return bad('batch');
      b['changes'].forEach(checkChange);
      return v as unknown as SyncMessage;
    }
    case 'chunk': {
      const c = v['chunk'];
      if (
        !isObj(c) ||
        !isIndex(c['index']) ||
        !isIndex(c['part']) ||
        !isIndex(c['parts']) ||
        (c['part'] as number) >= (c['parts'] as number)
      )
        return bad('chunk');
      if (!Array.isArray(c['kv']) || !Array.isArray(c['health'])) return bad('chunk lists');
      for (const e of c['kv'] as unknown[]) {
        if (!isObj(e) || !isStr(e['key'])) bad('chunk KV key');
        checkRecord(e);
      }
      (c['health'] as unknown[]).forEach(checkHealth);
      return v as unknown as SyncMessage;
    }
    case 'req': {
      const r = v['req'];
      if (!isObj(r) || !isStr(r['agent']) || !isStr(r['nonce']) || !(r['after'] === null || isIndex(r['after'])))
        return bad('request');
      if (r['token'] !== undefined && (!isStr(r['token']) || r['token'].length > 256)) return bad('request token');
      checkScope(r['scope']);
      return v as unknown as SyncMessage;
    }
    case 'done':
      if (!isStr(v['nonce']) || !isIndex(v['index'])) return bad('done');
      return v as unknown as SyncMessage;
    default:
      return bad(`kind ${JSON.stringify(v['k'])}`);
  }
}

/** Rough encoded size of a KV entry or health entry (for chunking). */
function sizeOf(e: KvEntry | HealthEntry): number {
  if ('value' in e) return 96 + e.key.length * 3 + e.value.byteLength;
  return 512 + e.checks.reduce((n, c) => n + 256 + c.Output.length * 3 + c.Notes.length * 3, 0);
}

/**
 * Splits a snapshot into chunks of at most about `maxBytes` each (at least one chunk, even for an
 * empty snapshot). A single entry larger than maxBytes gets a chunk of its own.
 */
export function chunkSnapshot(snap: SyncSnapshot, maxBytes = 256 * 1024): SnapshotChunk[] {
  const out: Array<{ kv: KvEntry[]; health: HealthEntry[] }> = [];
  let cur = { kv: [] as KvEntry[], health: [] as HealthEntry[] };
  let size = 0;
  const add = (e: KvEntry | HealthEntry): void => {
    const n = sizeOf(e);
    if (size > 0 && size + n > maxBytes) {
      out.push(cur);
      cur = { kv: [], health: [] };
      size = 0;
    }
    if ('value' in e) cur.kv.push(e);
    else cur.health.push(e);
    size += n;
  };
  for (const e of snap.kv) add(e);
  for (const e of snap.health) add(e);
  out.push(cur);
  return out.map((c, part) => ({ index: snap.index, part, parts: out.length, kv: c.kv, health: c.health }));
}

/**
 * Reassembles snapshot chunks. Chunks must arrive in order (part 0 first); a chunk of another
 * index or out of order restarts or is refused. Returns the snapshot when the last part arrives.
 */
export class SnapshotAssembler {
  private index = -1;
  private next = 0;
  private kv: KvEntry[] = [];
  private health: HealthEntry[] = [];

  /**
   * Adds a chunk; returns the whole snapshot after the last one, else undefined. Throws CorruptError
   * when out of order.
   */
  add(c: SnapshotChunk): SyncSnapshot | undefined {
    if (c.part === 0) {
      this.index = c.index;
      this.next = 0;
      this.kv = [];
      this.health = [];
    }
    if (c.index !== this.index || c.part !== this.next)
      throw new CorruptError(`snapshot chunk ${c.part}/${c.parts} of index ${c.index} out of order`);
    this.kv.push(...c.kv);
    this.health.push(...c.health);
    this.next++;
    if (this.next < c.parts) return undefined;
    const snap = { index: this.index, kv: this.kv, health: this.health };
    this.index = -1;
    this.kv = [];
    this.health = [];
    return snap;
  }
}
