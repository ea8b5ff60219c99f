// The call and return events of one key's operations, in time order, as a doubly linked list in
// typed arrays: the search (linearization-search.ts) walks it from the head, lifts an operation's
// call and return out of it when it places the operation, and puts them back, in O(1), when it
// backtracks (Lowe's just-in-time linearization over Wing & Gong's list). Kept apart from the
// search so the search reads as the search.

import type { Op } from '../../src-shared/history.js';

export class EventList {
  /** Next entry, -1 at the end; entry 0 is the head sentinel, so next[0] is the first event. */
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** 1 for a call event, 0 for a return. */
  readonly isCall: Uint8Array;
  /** The operation (index into the ops) of each entry. */
  readonly opOf: Int32Array;
  /** A call entry's return entry, -1 when it has none (an unknown outcome). */
  private readonly match: Int32Array;
  /** Each operation's return time; Infinity when it has none. */
  readonly retTime: Float64Array;

  /** A call per operation, a return per ok one; calls first on equal times (concurrent). */
  constructor(ops: readonly Op[]) {
    const n = ops.length;
    type Ev = { time: number; call: boolean; op: number };
    const evs: Ev[] = [];
    ops.forEach((op, i) => {
      evs.push({ time: op.invoke, call: true, op: i });
      if (op.outcome === 'ok') evs.push({ time: op.complete!, call: false, op: i });
    });
    evs.sort((x, y) => x.time - y.time || (x.call === y.call ? x.op - y.op : x.call ? -1 : 1));
    const E = evs.length + 1;
    this.next = new Int32Array(E);
    this.prev = new Int32Array(E);
    this.isCall = new Uint8Array(E);
    this.opOf = new Int32Array(E);
    this.match = new Int32Array(E).fill(-1);
    const callOf = new Int32Array(n);
    evs.forEach((ev, k) => {
      const e = k + 1;
      this.isCall[e] = ev.call ? 1 : 0;
      this.opOf[e] = ev.op;
      if (ev.call) callOf[ev.op] = e;
    });
    // Entries and operations index these arrays within their lengths (E entries, n operations).
    for (let e = 1; e < E; e++) if (!this.isCall[e]) this.match[callOf[this.opOf[e]!]!] = e;
    for (let e = 0; e < E; e++) {
      this.next[e] = e + 1 < E ? e + 1 : -1;
      this.prev[e] = e - 1;
    }
    this.retTime = new Float64Array(n).fill(Infinity);
    for (const ev of evs) if (!ev.call) this.retTime[ev.op] = ev.time;
  }

  /** Takes call entry `e` and its return out of the list (the operation is placed). */
  lift(e: number): void {
    this.unlink(e);
    const m = this.match[e]!;
    if (m !== -1) this.unlink(m);
  }

  /** Puts them back, undoing lift(e) (the last lift not yet undone). */
  unlift(e: number): void {
    const m = this.match[e]!;
    if (m !== -1) this.relink(m);
    this.relink(e);
  }

  private unlink(e: number): void {
    const p = this.prev[e]!;
    const x = this.next[e]!;
    this.next[p] = x;
    if (x !== -1) this.prev[x] = p;
  }

  private relink(e: number): void {
    const p = this.prev[e]!;
    const x = this.next[e]!;
    this.next[p] = e;
    if (x !== -1) this.prev[x] = e;
  }
}
