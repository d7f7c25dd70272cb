import type { KeyIndex } from '../ports/hot-paths.js';

/**
 * A KeyIndex that starts in one implementation (the TypeScript one) and moves its keys to another
 * (WebAssembly) once it holds `promoteAtKeys` keys, so a small index never makes the other one load.
 * Both must give identical results for every input (the HotPaths contract), so the move changes
 * nothing a caller can see.
 *
 * `next()` is asked on each insert from `promoteAtKeys` keys on until it returns an index (it may
 * answer undefined while that implementation is still loading); the keys are then inserted into
 * it in order and the first index is disposed of. Invariant: after a move, `next` is never called again.
 */
export class PromotingKeyIndex implements KeyIndex {
  private index: KeyIndex;
  private promoted = false;

  /** `promoteAtKeys` >= 1. The index owns `first` and every index `next()` returns. */
  constructor(
    first: KeyIndex,
    private readonly promoteAtKeys: number,
    private readonly next: () => KeyIndex | undefined,
  ) {
    this.index = first;
  }

  /** Whether the keys moved to the index `next()` gave. */
  get isPromoted(): boolean {
    return this.promoted;
  }

  get size(): number {
    return this.index.size;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  insert(key: string): boolean {
    const added = this.index.insert(key);
    if (added && !this.promoted && this.index.size >= this.promoteAtKeys) this.maybePromote();
    return added;
  }

  delete(key: string): boolean {
    return this.index.delete(key);
  }

  prefix(prefix: string): string[] {
    return this.index.prefix(prefix);
  }

  separated(prefix: string, separator: string): string[] {
    return this.index.separated(prefix, separator);
  }

  range(start: string, end: string): string[] {
    return this.index.range(start, end);
  }

  dispose(): void {
    this.index.dispose();
  }

  private maybePromote(): void {
    const next = this.next();
    if (next === undefined) return;
    for (const key of this.index.prefix('')) next.insert(key);
    this.index.dispose();
    this.index = next;
    this.promoted = true;
  }
}
