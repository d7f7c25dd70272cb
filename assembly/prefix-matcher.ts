import { regrow } from './buffers';
// Matches a key against a set of registered prefixes: every prefix the key starts with.
// Prefixes live in an open-addressing hash table keyed by FNV-1a of their bytes; matching hashes
// the key incrementally, so each of its prefixes costs one lookup.

const FNV_OFFSET: u32 = 0x811c9dc5;
const FNV_PRIME: u32 = 0x01000193;

// Per id: pointer, length, hash (12 bytes). Live ids have non-zero pointers.
let items: usize = 0;
let itemCap: u32 = 0;
let nextItem: u32 = 0;
let freeItems: usize = 0;
let freeCount: u32 = 0;
let freeCap: u32 = 0;
// Table: per slot, id + 1 (0 = empty, 0xffffffff = tombstone).
let table: usize = 0;
let tableCap: u32 = 0;
let used: u32 = 0;
let live: u32 = 0;

// How many live prefixes have each byte length (u32 per length), to probe only lengths in use.
let lenCount: usize = 0;
let lenCap: u32 = 0;
let maxLen: u32 = 0;

const EMPTY: u32 = 0;
const GONE: u32 = 0xffffffff;

@inline function itemPtr(id: u32): usize {
  return load<u32>(items + <usize>id * 12);
}
@inline function itemLen(id: u32): u32 {
  return load<u32>(items + <usize>id * 12, 4);
}
@inline function itemHash(id: u32): u32 {
  return load<u32>(items + <usize>id * 12, 8);
}

function hashOf(ptr: usize, len: u32): u32 {
  let h = FNV_OFFSET;
  for (let i: u32 = 0; i < len; i++) h = (h ^ load<u8>(ptr + i)) * FNV_PRIME;
  return h;
}

function place(id: u32): void {
  const mask = tableCap - 1;
  let i = itemHash(id) & mask;
  while (true) {
    const v = load<u32>(table + (<usize>i << 2));
    if (v == EMPTY || v == GONE) {
      if (v == EMPTY) used++;
      store<u32>(table + (<usize>i << 2), id + 1);
      return;
    }
    i = (i + 1) & mask;
  }
}

function rehash(cap: u32): void {
  if (table != 0) heap.free(table);
  tableCap = cap;
  table = heap.alloc(<usize>cap << 2);
  memory.fill(table, 0, <usize>cap << 2);
  used = 0;
  for (let id: u32 = 0; id < nextItem; id++) if (itemPtr(id) != 0) place(id);
}

/** Registers a prefix; returns its id. The caller registers each distinct prefix once. */
export function pmAdd(ptr: usize, len: u32): u32 {
  // Grow the table first, so the new prefix is placed exactly once.
  if ((used + 1) * 2 > tableCap) rehash(tableCap == 0 ? 64 : (live + 1) * 4 > tableCap ? tableCap << 1 : tableCap);
  let id: u32;
  if (freeCount > 0) {
    freeCount--;
    id = load<u32>(freeItems + (<usize>freeCount << 2));
  } else {
    id = nextItem++;
    if (id >= itemCap) {
      itemCap = itemCap == 0 ? 256 : itemCap << 1;
      items = regrow(items, <usize>itemCap * 12);
    }
  }
  const copy = heap.alloc(len == 0 ? 1 : len);
  memory.copy(copy, ptr, len);
  store<u32>(items + <usize>id * 12, <u32>copy);
  store<u32>(items + <usize>id * 12, len, 4);
  store<u32>(items + <usize>id * 12, hashOf(ptr, len), 8);
  live++;
  if (len >= lenCap) {
    let cap = lenCap == 0 ? <u32>64 : lenCap;
    while (cap <= len) cap <<= 1;
    lenCount = regrow(lenCount, <usize>cap << 2);
    memory.fill(lenCount + (<usize>lenCap << 2), 0, <usize>(cap - lenCap) << 2);
    lenCap = cap;
  }
  store<u32>(lenCount + (<usize>len << 2), load<u32>(lenCount + (<usize>len << 2)) + 1);
  if (len > maxLen) maxLen = len;
  place(id);
  return id;
}

/** Unregisters a prefix by id. */
export function pmRemove(id: u32): void {
  const mask = tableCap - 1;
  let i = itemHash(id) & mask;
  while (true) {
    const v = load<u32>(table + (<usize>i << 2));
    if (v == EMPTY) break;
    if (v == id + 1) {
      store<u32>(table + (<usize>i << 2), GONE);
      break;
    }
    i = (i + 1) & mask;
  }
  heap.free(itemPtr(id));
  store<u32>(items + <usize>id * 12, 0);
  const len = itemLen(id);
  store<u32>(lenCount + (<usize>len << 2), load<u32>(lenCount + (<usize>len << 2)) - 1);
  live--;
  if (freeCount >= freeCap) {
    freeCap = freeCap == 0 ? 256 : freeCap << 1;
    freeItems = regrow(freeItems, <usize>freeCap << 2);
  }
  store<u32>(freeItems + (<usize>freeCount << 2), id);
  freeCount++;
}

@inline function probe(h: u32, kPtr: usize, len: u32, out: usize, n: u32, cap: u32): u32 {
  const mask = tableCap - 1;
  let i = h & mask;
  while (n < cap) {
    const v = load<u32>(table + (<usize>i << 2));
    if (v == EMPTY) break;
    if (v != GONE) {
      const id = v - 1;
      if (itemHash(id) == h && itemLen(id) == len && memory.compare(itemPtr(id), kPtr, len) == 0) {
        store<u32>(out + (<usize>n << 2), id);
        n++;
      }
    }
    i = (i + 1) & mask;
  }
  return n;
}

/** Writes the ids of registered prefixes of the key to `out` (at most `cap`); returns how many. */
export function pmMatch(kPtr: usize, kLen: u32, out: usize, cap: u32): u32 {
  if (live == 0) return 0;
  let h = FNV_OFFSET;
  let n: u32 = 0;
  if (load<u32>(lenCount) > 0) n = probe(h, kPtr, 0, out, 0, cap);
  const last = kLen < maxLen ? kLen : maxLen;
  for (let i: u32 = 0; i < last; i++) {
    h = (h ^ load<u8>(kPtr + i)) * FNV_PRIME;
    // Only lengths some prefix has are looked up.
    if (load<u32>(lenCount + (<usize>(i + 1) << 2)) > 0) n = probe(h, kPtr, i + 1, out, n, cap);
  }
  return n;
}

/**
 * Matches `count` keys laid out at `keys` as [u32 length][bytes] each (lengths padded to 4-byte
 * alignment). Writes (key number, prefix id) pairs to `out`, at most `cap` pairs; returns how many.
 */
export function pmMatchMany(keys: usize, count: u32, out: usize, cap: u32): u32 {
  let n: u32 = 0;
  let p = keys;
  for (let k: u32 = 0; k < count && n < cap; k++) {
    const len = load<u32>(p);
    const kPtr = p + 4;
    const before = n;
    // Reuse pmMatch, writing ids after the pairs written so far, then spread them into pairs.
    const found = pmMatch(kPtr, len, out + (<usize>n << 3), cap - n);
    for (let i: u32 = found; i > 0; i--) {
      const id = load<u32>(out + (<usize>before << 3) + (<usize>(i - 1) << 2));
      store<u32>(out + (<usize>(before + i - 1) << 3), k);
      store<u32>(out + (<usize>(before + i - 1) << 3), id, 4);
    }
    n += found;
    p = kPtr + ((<usize>len + 3) & ~3);
  }
  return n;
}
