import type { KeyIndex } from '../ports/hot-paths.js';
import { compareKeys } from '../util/keys.js';

/** The TypeScript KeyIndex: a sorted array of strings, binary-searched in code-point order. */
export class TsKeyIndex implements KeyIndex {
  private keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  has(key: string): boolean {
    const i = this.lowerBound(key, 0, this.keys.length);
    return this.keys[i] === key;
  }

  insert(key: string): boolean {
    const i = this.lowerBound(key, 0, this.keys.length);
    if (this.keys[i] === key) return false;
    this.keys.splice(i, 0, key);
    return true;
  }

  delete(key: string): boolean {
    const i = this.lowerBound(key, 0, this.keys.length);
    if (this.keys[i] !== key) return false;
    this.keys.splice(i, 1);
    return true;
  }

  prefix(prefix: string): string[] {
    const start = this.lowerBound(prefix, 0, this.keys.length);
    return this.keys.slice(start, this.prefixEnd(prefix, start, this.keys.length));
  }

  separated(prefix: string, separator: string): string[] {
    let pos = this.lowerBound(prefix, 0, this.keys.length);
    const end = this.prefixEnd(prefix, pos, this.keys.length);
    const out: string[] = [];
    while (pos < end) {
      const key = this.keys[pos] as string;
      const at = separator.length > 0 ? key.indexOf(separator, prefix.length) : -1;
      if (at < 0) {
        out.push(key);
        pos++;
        continue;
      }
      const rolled = key.slice(0, at + separator.length);
      out.push(rolled);
      // Skip the whole group at once.
      pos = this.prefixEnd(rolled, pos + 1, end);
    }
    return out;
  }

  range(start: string, end: string): string[] {
    const from = this.lowerBound(start, 0, this.keys.length);
    const to = this.lowerBound(end, from, this.keys.length);
    return this.keys.slice(from, to);
  }

  dispose(): void {
    this.keys = [];
  }

  private lowerBound(key: string, lo: number, hi: number): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid] as string, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private prefixEnd(prefix: string, lo: number, hi: number): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] as string).startsWith(prefix)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
