// Simulated time: a queue of timed callbacks run in (time, order pushed) order, so a seed replays exactly.

import { byTimeThenSeq, MinHeap } from '../util/heap.js';
import type { Rng } from '../util/rng.js';

type Timed = { time: number; seq: number; run: () => void };

export class SimScheduler {
  /** Simulated ms. */
  now = 0;
  private readonly queue = new MinHeap<Timed>(byTimeThenSeq);
  private seq = 0;

  constructor(private readonly rng: Rng) {}

  /** Run `run` after `delay` simulated ms. */
  at(delay: number, run: () => void): void {
    this.queue.push({ time: this.now + delay, seq: this.seq++, run });
  }

  /** Run `run` about every `ms` (jittered by the seed) for as long as `whileTrue` holds. */
  every(ms: number, whileTrue: () => boolean, run: () => void): void {
    const loop = () => {
      if (!whileTrue()) return;
      run();
      this.at(ms * (0.5 + this.rng()), loop);
    };
    this.at(ms * this.rng(), loop);
  }

  /** Runs everything due up to `t`, then sets the clock to `t`. */
  runUntil(t: number): void {
    for (let ev = this.queue.peek(); ev !== undefined && ev.time <= t; ev = this.queue.peek()) {
      this.queue.pop();
      this.now = ev.time;
      ev.run();
    }
    this.now = t;
  }
}
