// A node's own clock: real time × rate + offset. Skewing it (the offset) makes its TTLs and
// timestamps disagree with its peers; changing its rate makes its Raft timers run fast or slow.
// Both are knobs the app turns on purpose.
//
// On top of that the app has one global speed (slow motion, ×1 down to ×1/50) that slows every
// node's *timers*: Raft ticks, heartbeats, election timeouts, publish retries and request
// timeouts run at rate × speed. The wall clock (`now()`) does not slow: it is what the outside
// world shares (the peers' clock-difference probe, curl's and etcdctl's TTLs, the log lines'
// timestamps), and a clock running at ×1/10 would drift 54 s from every client's per minute,
// then jump on a restart. A TTL is therefore a wall-clock deadline, at any speed.

export class NodeClock {
  private baseReal = Date.now();
  private baseNode = Date.now();
  private rateValue = 1;
  private speedValue = 1;
  private readonly listeners = new Set<() => void>();

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

  /** The app's global slow motion (1 = real time). */
  get speed(): number {
    return this.speedValue;
  }

  /** How fast this node's timers run against real time: its own rate × the global speed. */
  get timerRate(): number {
    return this.rateValue * this.speedValue;
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
    this.changed();
  }

  /** The global slow motion: timers run `speed` times as fast (0 < speed ≤ 1); now() is unaffected. */
  setSpeed(speed: number): void {
    if (!(speed > 0 && speed <= 1)) throw new RangeError(`speed must be in (0, 1], got ${speed}`);
    if (speed === this.speedValue) return;
    this.speedValue = speed;
    this.changed();
  }

  /** Told whenever timerRate changes (so that running timers are rescheduled at once). */
  onTimerRate(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of [...this.listeners]) fn();
  }

  private rebase(): void {
    const now = this.now();
    this.baseReal = Date.now();
    this.baseNode = now;
  }
}

/**
 * Calls `tick` every `intervalMs` of this node's timer time (rate × speed: a clock at rate 2
 * ticks twice as often in real time, at ×1/10 ten times less often). When the rate or the speed
 * changes, the tick in progress keeps the share of its interval already done: going from ×1/50
 * back to ×1 does not wait out a 5-second tick. Returns a stop function.
 */
export function startTicker(clock: NodeClock, intervalMs: number, tick: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Real time the current interval started, and the fraction of it done before that. */
  let startedAt = Date.now();
  let doneBefore = 0;
  let realMs = intervalMs / clock.timerRate;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(loop, Math.max(0, (1 - doneBefore) * realMs));
  };
  const loop = () => {
    if (stopped) return;
    tick();
    startedAt = Date.now();
    doneBefore = 0;
    realMs = intervalMs / clock.timerRate;
    arm();
  };
  const off = clock.onTimerRate(() => {
    if (stopped) return;
    const now = Date.now();
    doneBefore = Math.min(1, doneBefore + (now - startedAt) / realMs);
    startedAt = now;
    realMs = intervalMs / clock.timerRate;
    arm();
  });
  arm();
  return () => {
    stopped = true;
    off();
    clearTimeout(timer);
  };
}
