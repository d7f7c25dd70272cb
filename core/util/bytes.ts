/**
 * `parts` joined in order into one new array; a single part is returned as it is (not copied),
 * and no part an empty array.
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * A copy of `b` in an ArrayBuffer of its own. (A Node Buffer's `slice()` is a view sharing the
 * whole buffer it came from; keeping such a view keeps all of that buffer alive.)
 */
export function copyBytes(b: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(b);
}
