/** A scheduled simulator event. Ties in time are broken by insertion order (`seq`). */
interface Scheduled<T> {
  readonly time: number;
  readonly seq: number;
  readonly event: T;
}

/** A min-heap of events by (time, insertion order): deterministic for a given schedule. */
export class EventQueue<T> {
  private readonly heap: Array<Scheduled<T>> = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(time: number, event: T): void {
    const h = this.heap;
    h.push({ time, seq: this.seq++, event });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      [h[i], h[p]] = [h[p] as Scheduled<T>, h[i] as Scheduled<T>];
      i = p;
    }
  }

  /** Removes and returns the earliest event, or undefined when empty. */
  pop(): { time: number; event: T } | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0] as Scheduled<T>;
    const last = h.pop() as Scheduled<T>;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(l, m)) m = l;
        if (r < h.length && this.less(r, m)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Scheduled<T>, h[i] as Scheduled<T>];
        i = m;
      }
    }
    return { time: top.time, event: top.event };
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a] as Scheduled<T>;
    const y = this.heap[b] as Scheduled<T>;
    return x.time < y.time || (x.time === y.time && x.seq < y.seq);
  }
}
