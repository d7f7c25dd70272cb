import { regrow } from './buffers';
// An ordered index of byte-string keys (UTF-8, so byte order is code-point order). Keys are
// identified by small integer ids; JavaScript keeps the strings, WebAssembly the order.

// Slots: per id, the key's pointer and length (8 bytes).
let slots: usize = 0;
let slotCap: u32 = 0;
let nextId: u32 = 0;
// Free ids, reused before new ones.
let free: usize = 0;
let freeCount: u32 = 0;
let freeCap: u32 = 0;
// Ids in key order.
let order: usize = 0;
let count: u32 = 0;
let orderCap: u32 = 0;

@inline function keyPtr(id: u32): usize {
  return load<u32>(slots + (<usize>id << 3));
}
@inline function keyLen(id: u32): u32 {
  return load<u32>(slots + (<usize>id << 3), 4);
}
@inline function idAt(pos: u32): u32 {
  return load<u32>(order + (<usize>pos << 2));
}

function compare(aPtr: usize, aLen: u32, bPtr: usize, bLen: u32): i32 {
  const n = aLen < bLen ? aLen : bLen;
  const c = memory.compare(aPtr, bPtr, n);
  if (c != 0) return c;
  return <i32>aLen - <i32>bLen;
}

@inline function startsWith(id: u32, pPtr: usize, pLen: u32): bool {
  return keyLen(id) >= pLen && memory.compare(keyPtr(id), pPtr, pLen) == 0;
}

/** Position of the first key >= (ptr, len) within [lo, hi). */
function lowerBoundIn(ptr: usize, len: u32, lo: u32, hi: u32): u32 {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const id = idAt(mid);
    if (compare(keyPtr(id), keyLen(id), ptr, len) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First position in [lo, hi) whose key does not start with the prefix (keys from lo on do, then don't). */
function prefixEndIn(pPtr: usize, pLen: u32, lo: u32, hi: u32): u32 {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (startsWith(idAt(mid), pPtr, pLen)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function kvCount(): u32 {
  return count;
}

export function kvLowerBound(ptr: usize, len: u32): u32 {
  return lowerBoundIn(ptr, len, 0, count);
}

/** The id of an exact key, or -1. */
export function kvFind(ptr: usize, len: u32): i32 {
  const pos = lowerBoundIn(ptr, len, 0, count);
  if (pos < count) {
    const id = idAt(pos);
    if (compare(keyPtr(id), keyLen(id), ptr, len) == 0) return <i32>id;
  }
  return -1;
}

/** Inserts a key; returns its new id, or -1 if it was present. */
export function kvInsert(ptr: usize, len: u32): i32 {
  const pos = lowerBoundIn(ptr, len, 0, count);
  if (pos < count) {
    const at = idAt(pos);
    if (compare(keyPtr(at), keyLen(at), ptr, len) == 0) return -1;
  }
  let id: u32;
  if (freeCount > 0) {
    freeCount--;
    id = load<u32>(free + (<usize>freeCount << 2));
  } else {
    id = nextId++;
    if (id >= slotCap) {
      slotCap = slotCap == 0 ? 1024 : slotCap << 1;
      slots = regrow(slots, <usize>slotCap << 3);
    }
  }
  const copy = heap.alloc(len == 0 ? 1 : len);
  memory.copy(copy, ptr, len);
  store<u32>(slots + (<usize>id << 3), <u32>copy);
  store<u32>(slots + (<usize>id << 3), len, 4);
  if (count >= orderCap) {
    orderCap = orderCap == 0 ? 1024 : orderCap << 1;
    order = regrow(order, <usize>orderCap << 2);
  }
  const at = order + (<usize>pos << 2);
  memory.copy(at + 4, at, <usize>(count - pos) << 2);
  store<u32>(at, id);
  count++;
  return <i32>id;
}

/** Removes a key; returns its id (now free), or -1 if absent. */
export function kvDelete(ptr: usize, len: u32): i32 {
  const pos = lowerBoundIn(ptr, len, 0, count);
  if (pos >= count) return -1;
  const id = idAt(pos);
  if (compare(keyPtr(id), keyLen(id), ptr, len) != 0) return -1;
  heap.free(keyPtr(id));
  const at = order + (<usize>pos << 2);
  memory.copy(at, at + 4, <usize>(count - pos - 1) << 2);
  count--;
  if (freeCount >= freeCap) {
    freeCap = freeCap == 0 ? 256 : freeCap << 1;
    free = regrow(free, <usize>freeCap << 2);
  }
  store<u32>(free + (<usize>freeCount << 2), id);
  freeCount++;
  return <i32>id;
}

let rangeEnd: u32 = 0;

/** Start position of the keys starting with the prefix; their end is then given by kvRangeEnd(). */
export function kvPrefixRange(ptr: usize, len: u32): u32 {
  const start = lowerBoundIn(ptr, len, 0, count);
  rangeEnd = prefixEndIn(ptr, len, start, count);
  return start;
}

/** End position (exclusive) of the last kvPrefixRange. */
export function kvRangeEnd(): u32 {
  return rangeEnd;
}

/** Copies the ids at positions [from, to) to `out`. */
export function kvIds(from: u32, to: u32, out: usize): void {
  memory.copy(out, order + (<usize>from << 2), <usize>(to - from) << 2);
}

/**
 * Keys under a prefix rolled up at the first separator after it. Writes up to `cap` ids to `out`,
 * each marked in bit 31 when it stands for a rolled-up group; returns how many were written.
 * Whole groups are skipped by binary search, so the cost is per group, not per key.
 */
export function kvSeparated(pPtr: usize, pLen: u32, sPtr: usize, sLen: u32, out: usize, cap: u32): u32 {
  let pos = lowerBoundIn(pPtr, pLen, 0, count);
  const end = prefixEndIn(pPtr, pLen, pos, count);
  let n: u32 = 0;
  while (pos < end && n < cap) {
    const id = idAt(pos);
    const kp = keyPtr(id);
    const kl = keyLen(id);
    let at: i32 = -1;
    if (sLen > 0 && kl >= pLen + sLen) {
      const last = kl - sLen;
      for (let i = pLen; i <= last; i++) {
        if (memory.compare(kp + i, sPtr, sLen) == 0) {
          at = <i32>i;
          break;
        }
      }
    }
    if (at < 0) {
      store<u32>(out + (<usize>n << 2), id);
      n++;
      pos++;
      continue;
    }
    store<u32>(out + (<usize>n << 2), id | 0x80000000);
    n++;
    pos = prefixEndIn(kp, <u32>at + sLen, pos + 1, end);
  }
  return n;
}
