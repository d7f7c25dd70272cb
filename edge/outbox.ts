import { BadRequestError, OverloadedError } from '../core/errors.js';
import { parseFlags, validateKey, validatePrefix } from '../core/kv/commands.js';
import type { Clock } from '../core/ports/clock.js';
import type { Logger } from '../core/ports/logger.js';
import { type CounterMetric, type Metrics, NO_METRICS } from '../core/ports/metrics.js';
import type { Rng } from '../core/ports/rng.js';
import { encodeBase64 } from '../core/util/base64.js';
import { parseUint64 } from '../core/util/uint64.js';
import { randomUuid } from '../core/util/uuid.js';
import type { EdgePersistence } from './persist.js';

/** Where a queued write stands. `conflict`: the server evaluated it and a condition failed (e.g. cas). */
export type OutboxStatus = 'pending' | 'applied' | 'conflict' | 'failed';

/** One write made while the upstream was unreachable. */
export interface OutboxItem {
  readonly id: string;
  readonly seq: number;
  readonly createdAt: number;
  /** The request as the client made it: method and path with query. */
  readonly method: string;
  readonly path: string;
  /** The write as a transaction (JSON operations), replayed with the item's idempotency key. */
  readonly txn: unknown[];
  /** How the client's original call answers: `true`/`false` (KV), or a transaction response. */
  readonly answer: 'bool' | 'txn';
  /** With ACLs on: who wrote it (AccessorID) and the grant it replays under (the writer's, not the agent's). */
  readonly writer?: { readonly accessor: string; readonly grant: string };
  status: OutboxStatus;
  attempts: number;
  finishedAt?: number;
  /** The server's outcome once known: HTTP status, and the answer body the original call would have had. */
  result?: { readonly status: number; readonly body: string; readonly index?: number; readonly replayed?: boolean };
}

/**
 * Sends a replayed transaction (with the writer's grant, when it has one) and gives the server's
 * answer; undefined: not reached (network).
 */
export type UpstreamTxn = (
  body: string,
  idempotencyKey: string,
  grant: string | undefined,
) => Promise<{ status: number; body: string; headers: Headers } | undefined>;

/** How many finished items stay visible on the status endpoint. */
const KEEP_FINISHED = 1000;
/** Largest KV value queued (bytes), as the servers' default. */
const MAX_VALUE_BYTES = 512 * 1024;

function flagsNumber(text: string | null): number {
  if (text === null || text === '') return 0;
  const canonical = parseFlags(text);
  const n = Number(canonical);
  if (!Number.isSafeInteger(n))
    throw new BadRequestError('Invalid flags: values above 2^53-1 cannot be queued while offline');
  return n;
}

function uintParam(text: string, name: string): number {
  const n = parseUint64(text);
  if (n === undefined || n > BigInt(Number.MAX_SAFE_INTEGER))
    throw new BadRequestError(`Invalid ${name}: ${JSON.stringify(text)}`);
  return Number(n);
}

/**
 * Turns a write the agent may queue into a one-transaction replay: KV PUT (plain, cas, acquire,
 * release, flags), KV DELETE (plain, cas, recurse) and /v1/txn. Validates like the server would,
 * so a bad request is refused at once (BadRequestError). Undefined: this write cannot be queued.
 */
export function translateWrite(
  method: string,
  url: URL,
  body: Uint8Array,
): { txn: unknown[]; answer: 'bool' | 'txn' } | undefined {
  if (url.pathname === '/v1/txn' && method === 'PUT') {
    let ops: unknown;
    try {
      ops = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new BadRequestError('Request decode failed: body is not valid JSON');
    }
    if (!Array.isArray(ops) || ops.length === 0)
      throw new BadRequestError('Failed to parse body: a transaction is a non-empty JSON array of operations');
    return { txn: ops, answer: 'txn' };
  }
  if (!url.pathname.startsWith('/v1/kv/')) return undefined;
  let key: string;
  try {
    key = decodeURIComponent(url.pathname.slice('/v1/kv/'.length));
  } catch {
    throw new BadRequestError('Invalid key name: bad percent-encoding');
  }
  const q = url.searchParams;
  if (method === 'DELETE') {
    if (q.has('recurse')) {
      validatePrefix(key);
      return { txn: [{ KV: { Verb: 'delete-tree', Key: key } }], answer: 'bool' };
    }
    validateKey(key);
    const cas = q.get('cas');
    return {
      txn: [
        {
          KV:
            cas === null
              ? { Verb: 'delete', Key: key }
              : { Verb: 'delete-cas', Key: key, Index: uintParam(cas, 'cas index') },
        },
      ],
      answer: 'bool',
    };
  }
  if (method !== 'PUT') return undefined;
  validateKey(key);
  if (body.byteLength > MAX_VALUE_BYTES) throw new BadRequestError(`Value exceeds ${MAX_VALUE_BYTES} byte limit`);
  const present = ['cas', 'acquire', 'release'].filter((p) => q.has(p));
  if (present.length > 1) throw new BadRequestError(`Conflicting flags: ${present.join(', ')} cannot be combined`);
  const base = { Key: key, Value: encodeBase64(body), Flags: flagsNumber(q.get('flags')) };
  const cas = q.get('cas');
  const acquire = q.get('acquire');
  const release = q.get('release');
  if (acquire === '' || release === '') throw new BadRequestError('Invalid session: missing session ID');
  const op =
    cas !== null
      ? { Verb: 'cas', Index: uintParam(cas, 'cas index'), ...base }
      : acquire !== null
        ? { Verb: 'lock', Session: acquire, ...base }
        : release !== null
          ? { Verb: 'unlock', Session: release, ...base }
          : { Verb: 'set', ...base };
  return { txn: [{ KV: op }], answer: 'bool' };
}

/**
 * The durable outbox: writes accepted while the upstream is unreachable, kept through unstorage
 * (they survive a restart) and replayed in order, each as a transaction with its own idempotency
 * key so the server applies it exactly once even when a reply is lost and the replay repeated.
 * Every outcome — applied, a failed condition such as cas, or a refusal — is kept on the item
 * and logged; an item leaves `pending` only with a server answer.
 */
export class Outbox {
  private items: OutboxItem[] = [];
  private nextSeq = 1;
  private replaying: Promise<void> | undefined;
  private readonly queued: CounterMetric;
  private readonly replays: CounterMetric;

  constructor(
    private readonly o: {
      persist: EdgePersistence;
      logger: Logger;
      clock: Clock;
      rng: Rng;
      /** Most pending items; beyond it new writes get 503. */
      max: number;
      /** The agent's id, part of every idempotency key. */
      agentId: string;
      upstream: UpstreamTxn;
      /** Told the index of every answer that carries one (the servers are at least there). */
      sawIndex?: (index: number) => void;
      /** Where the queued and replayed writes are counted (default: nowhere). */
      metrics?: Metrics;
    },
  ) {
    const metrics = o.metrics ?? NO_METRICS;
    this.queued = metrics.counter('konsul_edge_outbox_queued_total', 'Writes queued in the outbox while offline');
    this.replays = metrics.counter(
      'konsul_edge_outbox_replays_total',
      'Outbox replay attempts, by outcome (applied; conflict: a condition failed; failed: refused; ' +
        'unavailable: no answer, 5xx or 429)',
      ['outcome'],
    );
    // Every outcome's series exists from the start, so rate() over it works before the first replay.
    for (const outcome of ['applied', 'conflict', 'failed', 'unavailable']) this.replays.inc({ outcome }, 0);
  }

  /** Loads persisted items (call once before use). */
  async load(): Promise<void> {
    this.items = (await this.o.persist.loadOutbox()) as OutboxItem[];
    this.nextSeq = (this.items.at(-1)?.seq ?? 0) + 1;
  }

  /** Items waiting for the upstream. */
  get pending(): number {
    return this.items.filter((i) => i.status === 'pending').length;
  }

  /** Every kept item, oldest first. */
  list(): readonly OutboxItem[] {
    return this.items;
  }

  get(id: string): OutboxItem | undefined {
    return this.items.find((i) => i.id === id);
  }

  /**
   * Queues a translated write durably and returns its item (`writer`: who wrote it and the grant
   * it replays under, with ACLs on). Throws OverloadedError when `max` items are pending.
   */
  async enqueue(
    method: string,
    path: string,
    w: { txn: unknown[]; answer: 'bool' | 'txn' },
    writer?: OutboxItem['writer'],
  ): Promise<OutboxItem> {
    if (this.pending >= this.o.max)
      throw new OverloadedError(`outbox full: ${this.o.max} writes are waiting for the upstream`, 5);
    const item: OutboxItem = {
      id: randomUuid(this.o.rng),
      seq: this.nextSeq++,
      createdAt: this.o.clock.now(),
      method,
      path,
      txn: w.txn,
      answer: w.answer,
      ...(writer ? { writer } : {}),
      status: 'pending',
      attempts: 0,
    };
    await this.o.persist.putOutbox(item.seq, item);
    this.items.push(item);
    this.queued.inc();
    this.o.logger.info('write queued while offline', { outbox_id: item.id, method, path });
    return item;
  }

  /**
   * Replays pending items in order until one cannot reach the upstream (then stops; call again
   * later). Single-flight: concurrent calls share one run.
   */
  replay(): Promise<void> {
    this.replaying ??= this.replayAll().finally(() => (this.replaying = undefined));
    return this.replaying;
  }

  private async replayAll(): Promise<void> {
    for (const item of this.items) {
      if (item.status !== 'pending') continue;
      item.attempts++;
      let answer: Awaited<ReturnType<UpstreamTxn>>;
      try {
        answer = await this.o.upstream(
          JSON.stringify(item.txn),
          `edge.${this.o.agentId}.${item.id}`,
          item.writer?.grant,
        );
      } catch {
        answer = undefined;
      }
      if (!answer || answer.status >= 500 || answer.status === 429) {
        this.replays.inc({ outcome: 'unavailable' });
        this.o.logger.debug('outbox replay paused: upstream unavailable', {
          outbox_id: item.id,
          status: answer?.status ?? 'unreachable',
        });
        return;
      }
      this.finish(item, answer);
      this.replays.inc({ outcome: item.status });
      await this.o.persist.putOutbox(item.seq, item);
    }
    await this.trim();
  }

  private finish(item: OutboxItem, a: { status: number; body: string; headers: Headers }): void {
    const replayedAt = a.headers.get('X-Konsul-Idempotent-Replay');
    const indexHeader = a.headers.get('X-Consul-Index');
    if (indexHeader) this.o.sawIndex?.(Number(indexHeader));
    const meta = {
      ...(replayedAt
        ? { replayed: true, index: Number(replayedAt) }
        : indexHeader
          ? { index: Number(indexHeader) }
          : {}),
    };
    item.finishedAt = this.o.clock.now();
    // The servers answer a transaction the token may not do with 409 and "Permission denied" errors
    // (as Consul): that is a refusal, as a direct write's 403 would be, not a failed condition.
    const denial = a.status === 409 ? permissionDenial(a.body) : undefined;
    if (denial !== undefined) a = { ...a, status: 403, body: denial };
    if (a.status === 200) {
      item.status = 'applied';
      item.result = { status: 200, body: item.answer === 'bool' ? 'true' : a.body, ...meta };
      this.o.logger.info('queued write applied', { outbox_id: item.id, path: item.path, ...meta });
    } else if (a.status === 409) {
      item.status = 'conflict';
      item.result = {
        status: item.answer === 'bool' ? 200 : 409,
        body: item.answer === 'bool' ? 'false' : a.body,
        ...meta,
      };
      this.o.logger.warn('queued write not applied: a condition failed', {
        outbox_id: item.id,
        path: item.path,
        answer: a.body.slice(0, 512),
      });
    } else {
      item.status = 'failed';
      item.result = { status: a.status, body: a.body.slice(0, 4096) };
      this.o.logger.warn('queued write refused by the server', {
        outbox_id: item.id,
        path: item.path,
        ...(item.writer ? { writer: item.writer.accessor } : {}),
        status: a.status,
        answer: a.body.slice(0, 512),
      });
    }
  }

  /** Forgets all but the newest KEEP_FINISHED finished items. */
  private async trim(): Promise<void> {
    const finished = this.items.filter((i) => i.status !== 'pending');
    const drop = finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED));
    if (drop.length === 0) return;
    const gone = new Set(drop.map((i) => i.seq));
    this.items = this.items.filter((i) => !gone.has(i.seq));
    for (const seq of gone) await this.o.persist.removeOutbox(seq);
  }
}

/** The first error of a 409 transaction answer when its errors are all ACL denials, else undefined. */
function permissionDenial(body: string): string | undefined {
  try {
    const errors = (JSON.parse(body) as { Errors?: Array<{ What?: unknown }> | null }).Errors;
    if (!Array.isArray(errors) || errors.length === 0) return undefined;
    const whats = errors.map((e) => (typeof e?.What === 'string' ? e.What : ''));
    return whats.every((w) => w.startsWith('Permission denied')) ? whats[0] : undefined;
  } catch {
    return undefined;
  }
}
