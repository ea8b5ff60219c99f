// A node's own clock: real time × rate + offset. Skewing it (the offset) makes its TTLs and
// timestamps disagree with its peers; changing its rate makes its Raft timers run fast or slow.
// Both are knobs the app turns on purpose.

export class NodeClock {
  private baseReal = Date.now();
  private baseNode = Date.now();
  private rateValue = 1;

  /** Milliseconds since the epoch, as this node believes. */
  now(): number {
    return this.baseNode + (Date.now() - this.baseReal) * this.rateValue;
  }

  get offsetMs(): number {
    return this.now() - Date.now();
  }

  get rate(): number {
    return this.rateValue;
  }

  /** Jump so that the clock reads real time + offset. */
  setOffset(offsetMs: number): void {
    this.rebase();
    this.baseNode = Date.now() + offsetMs;
  }

  /** From now on, run `rate` times as fast as real time (0.25 to 4). */
  setRate(rate: number): void {
    if (!(rate > 0)) throw new RangeError(`clock rate must be positive, got ${rate}`);
    this.rebase();
    this.rateValue = rate;
  }

  private rebase(): void {
    const now = this.now();
    this.baseReal = Date.now();
    this.baseNode = now;
  }
}

/**
 * Calls `tick` every `intervalMs` of this node's clock (so a clock at rate 2 ticks twice as
 * often in real time). Returns a stop function.
 */
export function startTicker(clock: NodeClock, intervalMs: number, tick: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const loop = () => {
    if (stopped) return;
    tick();
    timer = setTimeout(loop, intervalMs / clock.rate);
  };
  timer = setTimeout(loop, intervalMs / clock.rate);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
