// A single reusable scratch buffer for passing bytes between JavaScript and WebAssembly.

let scratchPtr: usize = 0;
let scratchCap: usize = 0;

/** Returns a buffer of at least `size` bytes; its contents are not preserved when it grows. */
export function scratch(size: usize): usize {
  if (size > scratchCap) {
    if (scratchPtr != 0) heap.free(scratchPtr);
    let cap = scratchCap == 0 ? <usize>4096 : scratchCap;
    while (cap < size) cap <<= 1;
    scratchPtr = heap.alloc(cap);
    scratchCap = cap;
  }
  return scratchPtr;
}

/** heap.realloc that also accepts a null pointer (then allocates). */
export function regrow(ptr: usize, size: usize): usize {
  return ptr == 0 ? heap.alloc(size) : heap.realloc(ptr, size);
}
