import type { WeightedJson } from '../catalog/shuffle.js';
import type { ReadTxn } from '../ports/state-store.js';

/** A rendered answer: its JSON text, or its elements' JSON texts with weights, ordered anew for each answer. */
export type Rendered = string | readonly WeightedJson[];

const sizeOf = (r: Rendered): number =>
  typeof r === 'string' ? r.length * 2 : r.reduce((n, p) => n + p.text.length * 2 + 32, 0);

/** What a read may reuse: its cache key, and how to read the index its answer depends on. */
export interface RenderedKey {
  /** Everything the answer depends on besides the index (route, parameters). */
  readonly key: string;
  /** The index the answer was computed at; an entry is reused only while it is unchanged. */
  readonly index: (tx: ReadTxn) => number;
}

/** Most answers kept, and most bytes of JSON text in all. */
const MAX_ENTRIES = 4096;
const MAX_BYTES = 32 * 1024 * 1024;

/**
 * Answers already rendered as JSON text, by key, each valid at one index: a read whose index has
 * not moved sends the same bytes again instead of joining and serializing its rows. Bounded by
 * entries and bytes; the least recently used go first.
 */
export class RenderedCache {
  private readonly entries = new Map<
    string,
    { readonly index: number; readonly text: Rendered; readonly size: number }
  >();
  private bytes = 0;

  /** The answer cached for `key` at exactly `index`, or undefined. */
  get(key: string, index: number): Rendered | undefined {
    const hit = this.entries.get(key);
    if (!hit || hit.index !== index) return undefined;
    // Most recently used last.
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.text;
  }

  /** Keeps `text` as the answer for `key` at `index` (too large an answer is not kept). */
  set(key: string, index: number, text: Rendered): void {
    const size = sizeOf(text);
    if (size > MAX_BYTES / 16) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.size;
      this.entries.delete(key);
    }
    this.entries.set(key, { index, text, size });
    this.bytes += size;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= MAX_ENTRIES && this.bytes <= MAX_BYTES) break;
      this.entries.delete(k);
      this.bytes -= e.size;
    }
  }

  /** Number of answers kept. */
  get size(): number {
    return this.entries.size;
  }
}

const caches = new WeakMap<object, RenderedCache>();

/** The cache of answers read from `store` (one per store, so per server or test node). */
export function renderedCacheOf(store: object): RenderedCache {
  let c = caches.get(store);
  if (!c) caches.set(store, (c = new RenderedCache()));
  return c;
}
