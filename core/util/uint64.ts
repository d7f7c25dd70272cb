/** Largest unsigned 64-bit integer. */
export const MAX_UINT64 = 18446744073709551615n;

/** Parses a decimal unsigned 64-bit integer (digits only, at most 2^64-1); undefined otherwise. */
export function parseUint64(text: string): bigint | undefined {
  if (!/^[0-9]{1,20}$/.test(text)) return undefined;
  const n = BigInt(text);
  return n > MAX_UINT64 ? undefined : n;
}
