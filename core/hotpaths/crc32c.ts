// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slice-by-8, in TypeScript.

const TABLES = new Int32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  TABLES[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = TABLES[n] as number;
  for (let t = 1; t < 8; t++) {
    c = (TABLES[c & 0xff] as number) ^ (c >>> 8);
    TABLES[t * 256 + n] = c;
  }
}

/** CRC32C of `data`, continuing from `seed` (0 to start). Unsigned 32-bit result. */
export function crc32cTs(data: Uint8Array, seed = 0): number {
  const T = TABLES;
  let c = ~seed;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  for (; i < end8; i += 8) {
    const lo =
      (c ^
        ((data[i] as number) |
          ((data[i + 1] as number) << 8) |
          ((data[i + 2] as number) << 16) |
          ((data[i + 3] as number) << 24))) >>>
      0;
    c =
      (T[1792 + (lo & 0xff)] as number) ^
      (T[1536 + ((lo >>> 8) & 0xff)] as number) ^
      (T[1280 + ((lo >>> 16) & 0xff)] as number) ^
      (T[1024 + (lo >>> 24)] as number) ^
      (T[768 + (data[i + 4] as number)] as number) ^
      (T[512 + (data[i + 5] as number)] as number) ^
      (T[256 + (data[i + 6] as number)] as number) ^
      (T[data[i + 7] as number] as number);
  }
  for (; i < n; i++) c = (T[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
