// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slice-by-8.

const TABLE: usize = memory.data(8 * 256 * 4);

function initTables(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    store<u32>(TABLE + (n << 2), c);
  }
  for (let n: u32 = 0; n < 256; n++) {
    let c = load<u32>(TABLE + (n << 2));
    for (let t: u32 = 1; t < 8; t++) {
      c = load<u32>(TABLE + ((c & 0xff) << 2)) ^ (c >>> 8);
      store<u32>(TABLE + (t << 10) + (n << 2), c);
    }
  }
}
initTables();

@inline function t(table: u32, i: u32): u32 {
  return load<u32>(TABLE + (table << 10) + ((i & 0xff) << 2));
}

/** CRC32C of `len` bytes at `ptr`, continuing from `crc` (0 to start). */
export function crc32c(ptr: usize, len: usize, crc: u32): u32 {
  let c = ~crc;
  let p = ptr;
  const end = ptr + len;
  while (p < end && (p & 7) != 0) {
    c = t(0, c ^ load<u8>(p)) ^ (c >>> 8);
    p++;
  }
  while (p + 8 <= end) {
    const lo = load<u32>(p) ^ c;
    const hi = load<u32>(p, 4);
    c =
      t(7, lo) ^ t(6, lo >>> 8) ^ t(5, lo >>> 16) ^ t(4, lo >>> 24) ^
      t(3, hi) ^ t(2, hi >>> 8) ^ t(1, hi >>> 16) ^ t(0, hi >>> 24);
    p += 8;
  }
  while (p < end) {
    c = t(0, c ^ load<u8>(p)) ^ (c >>> 8);
    p++;
  }
  return ~c;
}
