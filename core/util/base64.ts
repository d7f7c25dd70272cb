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
