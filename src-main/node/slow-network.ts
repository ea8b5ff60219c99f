// The app's slow network: in slow motion (global speed s < 1) every peer message waits in its
// sender for exactly the flight time the window draws, then goes on the real peer connection.
// So the mark the window shows crossing a link *is* the message in flight: it lands when the
// receiver really steps it in, and nothing it causes can happen before.
//
// Each message gets an id (unique across the app's nodes: idBase + a counter) that travels on
// the wire (Message.id, ignored by Raft), so the receiver can report its delivery. Per peer the
// queue is FIFO (Raft expects a peer's messages in the order they were sent: a quicker
// heartbeat never overtakes an append). At ×1 nothing is added: true real time.
//
// Flight times are in cluster time (the time the nodes' timers see): at ×1/10 a 40 ms flight
// takes 400 ms of real time. When the speed changes mid-flight, each message keeps the share
// of its flight already done.

import type { Message } from '../../src-shared/raft-types.js';

/** Cluster-time flight of a message: heartbeats are quick, everything else a little slower. */
export function flightMs(m: Pick<Message, 'type'>): number {
  return m.type === 'MsgHeartbeat' || m.type === 'MsgHeartbeatResp' ? 25 : 40;
}

export type LostReason = 'dropped' | 'cut';

export interface SlowNetworkOptions {
  /** Ids are idBase + 1, idBase + 2...; give every node of the app a base of its own. */
  idBase: number;
  /** Initial speed (0 < s ≤ 1); default 1. */
  speed?: number;
  /** A link cut while a message was waiting: it is lost, not sent. */
  isCut?: (peer: string) => boolean;
  /** Told of every message handed in, with its id stamped, when it left and when it will arrive (real ms). */
  onSent?: (m: Message, at: number, dueAt: number) => void;
  /** Told of a message that will never go on the wire (dropped by the user, or its link cut). */
  onLost?: (m: Message, reason: LostReason) => void;
  /** Real time; tests may pass their own. */
  now?: () => number;
  flightMs?: (m: Message) => number;
}

interface InFlight {
  m: Message;
  /** Cluster ms of flight still to go as of `mark` (real ms). */
  left: number;
  mark: number;
  /** Real ms when it leaves for the wire. */
  due: number;
}

export class SlowNetwork {
  private seq: number;
  private speedValue: number;
  /** Per target peer, in the order sent. */
  private readonly queues = new Map<string, InFlight[]>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private stopped = false;
  private readonly now: () => number;
  private readonly flight: (m: Message) => number;
  /** Where due messages go: set by the transport that uses this network (see attach). */
  private go: ((msgs: Message[]) => void) | undefined;

  constructor(private readonly opts: SlowNetworkOptions) {
    this.seq = opts.idBase;
    this.speedValue = checkSpeed(opts.speed ?? 1);
    this.now = opts.now ?? Date.now;
    this.flight = opts.flightMs ?? flightMs;
  }

  get speed(): number {
    return this.speedValue;
  }

  /** Messages waiting, oldest first per peer (for tests and the window). */
  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /**
   * Takes messages the node sends (cut links already left out): stamps their ids and either
   * hands them straight to `send` (×1, nothing waiting for that peer) or keeps them until due.
   */
  submit(msgs: Message[], send: (msgs: Message[]) => void): void {
    if (this.stopped) return;
    this.go = send;
    const now = this.now();
    const straight: Message[] = [];
    for (const m of msgs) {
      m.id = ++this.seq;
      const q = this.queues.get(m.to);
      if (this.speedValue >= 1 && !q?.length) {
        straight.push(m);
        this.opts.onSent?.(m, now, now);
        continue;
      }
      const f: InFlight = { m, left: this.flight(m), mark: now, due: 0 };
      f.due = this.dueOf(f, q);
      this.opts.onSent?.(m, now, f.due);
      if (q) q.push(f);
      else this.queues.set(m.to, [f]);
    }
    if (straight.length > 0) send(straight);
    this.arm();
  }

  /** Removes a waiting message: it never reaches its target. False if it already left (or never was). */
  drop(id: number): boolean {
    for (const [peer, q] of this.queues) {
      const i = q.findIndex((f) => f.m.id === id);
      if (i < 0) continue;
      const f = q[i]!; // found just now
      q.splice(i, 1);
      if (q.length === 0) this.queues.delete(peer);
      this.opts.onLost?.(f.m, 'dropped');
      this.arm();
      return true;
    }
    return false;
  }

  /** A new global speed: every waiting message keeps the share of its flight already done. */
  setSpeed(speed: number): void {
    checkSpeed(speed);
    if (speed === this.speedValue) return;
    const now = this.now();
    for (const q of this.queues.values()) {
      for (const f of q) {
        f.left = Math.max(0, f.left - (now - f.mark) * this.speedValue);
        f.mark = now;
      }
    }
    this.speedValue = speed;
    for (const q of this.queues.values()) {
      let prev: InFlight | undefined;
      for (const f of q) {
        f.due = this.dueOf(f, prev ? [prev] : undefined);
        prev = f;
      }
    }
    this.arm(true);
  }

  /** The planned arrival (real ms) of a message still waiting. */
  dueAt(id: number): number | undefined {
    for (const q of this.queues.values()) for (const f of q) if (f.m.id === id) return f.due;
    return undefined;
  }

  /** Forget everything waiting (the node stops: its messages die with it). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queues.clear();
  }

  // ------------------------------------------------------------------ inside

  /** Not before the message ahead of it to the same peer: per-peer FIFO. */
  private dueOf(f: InFlight, ahead: InFlight[] | undefined): number {
    const own = this.speedValue >= 1 ? f.mark : f.mark + f.left / this.speedValue;
    const last = ahead?.at(-1);
    return last ? Math.max(own, last.due) : own;
  }

  /** One timer for the earliest message due. */
  private arm(force = false): void {
    if (this.stopped) return;
    let next = Infinity;
    for (const [first] of this.queues.values()) if (first) next = Math.min(next, first.due);
    if (!force && next === this.timerAt) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = next;
    if (next === Infinity) return;
    this.timer = setTimeout(() => this.release(), Math.max(0, next - this.now()));
  }

  private release(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.stopped) return;
    const now = this.now();
    const out: Message[] = [];
    for (const [peer, q] of this.queues) {
      while (q.length > 0 && q[0]!.due <= now) {
        const f = q.shift()!;
        if (this.opts.isCut?.(peer)) this.opts.onLost?.(f.m, 'cut');
        else out.push(f.m);
      }
      if (q.length === 0) this.queues.delete(peer);
    }
    if (out.length > 0) this.go?.(out);
    this.arm(true);
  }
}

function checkSpeed(s: number): number {
  if (!(s > 0 && s <= 1)) throw new RangeError(`speed must be in (0, 1], got ${s}`);
  return s;
}
