import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ConfigError, CorruptError, MissingKeyError } from '../errors.js';
import { decodeBase64, encodeBase64 } from '../util/base64.js';
import {
  envelopeHeader,
  joinEnvelope,
  KEY_ID_BYTES,
  NONCE_BYTES,
  splitEnvelope,
  TAG_BYTES,
  toHex,
} from './envelope.js';

/** Bytes of a data key (AES-256). */
export const KEY_BYTES = 32;
/** Most keys a key file may hold. */
export const MAX_KEYRING_KEYS = 16;
/** Largest key file read (bytes). */
export const MAX_KEY_FILE_BYTES = 16 * 1024;

const encoder = new TextEncoder();
const ID_LABEL = encoder.encode('konsul-secrets-key-id\u0000');
const HKDF_SALT = encoder.encode('konsul-secrets-v1');
const NONCE_INFO = encoder.encode('nonce');
const AES_INFO = encoder.encode('aes-256-gcm');

/** The id of a 32-byte key: the first 8 bytes of SHA-256(label ‖ key), as 16 hex digits. Reveals nothing of the key. */
export function keyIdOf(material: Uint8Array): string {
  const label = new Uint8Array(ID_LABEL.byteLength + material.byteLength);
  label.set(ID_LABEL, 0);
  label.set(material, ID_LABEL.byteLength);
  return toHex(sha256(label).subarray(0, KEY_ID_BYTES));
}

/**
 * A key file's content: `keys` (1..16 distinct 32-byte keys) and the index of the primary among
 * them (the key new values are sealed with until the cluster switches with `keyring use`).
 */
export interface KeyFile {
  readonly keys: readonly Uint8Array[];
  readonly primary: number;
}

/** Decodes one base64 key; ConfigError naming `where` (never the text) when it is not 32 bytes. */
export function parseKeyMaterial(text: unknown, where: string): Uint8Array {
  const bytes = typeof text === 'string' ? decodeBase64(text.trim()) : undefined;
  if (!bytes || bytes.byteLength !== KEY_BYTES)
    throw new ConfigError(`${where} is not a key: expected ${KEY_BYTES} bytes in padded base64 (konsul keygen)`);
  return bytes;
}

/**
 * Parses a key file: JSON `{"keys": ["<base64>", ...], "primary": "<base64 of one of them>"}`,
 * nothing else. Throws ConfigError naming what is wrong; messages never quote key material.
 */
export function parseKeyFile(text: string): KeyFile {
  if (text.length > MAX_KEY_FILE_BYTES) throw new ConfigError(`key file is larger than ${MAX_KEY_FILE_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ConfigError('key file is not JSON');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError('key file must be a JSON object with "keys" and "primary"');
  const obj = doc as Record<string, unknown>;
  const extra = Object.keys(obj).filter((k) => k !== 'keys' && k !== 'primary');
  if (extra.length > 0) throw new ConfigError(`key file has unknown field ${JSON.stringify(extra[0])}`);
  if (!Array.isArray(obj['keys']) || obj['keys'].length === 0)
    throw new ConfigError('key file needs "keys": a non-empty array of base64 keys');
  if (obj['keys'].length > MAX_KEYRING_KEYS) throw new ConfigError(`key file holds more than ${MAX_KEYRING_KEYS} keys`);
  const keys = obj['keys'].map((k, i) => parseKeyMaterial(k, `key file keys[${i}]`));
  const ids = keys.map(keyIdOf);
  const dup = ids.findIndex((id, i) => ids.indexOf(id) !== i);
  if (dup >= 0) throw new ConfigError(`key file lists key ${ids[dup]} twice`);
  const primaryId = keyIdOf(parseKeyMaterial(obj['primary'], 'key file "primary"'));
  const primary = ids.indexOf(primaryId);
  if (primary < 0) throw new ConfigError('key file "primary" is not one of its "keys"');
  return { keys, primary };
}

/** The JSON text of a key file (parseKeyFile reads it back). */
export function formatKeyFile(file: KeyFile): string {
  const keys = file.keys.map((k) => encodeBase64(k));
  return `${JSON.stringify({ keys, primary: keys[file.primary] }, null, 2)}\n`;
}

interface LoadedKey {
  readonly idBytes: Uint8Array;
  readonly aes: CryptoKey;
  readonly nonceKey: Uint8Array;
}

function bytesOf(view: Uint8Array): Uint8Array<ArrayBuffer> {
  return view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength
    ? (view as Uint8Array<ArrayBuffer>)
    : new Uint8Array(view);
}

/** Associated data of a value: the envelope header and the KV key's UTF-8 bytes. */
function associatedData(header: Uint8Array, kvKey: string): Uint8Array<ArrayBuffer> {
  const name = encoder.encode(kvKey);
  const ad = new Uint8Array(header.byteLength + name.byteLength);
  ad.set(header, 0);
  ad.set(name, header.byteLength);
  return ad;
}

/**
 * The keys of one node, loaded for AES-256-GCM through WebCrypto (`subtle`, given by the
 * composition root). Sealing is deterministic: the nonce is HMAC-SHA256 under a key derived from
 * the data key (HKDF) over the associated data and the plaintext (a synthetic IV, as in SIV), so
 * writing the same value to the same key under the same data key gives the same bytes (Consul's
 * "an identical write changes nothing" holds) and no randomness is needed. Key material never
 * leaves this object; errors name keys by id.
 */
export class Keyring {
  private constructor(
    private readonly subtle: SubtleCrypto,
    private readonly byId: ReadonlyMap<string, LoadedKey>,
    /** Ids of the keys, in key file order. */
    readonly ids: readonly string[],
    /** Id of the key file's primary. */
    readonly filePrimary: string,
  ) {}

  /** Loads the keys of `file`. Rejects only if WebCrypto refuses a key (it does not for 32 bytes). */
  static async load(subtle: SubtleCrypto, file: KeyFile): Promise<Keyring> {
    const byId = new Map<string, LoadedKey>();
    const ids: string[] = [];
    for (const material of file.keys) {
      const id = keyIdOf(material);
      const aesBytes = hkdf(sha256, material, HKDF_SALT, AES_INFO, KEY_BYTES);
      const aes = await subtle.importKey('raw', bytesOf(aesBytes), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
      aesBytes.fill(0);
      const idBytes = new Uint8Array(KEY_ID_BYTES);
      for (let i = 0; i < KEY_ID_BYTES; i++) idBytes[i] = parseInt(id.slice(i * 2, i * 2 + 2), 16);
      byId.set(id, { idBytes, aes, nonceKey: hkdf(sha256, material, HKDF_SALT, NONCE_INFO, KEY_BYTES) });
      ids.push(id);
    }
    return new Keyring(subtle, byId, ids, keyIdOf(file.keys[file.primary] as Uint8Array));
  }

  /** Whether key `id` is in this keyring. */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  /**
   * Seals `plaintext` stored at KV key `kvKey` under key `keyId`. MissingKeyError when this
   * keyring lacks that key.
   */
  async seal(kvKey: string, plaintext: Uint8Array, keyId: string): Promise<Uint8Array> {
    const key = this.byId.get(keyId);
    if (!key)
      throw new MissingKeyError(keyId, `the keyring lacks key ${keyId}, the primary: install it (--encrypt-key-file)`);
    const header = envelopeHeader(key.idBytes);
    const ad = associatedData(header, kvKey);
    const mac = hmac.create(sha256, key.nonceKey);
    mac.update(ad);
    mac.update(plaintext);
    const nonce = mac.digest().subarray(0, NONCE_BYTES);
    const sealed = await this.subtle.encrypt(
      { name: 'AES-GCM', iv: bytesOf(nonce), additionalData: ad, tagLength: TAG_BYTES * 8 },
      key.aes,
      bytesOf(plaintext),
    );
    return joinEnvelope(header, nonce, new Uint8Array(sealed));
  }

  /**
   * Opens an envelope stored at KV key `kvKey`. MissingKeyError when this keyring lacks its key;
   * CorruptError when it fails authentication (tampered, or moved from another KV key).
   * `value` must be an envelope (sealedKeyId defined).
   */
  async open(kvKey: string, value: Uint8Array): Promise<Uint8Array> {
    const parts = splitEnvelope(value);
    if (!parts) throw new CorruptError(`value of key ${JSON.stringify(kvKey)} is not an encrypted envelope`);
    const key = this.byId.get(parts.keyId);
    if (!key)
      throw new MissingKeyError(
        parts.keyId,
        `value of key ${JSON.stringify(kvKey)} is encrypted with key ${parts.keyId}, which this keyring lacks`,
      );
    try {
      const plain = await this.subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: bytesOf(parts.nonce),
          additionalData: associatedData(parts.header, kvKey),
          tagLength: TAG_BYTES * 8,
        },
        key.aes,
        bytesOf(parts.sealed),
      );
      return new Uint8Array(plain);
    } catch {
      throw new CorruptError(`encrypted value of key ${JSON.stringify(kvKey)} failed authentication`);
    }
  }
}
