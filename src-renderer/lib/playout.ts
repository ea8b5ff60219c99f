// The window plays the cluster's own timeline. Every event carries `at`, the real time the node
// (or the supervisor) produced it, on the one clock all the app's workers share; events reach
// the window in batches, per node, up to a few tens of ms late. So the window draws each event
// at `at` + a small display lag, in the order of `at`: the delivery of a message on node B is
// drawn before the vote or role that B's Raft made once it had stepped it in, and a message's
// mark lands exactly when its delivery is drawn. Pure: no DOM, no Svelte (test/app/playout.test.ts).

import type { ServerEvent } from '../../src-shared/protocol.js';
import type { MessageType, Role } from '../../src-shared/raft-types.js';

/** Covers the workers' batching (16 ms), the supervisor's (16 ms) and the trip to the window. */
export const DISPLAY_LAG_MS = 60;
/** An event later than the lag raises it (so the next ones stay in order), up to this. */
export const MAX_LAG_MS = 400;

/** When an event happened, if it says (acks and answered errors are not on the timeline). */
export function eventTime(e: ServerEvent): number | undefined {
  switch (e.type) {
    case 'ack':
    case 'error':
      return undefined;
    case 'cluster':
      return e.at;
    default:
      return e.at;
  }
}

/**
 * Among events of the same millisecond: a message before anything else (a node's sends are
 * reported before the Raft events of the same Ready; a delivery cannot precede its send), and a
 * cluster snapshot last (it was taken after the events it reflects).
 */
function rank(e: ServerEvent): number {
  return e.type === 'message' ? 0 : e.type === 'cluster' ? 2 : eventTime(e) === undefined ? 3 : 1;
}

interface Queued {
  e: ServerEvent;
  at: number;
  rank: number;
  seq: number;
}

export class Playout {
  private buf: Queued[] = [];
  private seq = 0;
  lagMs: number;

  constructor(lagMs = DISPLAY_LAG_MS) {
    this.lagMs = lagMs;
  }

  /**
   * Takes a batch as it arrived at real time `now`. Events without a time of their own (a
   * command's ack or error, an untimed snapshot) keep their place: they are drawn with the
   * latest event received so far (the ack of a command comes after what the command did, so a
   * view that reads the cluster once its command is answered sees its effect). Returns the
   * events due at once: untimed ones with nothing ahead of them.
   */
  push(batch: ServerEvent[], now: number): ServerEvent[] {
    const immediate: ServerEvent[] = [];
    let latest = -Infinity;
    for (const e of batch) {
      const at = eventTime(e);
      if (at !== undefined && at > latest) latest = at;
    }
    if (latest > this.latest) this.latest = latest;
    for (const e of batch) {
      const at = eventTime(e);
      if (at === undefined) {
        if (this.buf.length === 0) immediate.push(e);
        else this.insert({ e, at: this.latest, rank: 3, seq: ++this.seq });
        continue;
      }
      // A batch a little late (a busy moment) raises the lag; old news (a window that connects
      // late is told the story so far) is just drawn at once.
      const late = now - this.lagMs - at;
      if (late > 0 && late < MAX_LAG_MS) this.lagMs = Math.min(MAX_LAG_MS, this.lagMs + late);
      this.insert({ e, at, rank: rank(e), seq: ++this.seq });
    }
    return immediate;
  }

  /** The latest `at` received. */
  private latest = -Infinity;

  /** Every event due by display time `t` (real time minus the lag), in timeline order. */
  take(t: number): ServerEvent[] {
    let n = 0;
    while (n < this.buf.length && this.buf[n]!.at <= t) n++;
    if (n === 0) return [];
    return this.buf.splice(0, n).map((q) => q.e);
  }

  /** Everything still waiting, in order (a replay, or a reset, takes it all). */
  drain(): ServerEvent[] {
    const out = this.buf.map((q) => q.e);
    this.buf = [];
    return out;
  }

  get waiting(): number {
    return this.buf.length;
  }

  /** The display time for real time `now`. */
  displayTime(now: number): number {
    return now - this.lagMs;
  }

  /** A lag raised by a late batch eases back (1 ms per 50 ms of real time) towards the normal. */
  relax(elapsedMs: number): void {
    if (this.lagMs > DISPLAY_LAG_MS) this.lagMs = Math.max(DISPLAY_LAG_MS, this.lagMs - elapsedMs / 50);
  }

  private insert(q: Queued): void {
    const b = this.buf;
    // Batches arrive nearly in order: search from the end.
    let i = b.length;
    while (i > 0 && before(q, b[i - 1]!)) i--;
    b.splice(i, 0, q);
  }
}

function before(a: Queued, b: Queued): boolean {
  if (a.at !== b.at) return a.at < b.at;
  if (a.rank !== b.rank) return a.rank < b.rank;
  return a.seq < b.seq;
}

// ------------------------------------------------------------------ marks in flight

/** A clickable mark as drawn this frame (viewBox coordinates of the cluster view). */
export interface MarkDrawn {
  x: number;
  y: number;
  r: number;
  msgType: MessageType;
  from: string;
  to: string;
  /** A live message's id, or a held one's (step mode). */
  id?: number;
  heldId?: number;
}

/** One change the window drew, for tests (window.__raftlabDrawn) and the curious. */
export interface DrawnChange {
  seq: number;
  /** The frame that drew it (a counter) and that frame's performance.now(). */
  frame: number;
  time: number;
  /** The cluster time (real ms) of the event drawn. */
  at: number;
  kind: 'landed' | 'lost' | 'role' | 'vote' | 'term';
  /** The node that changed; for a mark, its receiver. */
  node: string;
  id?: number;
  msgType?: MessageType;
  from?: string;
  term?: number;
  role?: Role;
  vote?: string;
}

export interface FlightTimes {
  /** When it left, when it is due to arrive (real ms); when its delivery or loss was drawn. */
  sentAt: number;
  dueAt: number;
  landedAt?: number;
  lostAt?: number;
}

/** How long a landed mark stays visible at its receiver, fading; and a lost one, fading where it was. */
export const LANDED_FADE_MS = 220;
export const LOST_FADE_MS = 400;

/**
 * Where a mark is at display time `t`: `p` of the way along its link (0 sender, 1 receiver) and
 * its opacity; undefined once it is gone. Until its delivery is drawn it never reaches the
 * receiver: it waits just short of it (the target has not stepped it in yet). A message not
 * delivered well after it was due (a node down, the wire broken) fades out where it is.
 */
export function flightAt(f: FlightTimes, t: number): { p: number; alpha: number; landed: boolean } | undefined {
  const span = Math.max(1, f.dueAt - f.sentAt);
  if (f.landedAt !== undefined && t >= f.landedAt) {
    const k = (t - f.landedAt) / LANDED_FADE_MS;
    return k >= 1 ? undefined : { p: 1, alpha: 1 - k, landed: true };
  }
  const p = Math.min(0.97, Math.max(0, (t - f.sentAt) / span));
  const lostAt = f.lostAt ?? (t > f.dueAt + lostGrace(span) ? f.dueAt + lostGrace(span) : undefined);
  if (lostAt !== undefined && t >= lostAt) {
    const k = (t - lostAt) / LOST_FADE_MS;
    return k >= 1 ? undefined : { p, alpha: 1 - k, landed: false };
  }
  return { p, alpha: 1, landed: false };
}

/** How long after its due time a mark keeps waiting for its delivery before it is given up. */
export function lostGrace(spanMs: number): number {
  return Math.max(1000, 2 * spanMs);
}

// ------------------------------------------------------------------ timer rings

export interface TimerAnchor {
  elapsed: number;
  timeout: number;
  tickMs: number | null;
  at: number;
}

/**
 * How full an election timer is at display time `t` (1 = just reset, 0 = fires), from the
 * node's own tick count: it moves between reports only at the pace of the node's ticks, and a
 * stopped clock (tickMs null, step mode) holds it still.
 */
export function timerFill(a: TimerAnchor, t: number): number {
  const run = a.tickMs === null || a.tickMs <= 0 ? 0 : Math.max(0, t - a.at) / a.tickMs;
  const elapsed = Math.min(a.timeout, a.elapsed + run);
  return Math.max(0, 1 - elapsed / Math.max(1, a.timeout));
}
