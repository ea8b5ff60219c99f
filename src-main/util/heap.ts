// A binary min-heap: the event queue of the simulator and of the checker's random histories.
// Both order by time and then by a sequence number, so equal times pop in the order pushed and
// a seed replays exactly.

export class MinHeap<T> {
  private readonly items: T[] = [];

  /** `before(a, b)`: a pops first. A strict total order (ties broken by the caller), or pops are not reproducible. */
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  /** The item that pops next, without popping it. */
  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    this.items.push(item);
    for (let i = this.items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (this.precedes(parent, i)) break;
      this.swap(parent, i);
      i = parent;
    }
  }

  pop(): T | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.precedes(l, m)) m = l;
        if (r < h.length && this.precedes(r, m)) m = r;
        if (m === i) break;
        this.swap(m, i);
        i = m;
      }
    }
    return top;
  }

  /** Slots i and j both hold items (callers check the bounds). */
  private precedes(i: number, j: number): boolean {
    return this.before(this.items[i] as T, this.items[j] as T);
  }

  private swap(i: number, j: number): void {
    const h = this.items;
    [h[i], h[j]] = [h[j] as T, h[i] as T];
  }
}

/** The order both queues use: earlier time first, then the order pushed. */
export function byTimeThenSeq(a: { time: number; seq: number }, b: { time: number; seq: number }): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
