/**
 * A linearizability checker in the style of Wing & Gong with Lowe's memoization (as in
 * Porcupine): a depth-first search for an order of operations that respects real time and the
 * sequential model, caching (set of linearized operations, model state) pairs already explored.
 * Histories are partitioned per key first (P-compositionality), so each search stays small.
 */

/** One client operation. `ret` is Infinity when the outcome is unknown (it may or may not have happened). */
export interface Operation<I, O> {
  readonly key: string;
  readonly input: I;
  /** The observed output; undefined when the outcome is unknown. */
  readonly output: O | undefined;
  readonly call: number;
  readonly ret: number;
}

/** A sequential specification. `step` returns undefined when the output is impossible in `state`. */
export interface Model<S, I, O> {
  init(): S;
  /** Applies `input` to `state`; `output` undefined means "unknown, accept any". */
  step(state: S, input: I, output: O | undefined): S | undefined;
  /** A stable string identity of a state, for memoization. */
  hash(state: S): string;
}

/** The verdict for a history. */
export type LinearizabilityResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly key: string; readonly operations: number }
  | { readonly ok: 'unknown'; readonly key: string; readonly reason: string };

interface Node {
  kind: 'call' | 'ret';
  id: number;
  time: number;
  prev: Node | undefined;
  next: Node | undefined;
  match: Node | undefined;
}

/** A set of (int32, int32, int32) triples in an open-addressing table; add() says whether it was new. */
class TripleSet {
  private keys = new Int32Array(3 * 1024);
  private used = new Uint8Array(1024);
  private size = 0;

  add(a: number, b: number, c: number): boolean {
    if ((this.size + 1) * 2 > this.used.length) this.grow();
    const mask = this.used.length - 1;
    let i = (Math.imul(a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c, 0x85ebca6b), 0xc2b2ae35) >>> 0) & mask;
    for (;;) {
      if (!this.used[i]) {
        this.used[i] = 1;
        this.keys[3 * i] = a;
        this.keys[3 * i + 1] = b;
        this.keys[3 * i + 2] = c;
        this.size++;
        return true;
      }
      if (this.keys[3 * i] === a && this.keys[3 * i + 1] === b && this.keys[3 * i + 2] === c) return false;
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldUsed = this.used;
    this.keys = new Int32Array(oldKeys.length * 2);
    this.used = new Uint8Array(oldUsed.length * 2);
    this.size = 0;
    for (let i = 0; i < oldUsed.length; i++) {
      if (oldUsed[i]) this.add(oldKeys[3 * i] as number, oldKeys[3 * i + 1] as number, oldKeys[3 * i + 2] as number);
    }
  }
}

/** Checks one key's operations. `budget` bounds the search steps. */
function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: ReadonlyArray<Operation<I, O>>,
  budget: number,
): boolean | 'unknown' {
  const events: Node[] = [];
  ops.forEach((op, id) => {
    const call: Node = { kind: 'call', id, time: op.call, prev: undefined, next: undefined, match: undefined };
    events.push(call);
    if (Number.isFinite(op.ret)) {
      const ret: Node = { kind: 'ret', id, time: op.ret, prev: undefined, next: undefined, match: undefined };
      call.match = ret;
      events.push(ret);
    }
  });
  // By time; at equal times calls first, so touching operations count as concurrent.
  events.sort((a, b) => a.time - b.time || (a.kind === b.kind ? a.id - b.id : a.kind === 'call' ? -1 : 1));
  const head: Node = { kind: 'call', id: -1, time: -Infinity, prev: undefined, next: undefined, match: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (n: Node): void => {
    for (const x of n.match ? [n, n.match] : [n]) {
      (x.prev as Node).next = x.next;
      if (x.next) x.next.prev = x.prev;
    }
  };
  const unlift = (n: Node): void => {
    for (const x of n.match ? [n.match, n] : [n]) {
      (x.prev as Node).next = x;
      if (x.next) x.next.prev = x;
    }
  };

  let returns = events.filter((e) => e.kind === 'ret').length;
  let state = model.init();
  // The set of linearized operations is identified by a Zobrist hash (XOR of a random 64-bit
  // code per operation, as two 32-bit halves), updated in O(1) as operations come and go.
  const codeA = new Int32Array(ops.length);
  const codeB = new Int32Array(ops.length);
  let seed = 0x9e3779b9;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed | 0;
  };
  for (let i = 0; i < ops.length; i++) {
    codeA[i] = next();
    codeB[i] = next();
  }
  let hashA = 0;
  let hashB = 0;
  const states = new Map<string, number>();
  const cache = new TripleSet();
  const stack: Array<{ node: Node; state: S }> = [];
  let entry = head.next;
  let steps = 0;
  while (returns > 0) {
    if (++steps > budget) return 'unknown';
    if (entry !== undefined && entry.kind === 'call') {
      const op = ops[entry.id] as Operation<I, O>;
      const after = model.step(state, op.input, op.output);
      if (after !== undefined) {
        const a = hashA ^ (codeA[entry.id] as number);
        const b = hashB ^ (codeB[entry.id] as number);
        const sh = model.hash(after);
        let sid = states.get(sh);
        if (sid === undefined) states.set(sh, (sid = states.size));
        if (cache.add(a, b, sid)) {
          stack.push({ node: entry, state });
          state = after;
          hashA = a;
          hashB = b;
          lift(entry);
          if (entry.match) returns--;
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
      continue;
    }
    // A return (or the end): something before it must be linearized differently.
    const top = stack.pop();
    if (!top) return false;
    state = top.state;
    hashA ^= codeA[top.node.id] as number;
    hashB ^= codeB[top.node.id] as number;
    unlift(top.node);
    if (top.node.match) returns++;
    entry = top.node.next;
  }
  return true;
}

/**
 * Whether `history` is linearizable with respect to `model`, checking each key independently.
 * Operations with an unknown outcome may be placed anywhere after their call, or left out.
 * `budget` bounds the search per key (default 20,000,000 steps); past it the verdict is 'unknown'.
 */
export function checkLinearizability<S, I, O>(
  model: Model<S, I, O>,
  history: ReadonlyArray<Operation<I, O>>,
  budget = 20_000_000,
): LinearizabilityResult {
  const byKey = new Map<string, Array<Operation<I, O>>>();
  for (const op of history) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  for (const [key, ops] of byKey) {
    const verdict = checkPartition(model, ops, budget);
    if (verdict === 'unknown') return { ok: 'unknown', key, reason: `search budget of ${budget} steps exhausted` };
    if (!verdict) return { ok: false, key, operations: ops.length };
  }
  return { ok: true };
}

/**
 * The shortest prefix in time of one key's `ops` that has no linearization: for a cut time T,
 * the operations called by T, those still running at T taken as of unknown outcome. If the whole
 * history is linearizable, every such prefix is too (restricting its order to them is one), so a
 * prefix without one proves the anomaly with fewer operations. Binary search over the cuts at
 * return times; undefined when even the whole history is linearizable or the search is unknown.
 */
export function shortestFailingPrefix<S, I, O>(
  model: Model<S, I, O>,
  ops: ReadonlyArray<Operation<I, O>>,
  budget = 20_000_000,
): { readonly until: number; readonly ops: Array<Operation<I, O>> } | undefined {
  const cuts = [...new Set(ops.filter((o) => Number.isFinite(o.ret)).map((o) => o.ret))].sort((a, b) => a - b);
  const prefix = (t: number): Array<Operation<I, O>> =>
    ops
      .filter((o) => o.call <= t)
      .map((o) => (o.ret <= t ? o : { ...o, output: undefined, ret: Infinity }))
      .sort((a, b) => a.call - b.call);
  const fails = (t: number): boolean => checkPartition(model, prefix(t), budget) === false;
  let hi = cuts.length - 1;
  if (hi < 0 || !fails(cuts[hi] as number)) return undefined;
  let lo = 0;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fails(cuts[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  const until = cuts[hi] as number;
  return { until, ops: prefix(until) };
}

/** Input of the register model used for KV keys. */
export type RegisterInput =
  | { readonly op: 'put'; readonly value: string }
  | { readonly op: 'get' }
  | { readonly op: 'cas'; readonly expect: string | null; readonly value: string };
/** Output of the register model: put → true, get → the value (null if unset), cas → success. */
export type RegisterOutput = boolean | string | null;

/** A single register per key with put, get and compare-and-set. */
export const registerModel: Model<string | null, RegisterInput, RegisterOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case 'put':
        return input.value;
      case 'get':
        return output === undefined || output === state ? state : undefined;
      case 'cas': {
        const swapped = state === input.expect;
        if (output !== undefined && output !== swapped) return undefined;
        return swapped ? input.value : state;
      }
    }
  },
  hash: (s) => (s === null ? '\u0000null' : s),
};
