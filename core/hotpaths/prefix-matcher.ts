import type { PrefixMatcher } from '../ports/hot-paths.js';

interface TrieNode {
  children: Map<number, TrieNode> | undefined;
  /** The registered prefix ending here, if any. */
  prefix: string | undefined;
}

/** The TypeScript PrefixMatcher: a trie over UTF-16 code units; matching walks the key once. */
export class TsPrefixMatcher implements PrefixMatcher {
  private root: TrieNode = { children: undefined, prefix: undefined };
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(prefix: string): void {
    let node = this.root;
    for (let i = 0; i < prefix.length; i++) {
      const c = prefix.charCodeAt(i);
      node.children ??= new Map();
      let next = node.children.get(c);
      if (!next) node.children.set(c, (next = { children: undefined, prefix: undefined }));
      node = next;
    }
    if (node.prefix === undefined) this.count++;
    node.prefix = prefix;
  }

  remove(prefix: string): boolean {
    const path: TrieNode[] = [this.root];
    let node: TrieNode | undefined = this.root;
    for (let i = 0; i < prefix.length && node; i++) {
      node = node.children?.get(prefix.charCodeAt(i));
      if (node) path.push(node);
    }
    if (!node || node.prefix === undefined) return false;
    node.prefix = undefined;
    this.count--;
    // Prune empty branches.
    for (let i = path.length - 1; i > 0; i--) {
      const n = path[i] as TrieNode;
      if (n.prefix !== undefined || (n.children && n.children.size > 0)) break;
      (path[i - 1] as TrieNode).children?.delete(prefix.charCodeAt(i - 1));
    }
    return true;
  }

  match(key: string): string[] {
    const out: string[] = [];
    let node: TrieNode | undefined = this.root;
    if (node.prefix !== undefined) out.push(node.prefix);
    for (let i = 0; i < key.length; i++) {
      node = node.children?.get(key.charCodeAt(i));
      if (!node) break;
      if (node.prefix !== undefined) out.push(node.prefix);
    }
    return out;
  }

  matchMany(keys: readonly string[]): string[][] {
    return keys.map((k) => this.match(k));
  }

  dispose(): void {
    this.root = { children: undefined, prefix: undefined };
    this.count = 0;
  }
}
