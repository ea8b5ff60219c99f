import { describe, expect, it } from 'vitest';
import { byTimeThenSeq, MinHeap } from '../../src-main/util/heap.js';
import { seededRandom } from '../../src-main/util/rng.js';

describe('MinHeap', () => {
  it('pops in time order, equal times in the order pushed, interleaved with pushes', () => {
    const rng = seededRandom(11);
    const heap = new MinHeap<{ time: number; seq: number }>(byTimeThenSeq);
    const popped: { time: number; seq: number }[] = [];
    const pushed: { time: number; seq: number }[] = [];
    let seq = 0;
    for (let round = 0; round < 2000; round++) {
      if (heap.size === 0 || rng.chance(0.6)) {
        // Few distinct times, so ties are common; times never go below what was popped last,
        // as in an event queue.
        const ev = { time: (popped.at(-1)?.time ?? 0) + rng.int(0, 5), seq: seq++ };
        heap.push(ev);
        pushed.push(ev);
      } else {
        const min = pushed.filter((e) => !popped.includes(e)).sort((a, b) => a.time - b.time || a.seq - b.seq)[0];
        expect(heap.peek()).toBe(min);
        popped.push(heap.pop()!);
      }
    }
    while (heap.size > 0) popped.push(heap.pop()!);
    expect(heap.pop()).toBeUndefined();
    expect(popped).toHaveLength(pushed.length);
    for (let i = 1; i < popped.length; i++) expect(byTimeThenSeq(popped[i - 1]!, popped[i]!)).toBe(true);
  });
});
