/**
 * The hot paths, implemented twice: in AssemblyScript compiled to WebAssembly and in TypeScript.
 * Both give identical results for every input (proven by differential tests); a runtime's loader
 * picks, per operation, whichever is faster there. The core reaches WebAssembly only through this port.
 */
export interface HotPaths {
  /** Which implementation serves each operation ("wasm" or "ts"), for logs and benchmarks. */
  readonly impl: Readonly<Record<HotPathOp, 'wasm' | 'ts'>>;
  /** CRC32C (Castagnoli) of `data`, continuing from `seed` (0 to start). */
  crc32c(data: Uint8Array, seed?: number): number;
  /**
   * Seals a frame: writes the 12-byte header (kind, version, payload length, CRC32C of the
   * payload) in front of `payloadLength` bytes already written at offset 12 of `frame`.
   * Returns the frame bytes (header + payload).
   */
  sealFrame(frame: FrameBuilder, kind: number, payloadLength: number): Uint8Array;
  /** A buffer to write a frame of `size` bytes into (header included); valid until the next call. */
  frameBuffer(size: number): FrameBuilder;
  /**
   * Verifies the frame at `offset` of `input` (complete, known kind, matching CRC) and returns
   * its kind and payload bounds. Throws CorruptFrameError naming the position of the problem.
   */
  openFrame(input: Uint8Array, offset: number): { kind: number; payloadStart: number; payloadEnd: number };
  /** A new, empty ordered key index. */
  createKeyIndex(): KeyIndex;
  /** A new, empty prefix matcher. */
  createPrefixMatcher(): PrefixMatcher;
}

/** The operations a loader chooses an implementation for. */
export type HotPathOp = 'crc32c' | 'frameEncode' | 'frameDecode' | 'keyIndex' | 'prefixMatch';

/** Writable bytes for building one frame: `bytes` is at least the requested size. */
export interface FrameBuilder {
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

/**
 * An ordered set of string keys, in code-point order (the order of their UTF-8 bytes). Keys are
 * non-empty well-formed strings of at most 1 MiB.
 */
export interface KeyIndex {
  readonly size: number;
  has(key: string): boolean;
  /** Adds a key; returns false if it was present. */
  insert(key: string): boolean;
  /** Removes a key; returns false if it was absent. */
  delete(key: string): boolean;
  /** Keys starting with `prefix`, in order. */
  prefix(prefix: string): string[];
  /**
   * Keys starting with `prefix`, each rolled up to the first `separator` after the prefix
   * (inclusive) and listed once, as Consul's `?keys&separator=`.
   */
  separated(prefix: string, separator: string): string[];
  /** Keys k with start <= k < end, in order. */
  range(start: string, end: string): string[];
  /** Releases resources; the index must not be used afterwards. */
  dispose(): void;
}

/** A set of registered prefixes, matched against keys. */
export interface PrefixMatcher {
  readonly size: number;
  /** Registers a prefix ('' matches every key); registering twice is a no-op. */
  add(prefix: string): void;
  /** Unregisters a prefix; returns false if it was not registered. */
  remove(prefix: string): boolean;
  /** Every registered prefix that `key` starts with, in no particular order. */
  match(key: string): string[];
  /** match() for each key of a batch (one crossing into WebAssembly for the whole batch). */
  matchMany(keys: readonly string[]): string[][];
  dispose(): void;
}
