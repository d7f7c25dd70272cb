const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const PAIRS: string[] = [];
for (let i = 0; i < 4096; i++) PAIRS.push((ALPHABET[i >> 6] as string) + (ALPHABET[i & 63] as string));

/** Standard (RFC 4648, padded) base64 of `bytes`, without any runtime API. */
export function encodeBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  const n = bytes.length - (bytes.length % 3);
  for (let i = 0; i < n; i += 3) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    chunk += (PAIRS[v >> 12] as string) + (PAIRS[v & 4095] as string);
    if (chunk.length >= 16384) {
      parts.push(chunk);
      chunk = '';
    }
  }
  const rest = bytes.length - n;
  if (rest === 1) {
    const v = (bytes[n] as number) << 16;
    chunk += (PAIRS[v >> 12] as string) + '==';
  } else if (rest === 2) {
    const v = ((bytes[n] as number) << 16) | ((bytes[n + 1] as number) << 8);
    chunk += (PAIRS[v >> 12] as string) + (ALPHABET[(v >> 6) & 63] as string) + '=';
  }
  parts.push(chunk);
  return parts.join('');
}

const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/**
 * Decodes standard padded base64 (what Go's encoding/json produces and accepts for []byte).
 * Returns undefined for anything else: wrong length, bad characters, misplaced padding.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      if (c === 61 /* = */ && last && j >= 4 - pad) {
        v <<= 6;
        continue;
      }
      const d = c < 128 ? (DECODE[c] as number) : -1;
      if (d < 0) return undefined;
      v = (v << 6) | d;
    }
    out[o++] = (v >> 16) & 255;
    if (o < out.length) out[o++] = (v >> 8) & 255;
    if (o < out.length) out[o++] = v & 255;
  }
  return out;
}
