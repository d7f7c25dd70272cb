import { FRAME_HEADER_BYTES } from '../../core/hotpaths/frame.js';
import { createTsHotPaths, frameVerdict } from '../../core/hotpaths/ts-hot-paths.js';
import type { FrameBuilder, HotPathOp, HotPaths, KeyIndex, PrefixMatcher } from '../../core/ports/hot-paths.js';

/** What assembly/index.ts exports. */
interface Exports {
  readonly memory: WebAssembly.Memory;
  crc32c(ptr: number, len: number, seed: number): number;
  scratch(size: number): number;
  frameSeal(ptr: number, kind: number, payloadLen: number): void;
  frameCheck(ptr: number, len: number): number;
  kvCount(): number;
  kvLowerBound(ptr: number, len: number): number;
  kvFind(ptr: number, len: number): number;
  kvInsert(ptr: number, len: number): number;
  kvDelete(ptr: number, len: number): number;
  kvPrefixRange(ptr: number, len: number): number;
  kvRangeEnd(): number;
  kvIds(from: number, to: number, out: number): void;
  kvSeparated(pPtr: number, pLen: number, sPtr: number, sLen: number, out: number, cap: number): number;
  pmAdd(ptr: number, len: number): number;
  pmRemove(id: number): void;
  pmMatch(ptr: number, len: number, out: number, cap: number): number;
  pmMatchMany(keys: number, count: number, out: number, cap: number): number;
}

const utf8 = new TextEncoder();

/** One instance of the module with helpers for moving bytes in and out of its memory. */
class Instance {
  readonly x: Exports;
  private u8cache: Uint8Array;
  private u32cache: Uint32Array;

  constructor(module: WebAssembly.Module) {
    const imports = {
      env: {
        abort: () => {
          throw new Error('hot-path WebAssembly module aborted');
        },
      },
    };
    this.x = new WebAssembly.Instance(module, imports).exports as unknown as Exports;
    this.u8cache = new Uint8Array(this.x.memory.buffer);
    this.u32cache = new Uint32Array(this.x.memory.buffer);
  }

  /** The memory as bytes (re-created when the memory grew). */
  u8(): Uint8Array {
    if (this.u8cache.buffer !== this.x.memory.buffer) this.u8cache = new Uint8Array(this.x.memory.buffer);
    return this.u8cache;
  }

  /** Writes `s` as UTF-8 at `ptr` (which must have 3 bytes per UTF-16 unit of room); returns its length. */
  writeStr(ptr: number, s: string): number {
    return utf8.encodeInto(s, this.u8().subarray(ptr, ptr + s.length * 3)).written;
  }

  /** The memory as u32 (re-created when the memory grew); index with byte offset >> 2. */
  u32(): Uint32Array {
    if (this.u32cache.buffer !== this.x.memory.buffer) this.u32cache = new Uint32Array(this.x.memory.buffer);
    return this.u32cache;
  }
}

class WasmKeyIndex implements KeyIndex {
  private readonly keys: Array<string | undefined> = [];
  private count = 0;
  constructor(private readonly inst: Instance) {}

  get size(): number {
    return this.count;
  }

  private put(s: string): { ptr: number; len: number } {
    const ptr = this.inst.x.scratch(s.length * 3 + 8);
    return { ptr, len: this.inst.writeStr(ptr, s) };
  }

  has(key: string): boolean {
    const k = this.put(key);
    return this.inst.x.kvFind(k.ptr, k.len) >= 0;
  }

  insert(key: string): boolean {
    const k = this.put(key);
    const id = this.inst.x.kvInsert(k.ptr, k.len);
    if (id < 0) return false;
    this.keys[id] = key;
    this.count++;
    return true;
  }

  delete(key: string): boolean {
    const k = this.put(key);
    const id = this.inst.x.kvDelete(k.ptr, k.len);
    if (id < 0) return false;
    this.keys[id] = undefined;
    this.count--;
    return true;
  }

  private collect(from: number, to: number): string[] {
    const n = to - from;
    if (n <= 0) return [];
    const out = this.inst.x.scratch(n * 4);
    this.inst.x.kvIds(from, to, out);
    const mem = this.inst.u32();
    const base = out >>> 2;
    const result = new Array<string>(n);
    for (let i = 0; i < n; i++) result[i] = this.keys[mem[base + i] as number] as string;
    return result;
  }

  prefix(prefix: string): string[] {
    const k = this.put(prefix);
    const from = this.inst.x.kvPrefixRange(k.ptr, k.len);
    return this.collect(from, this.inst.x.kvRangeEnd());
  }

  separated(prefix: string, separator: string): string[] {
    const x = this.inst.x;
    let k = this.put(prefix);
    const from = x.kvPrefixRange(k.ptr, k.len);
    const cap = x.kvRangeEnd() - from;
    if (cap === 0) return [];
    const room = prefix.length * 3 + separator.length * 3 + 8;
    const base = x.scratch(room + cap * 4);
    k = { ptr: base, len: this.inst.writeStr(base, prefix) };
    const sPtr = base + k.len;
    const sLen = this.inst.writeStr(sPtr, separator);
    const out = (base + room + 3) & ~3;
    const n = x.kvSeparated(k.ptr, k.len, sPtr, sLen, out, cap);
    const mem = this.inst.u32();
    const result = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const v = mem[(out >>> 2) + i] as number;
      const key = this.keys[v & 0x7fffffff] as string;
      result[i] = v & 0x80000000 ? key.slice(0, key.indexOf(separator, prefix.length) + separator.length) : key;
    }
    return result;
  }

  range(start: string, end: string): string[] {
    const a = this.put(start);
    const from = this.inst.x.kvLowerBound(a.ptr, a.len);
    const b = this.put(end);
    const to = this.inst.x.kvLowerBound(b.ptr, b.len);
    return this.collect(from, Math.max(from, to));
  }

  dispose(): void {
    this.keys.length = 0;
    this.count = 0;
  }
}

class WasmPrefixMatcher implements PrefixMatcher {
  private readonly ids = new Map<string, number>();
  private readonly names: Array<string | undefined> = [];
  constructor(private readonly inst: Instance) {}

  get size(): number {
    return this.ids.size;
  }

  add(prefix: string): void {
    if (this.ids.has(prefix)) return;
    const ptr = this.inst.x.scratch(prefix.length * 3 + 8);
    const id = this.inst.x.pmAdd(ptr, this.inst.writeStr(ptr, prefix));
    this.ids.set(prefix, id);
    this.names[id] = prefix;
  }

  remove(prefix: string): boolean {
    const id = this.ids.get(prefix);
    if (id === undefined) return false;
    this.inst.x.pmRemove(id);
    this.ids.delete(prefix);
    this.names[id] = undefined;
    return true;
  }

  match(key: string): string[] {
    if (this.ids.size === 0) return [];
    const room = key.length * 3 + 8;
    const cap = Math.min(this.ids.size, key.length * 3 + 1);
    const base = this.inst.x.scratch(room + cap * 4);
    const len = this.inst.writeStr(base, key);
    const out = (base + room + 3) & ~3;
    const n = this.inst.x.pmMatch(base, len, out, cap);
    const mem = this.inst.u32();
    const result = new Array<string>(n);
    for (let i = 0; i < n; i++) result[i] = this.names[mem[(out >>> 2) + i] as number] as string;
    return result;
  }

  matchMany(keys: readonly string[]): string[][] {
    const result: string[][] = keys.map(() => []);
    if (this.ids.size === 0 || keys.length === 0) return result;
    let room = 0;
    let cap = 0;
    for (const k of keys) {
      room += 8 + k.length * 3;
      cap += Math.min(this.ids.size, k.length * 3 + 1);
    }
    const base = this.inst.x.scratch(room + cap * 8 + 8);
    const mem8 = this.inst.u8();
    const mem32 = this.inst.u32();
    let p = base;
    for (const k of keys) {
      const len = utf8.encodeInto(k, mem8.subarray(p + 4, p + 4 + k.length * 3)).written;
      mem32[p >>> 2] = len;
      p += 4 + ((len + 3) & ~3);
    }
    const out = (p + 7) & ~7;
    const n = this.inst.x.pmMatchMany(base, keys.length, out, cap);
    const mem = this.inst.u32();
    for (let i = 0; i < n; i++) {
      const at = (out >>> 2) + i * 2;
      (result[mem[at] as number] as string[]).push(this.names[mem[at + 1] as number] as string);
    }
    return result;
  }

  dispose(): void {
    this.ids.clear();
    this.names.length = 0;
  }
}

/** Which implementation serves each operation. */
export type HotPathChoice = Readonly<Record<HotPathOp, 'wasm' | 'ts'>>;

/** Every operation on WebAssembly. */
export const ALL_WASM: HotPathChoice = {
  crc32c: 'wasm',
  frameEncode: 'wasm',
  frameDecode: 'wasm',
  keyIndex: 'wasm',
  prefixMatch: 'wasm',
};

/**
 * HotPaths over a compiled hot-path module, with each operation served by WebAssembly or by the
 * TypeScript fallback as `choice` says. CRC and framing share one instance, made when one of
 * them is first used; every key index and prefix matcher gets an instance (and memory) of its own.
 */
export function createWasmHotPaths(module: WebAssembly.Module, choice: HotPathChoice = ALL_WASM): HotPaths {
  const ts = createTsHotPaths();
  // The shared instance is made on first use: where the choice gives CRC and framing to
  // TypeScript (Deno, Bun), it never is, and its memory is never allocated.
  let instance: Instance | undefined;
  const shared = (): Instance => (instance ??= new Instance(module));
  const crc32c = (data: Uint8Array, seed = 0): number => {
    const s = shared();
    const ptr = s.x.scratch(data.length);
    s.u8().set(data, ptr);
    return s.x.crc32c(ptr, data.length, seed) >>> 0;
  };
  return {
    impl: choice,
    crc32c: choice.crc32c === 'wasm' ? crc32c : ts.crc32c,
    frameBuffer:
      choice.frameEncode === 'wasm'
        ? (size: number): FrameBuilder => {
            const s = shared();
            const ptr = s.x.scratch(size);
            const bytes = s.u8().subarray(ptr, ptr + size);
            return { bytes, view: new DataView(bytes.buffer, ptr, size) };
          }
        : ts.frameBuffer,
    sealFrame:
      choice.frameEncode === 'wasm'
        ? (frame, kind, payloadLength) => {
            const s = shared();
            const ptr = frame.bytes.byteOffset;
            s.x.frameSeal(ptr, kind, payloadLength);
            return s.u8().slice(ptr, ptr + FRAME_HEADER_BYTES + payloadLength);
          }
        : ts.sealFrame,
    openFrame:
      choice.frameDecode === 'wasm'
        ? (input, offset) => {
            const available = input.length - offset;
            let copy = Math.min(available, FRAME_HEADER_BYTES);
            if (available >= FRAME_HEADER_BYTES) {
              const declared = new DataView(input.buffer, input.byteOffset + offset + 4, 4).getUint32(0, true);
              copy = Math.min(available, FRAME_HEADER_BYTES + declared);
            }
            // Copy the header and the declared payload (or all there is, to detect truncation).
            const s = shared();
            const ptr = s.x.scratch(Math.max(copy, 1));
            s.u8().set(input.subarray(offset, offset + copy), ptr);
            return frameVerdict(input, offset, s.x.frameCheck(ptr, copy));
          }
        : ts.openFrame,
    createKeyIndex: choice.keyIndex === 'wasm' ? () => new WasmKeyIndex(new Instance(module)) : ts.createKeyIndex,
    createPrefixMatcher:
      choice.prefixMatch === 'wasm' ? () => new WasmPrefixMatcher(new Instance(module)) : ts.createPrefixMatcher,
  };
}
