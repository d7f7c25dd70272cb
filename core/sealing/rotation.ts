import { KonsulError } from '../errors.js';
import { type KvResealCommand, MAX_RESEAL_ITEMS, type ResealItem, sealedKeyUsage } from '../kv/sealed.js';
import { KV_TABLE, type KvRecord } from '../kv/types.js';
import type { Clock, TimerHandle } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Writer } from '../pipeline/writer.js';
import { sealedKeyId } from '../secrets/envelope.js';
import type { Secrets, StoreRead } from './secrets.js';

/** Bounds and pace of the rotation job; all positive integers. */
export interface RotationOptions {
  /** Values per `kv.reseal` command (at most MAX_RESEAL_ITEMS). */
  readonly batchItems: number;
  /** Plaintext bytes per command (the command stays far below MAX_COMMAND_BYTES). */
  readonly batchBytes: number;
  /** How often the leader looks for values under a key other than the primary (ms). */
  readonly pollMs: number;
}

/** Defaults: 256 values or 1 MiB per command, a look every second. */
export const DEFAULT_ROTATION_OPTIONS: RotationOptions = { batchItems: 256, batchBytes: 1024 * 1024, pollMs: 1000 };

/** What GET /v1/operator/secrets/rotation shows of the job (the leader's). */
export interface RotationStatus {
  /** The key new values are sealed with. */
  readonly Primary: string;
  /** Values sealed with each key id (replicated counts). */
  readonly Keys: Readonly<Record<string, number>>;
  /** Values still sealed with another key than the primary. */
  readonly Remaining: number;
  /** Whether a pass is running now. */
  readonly Running: boolean;
  /** Passes finished since this server became leader (or started). */
  readonly Passes: number;
  /** Values re-sealed by this leader's passes. */
  readonly Resealed: number;
  /** Plaintext values under encrypted prefixes sealed by explicitly requested passes. */
  readonly Sealed: number;
  /** Values per second of the last finished pass that moved any (0 before one). */
  readonly LastPassValuesPerSecond: number;
  /** The last failure of a pass ('' when none); names keys by id only. */
  readonly LastError: string;
}

/** What the job needs: the state, where to propose, the keys, time, and whether this server leads. */
export interface RotationDeps {
  readonly read: StoreRead;
  /** Proposes the `kv.reseal` batches (the plain write pipeline: they are sealed already). */
  readonly writer: Writer;
  readonly secrets: Secrets;
  readonly clock: Clock;
  readonly isLeader: () => boolean;
  readonly logger: Logger;
}

interface Candidate {
  readonly key: string;
  readonly rec: KvRecord;
  readonly from: string;
}

/**
 * The leader's background re-encryption (docs/SECRETS.md): every `pollMs` it compares the
 * replicated per-key counts with the primary, and while values are sealed with another key it
 * walks the KV table in key order, opening each such value and sealing it with the primary, and
 * proposes them in `kv.reseal` batches (each item applies only if the entry did not change since
 * it was read, so concurrent writes win and nothing is lost). A pass requested with
 * `requestPass(true)` also seals plaintext values under the encrypted prefixes (values written
 * before encryption was turned on, or restored from a plaintext snapshot). Only one pass runs at
 * a time; a server that stops leading stops after its current batch.
 */
export class SecretsRotation {
  private timer: TimerHandle | undefined;
  private running = false;
  private stopped = false;
  private sealPlaintext = false;
  private passes = 0;
  private resealed = 0;
  private sealed = 0;
  private lastRate = 0;
  private lastError = '';

  constructor(
    private readonly deps: RotationDeps,
    private readonly options: RotationOptions = DEFAULT_ROTATION_OPTIONS,
  ) {
    if (options.batchItems < 1 || options.batchItems > MAX_RESEAL_ITEMS)
      throw new RangeError('batchItems out of range');
  }

  /** Starts polling. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops polling; a running pass ends after its current batch. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Asks for a pass now (on the leader); with `sealPlaintext`, plaintext values under the prefixes are sealed too. */
  requestPass(sealPlaintext: boolean): void {
    if (sealPlaintext) this.sealPlaintext = true;
    if (!this.running) this.schedule(0);
  }

  /** The job's state and the replicated counts. */
  status(): RotationStatus {
    const usage = this.deps.read(sealedKeyUsage);
    const primary = this.deps.secrets.primary() ?? '';
    let remaining = 0;
    for (const [id, n] of usage) if (id !== primary) remaining += n;
    return {
      Primary: primary,
      Keys: Object.fromEntries(usage),
      Remaining: remaining,
      Running: this.running,
      Passes: this.passes,
      Resealed: this.resealed,
      Sealed: this.sealed,
      LastPassValuesPerSecond: this.lastRate,
      LastError: this.lastError,
    };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
    this.timer = this.deps.clock.setTimer(() => {
      this.timer = undefined;
      void this.tick();
    }, ms);
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    try {
      if (this.deps.isLeader() && this.deps.secrets.keyring !== undefined) {
        if (this.sealPlaintext || this.status().Remaining > 0) await this.pass();
      }
    } finally {
      this.schedule(this.options.pollMs);
    }
  }

  /** One walk over the KV table. */
  private async pass(): Promise<void> {
    this.running = true;
    const sealPlaintext = this.sealPlaintext;
    this.sealPlaintext = false;
    const started = this.deps.clock.now();
    let moved = 0;
    try {
      let after: string | undefined;
      for (;;) {
        if (this.stopped || !this.deps.isLeader()) return;
        const primary = this.deps.secrets.primary();
        if (primary === undefined) return;
        const { batch, next } = this.deps.read((tx) => this.scan(tx, after, primary, sealPlaintext));
        if (batch.length > 0) {
          const items: ResealItem[] = [];
          for (const c of batch) {
            const plain = await this.deps.secrets.open(c.key, c.rec.value);
            items.push({
              key: c.key,
              modifyIndex: c.rec.modifyIndex,
              from: c.from,
              value: await this.deps.secrets.seal(c.key, plain),
            });
          }
          const command: KvResealCommand = { type: 'kv.reseal', items };
          const { value: done } = await this.deps.writer.submit<number>(command);
          moved += done;
          const plaintext = items.filter((i) => i.from === '').length;
          this.sealed += Math.min(done, plaintext);
          this.resealed += done - Math.min(done, plaintext);
        }
        if (next === undefined) break;
        after = next;
      }
      this.passes++;
      this.lastError = '';
      const seconds = (this.deps.clock.now() - started) / 1000;
      if (moved > 0) this.lastRate = Math.round(moved / Math.max(seconds, 0.001));
      this.deps.logger.info('secrets rotation pass finished', { moved, ms: Math.round(seconds * 1000) });
    } catch (err) {
      // Messages of Konsul errors name keys by id only; anything else is described by its kind.
      this.lastError = err instanceof KonsulError ? err.message : 'internal error';
      this.deps.logger.warn('secrets rotation pass failed', { error: this.lastError });
    } finally {
      this.running = false;
    }
  }

  /**
   * The next batch after key `after`: values sealed with another key than `primary` (and, with
   * `sealPlaintext`, plaintext values under the encrypted prefixes), at most batchItems of them and
   * about batchBytes. `next` is where the following scan starts (undefined: the table is done).
   */
  private scan(
    tx: Parameters<Parameters<StoreRead>[0]>[0],
    after: string | undefined,
    primary: string,
    sealPlaintext: boolean,
  ): { batch: Candidate[]; next: string | undefined } {
    const batch: Candidate[] = [];
    let bytes = 0;
    let scanned = 0;
    const start = after === undefined ? undefined : `${after}\u0000`;
    for (const [key, rec] of tx.range<KvRecord>(KV_TABLE, start === undefined ? {} : { start })) {
      scanned++;
      const id = sealedKeyId(rec.value);
      const stale = id !== undefined ? id !== primary : sealPlaintext && this.deps.secrets.sealsWrite(key, rec.value);
      if (stale) {
        batch.push({ key, rec, from: id ?? '' });
        bytes += rec.value.byteLength;
      }
      // Stop at a full batch, or after a long stretch of values already under the primary.
      if (batch.length >= this.options.batchItems || bytes >= this.options.batchBytes || scanned >= 16_384)
        return { batch, next: key };
    }
    return { batch, next: undefined };
  }
}
