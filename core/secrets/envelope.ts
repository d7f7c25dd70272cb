/**
 * The at-rest envelope of an encrypted KV value (docs/SECRETS.md). Layout, all binary:
 *
 *   magic "\0kse" (4) | version 1 (1) | key id (8) | nonce (12) | AES-256-GCM ciphertext + tag (>= 16)
 *
 * The first 13 bytes (magic, version, key id) and the KV key's UTF-8 bytes are the associated
 * data, so a ciphertext cannot be moved to another KV key nor relabelled with another key id.
 * This file only reads and writes the layout; the cryptography is in keyring.ts.
 */

/** The envelope's first bytes. A value starting with them is taken for an envelope. */
export const ENVELOPE_MAGIC: readonly number[] = [0x00, 0x6b, 0x73, 0x65];
/** The only envelope version written and read. */
export const ENVELOPE_VERSION = 1;
/** Bytes of a key id (shown as 16 hex digits). */
export const KEY_ID_BYTES = 8;
/** Bytes of an AES-GCM nonce. */
export const NONCE_BYTES = 12;
/** Bytes of the AES-GCM tag at the end of the ciphertext. */
export const TAG_BYTES = 16;
/** Bytes before the nonce: magic, version, key id (also the first part of the associated data). */
export const HEADER_BYTES = ENVELOPE_MAGIC.length + 1 + KEY_ID_BYTES;
/** Bytes an envelope adds to its plaintext. */
export const ENVELOPE_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;

const HEX = '0123456789abcdef';

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += (HEX[b >> 4] as string) + (HEX[b & 15] as string);
  return out;
}

/** A key id as 16 lowercase hex digits, or undefined when `text` is not one. */
export function parseKeyId(text: string): string | undefined {
  return /^[0-9a-f]{16}$/.test(text) ? text : undefined;
}

/** Whether `value` starts with the envelope magic and version (it may still fail to decrypt). */
export function looksSealed(value: Uint8Array): boolean {
  if (value.byteLength < ENVELOPE_OVERHEAD) return false;
  for (let i = 0; i < ENVELOPE_MAGIC.length; i++) if (value[i] !== ENVELOPE_MAGIC[i]) return false;
  return value[ENVELOPE_MAGIC.length] === ENVELOPE_VERSION;
}

/**
 * The key id (16 hex digits) of an envelope, or undefined when `value` is not one (plaintext).
 * Pure and cheap: the state machine counts values per key id with it.
 */
export function sealedKeyId(value: Uint8Array): string | undefined {
  if (!looksSealed(value)) return undefined;
  return toHex(value.subarray(ENVELOPE_MAGIC.length + 1, HEADER_BYTES));
}

/** The parts of an envelope (views into `value`); undefined when it is not one. */
export interface EnvelopeParts {
  readonly keyId: string;
  /** Magic, version and key id: the first part of the associated data. */
  readonly header: Uint8Array;
  readonly nonce: Uint8Array;
  /** Ciphertext followed by the 16-byte tag. */
  readonly sealed: Uint8Array;
}

/** Splits an envelope into its parts, or undefined when `value` is not one. */
export function splitEnvelope(value: Uint8Array): EnvelopeParts | undefined {
  const keyId = sealedKeyId(value);
  if (keyId === undefined) return undefined;
  return {
    keyId,
    header: value.subarray(0, HEADER_BYTES),
    nonce: value.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES),
    sealed: value.subarray(HEADER_BYTES + NONCE_BYTES),
  };
}

/** The header of an envelope under key `keyIdBytes` (8 bytes). */
export function envelopeHeader(keyIdBytes: Uint8Array): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h.set(ENVELOPE_MAGIC, 0);
  h[ENVELOPE_MAGIC.length] = ENVELOPE_VERSION;
  h.set(keyIdBytes.subarray(0, KEY_ID_BYTES), ENVELOPE_MAGIC.length + 1);
  return h;
}

/** Header, nonce and ciphertext+tag joined into one envelope. */
export function joinEnvelope(header: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.byteLength + nonce.byteLength + sealed.byteLength);
  out.set(header, 0);
  out.set(nonce, header.byteLength);
  out.set(sealed, header.byteLength + nonce.byteLength);
  return out;
}
