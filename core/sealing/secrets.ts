import { MissingKeyError } from '../errors.js';
import { replicatedPrimary } from '../kv/sealed.js';
import type { ReadTxn } from '../ports/state-store.js';
import { looksSealed, sealedKeyId } from '../secrets/envelope.js';
import type { Keyring } from '../secrets/keyring.js';

/** Reads through a store's consistent view (a StateStore's `read`). */
export type StoreRead = <T>(run: (tx: ReadTxn) => T) => T;

/**
 * Which values a node keeps encrypted and the keys it holds (docs/SECRETS.md). Servers seal the
 * values of KV keys under `prefixes` (every key when the list is empty) with the primary key
 * before proposing them; servers and edge agents open sealed values just before answering an
 * authorised read. The keyring may be replaced (a key installed or removed) while it serves.
 */
export class Secrets {
  private ring: Keyring | undefined;

  /**
   * `keyring`: this node's keys (undefined: none; sealed values are then answered 503).
   * `prefixes`: the encrypted KV prefixes ([]: all keys). `read`: the replicated state, where the
   * primary chosen by `keyring use` is (absent on edge agents, which never seal).
   */
  constructor(
    keyring: Keyring | undefined,
    readonly prefixes: readonly string[],
    private readonly read?: StoreRead,
  ) {
    this.ring = keyring;
  }

  /** This node's keyring, if it has one. */
  get keyring(): Keyring | undefined {
    return this.ring;
  }

  /** Replaces the keyring (after a key was installed or removed on this node). */
  replaceKeyring(keyring: Keyring): void {
    this.ring = keyring;
  }

  /**
   * Whether a value written at `key` is to be sealed: a keyring is configured and the key is under
   * an encrypted prefix, or the value itself looks like an envelope (so no client can store bytes
   * that would later be taken for one).
   */
  sealsWrite(key: string, value: Uint8Array): boolean {
    if (this.ring === undefined || value.byteLength === 0) return false;
    if (this.prefixes.length === 0 || looksSealed(value)) return true;
    return this.prefixes.some((p) => key.startsWith(p));
  }

  /** Whether `key` is under an encrypted prefix (keyring configured). */
  coversKey(key: string): boolean {
    return this.ring !== undefined && (this.prefixes.length === 0 || this.prefixes.some((p) => key.startsWith(p)));
  }

  /**
   * The key new values are sealed with: the replicated choice of `keyring use`, else the key file's
   * primary. Undefined without a keyring.
   */
  primary(): string | undefined {
    if (this.ring === undefined) return undefined;
    return (this.read ? this.read(replicatedPrimary) : undefined) ?? this.ring.filePrimary;
  }

  /** Seals `value` for KV key `key` with the primary. MissingKeyError when this node lacks it. */
  async seal(key: string, value: Uint8Array): Promise<Uint8Array> {
    const ring = this.ring;
    const primary = this.primary();
    if (ring === undefined || primary === undefined) throw new MissingKeyError('', 'no keyring configured');
    return ring.seal(key, value, primary);
  }

  /**
   * Opens one stored value of KV key `key`: plaintext as is, an envelope decrypted. MissingKeyError
   * (503) when this node lacks its key; CorruptError when it fails authentication.
   */
  async open(key: string, value: Uint8Array): Promise<Uint8Array> {
    const id = sealedKeyId(value);
    if (id === undefined) return value;
    if (this.ring === undefined)
      throw new MissingKeyError(
        id,
        `value of key ${JSON.stringify(key)} is encrypted with key ${id} and this node has no keyring ` +
          '(--encrypt-key-file)',
      );
    return this.ring.open(key, value);
  }

  /**
   * Entries with their values opened (see open), in the same order; the same array when none is
   * sealed. The one place read answers decrypt: KV reads, transaction results, watch streams.
   */
  async openEntries<E extends { readonly key: string; readonly value: Uint8Array }>(
    entries: readonly E[],
  ): Promise<E[]> {
    if (!entries.some((e) => looksSealed(e.value))) return entries as E[];
    return Promise.all(
      entries.map(async (e) => (looksSealed(e.value) ? { ...e, value: await this.open(e.key, e.value) } : e)),
    );
  }
}
