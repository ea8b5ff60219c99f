// The window's timeline logic, as pure functions (no browser): events are drawn in the order of
// the cluster's own clock whatever order their batches arrive in, a mark lands exactly when its
// delivery is drawn, and the timer rings move only with the node's ticks.
import { describe, expect, it } from 'vitest';
import type { ServerEvent } from '../../src-shared/protocol.js';
import {
  DISPLAY_LAG_MS,
  flightAt,
  LANDED_FADE_MS,
  lostGrace,
  Playout,
  timerFill,
} from '../../src-renderer/lib/playout.js';

const msg = (at: number, id: number, from: string, to: string, due = at): ServerEvent => ({
  type: 'message',
  at,
  id,
  due,
  from,
  to,
  msgType: 'MsgVote',
  term: 2,
});
const delivered = (at: number, id: number, from: string, to: string): ServerEvent => ({
  type: 'delivered',
  at,
  id,
  from,
  to,
});
const vote = (at: number, node: string, candidate: string): ServerEvent => ({
  type: 'raft',
  at,
  node,
  event: { kind: 'vote', candidate, term: 2, pre: false, granted: true },
});
const role = (at: number, node: string, r: 'candidate' | 'leader'): ServerEvent => ({
  type: 'raft',
  at,
  node,
  event: { kind: 'role', role: r, term: 2, lead: '' },
});
const cluster = (at: number): ServerEvent => ({
  type: 'cluster',
  at,
  cluster: { dir: '', generation: 1, nodes: [], cuts: [] },
});
const label = (e: ServerEvent): string => {
  switch (e.type) {
    case 'message':
      return `send#${e.id}`;
    case 'delivered':
      return `land#${e.id}`;
    case 'raft':
      return `${e.node}:${e.event.kind}`;
    case 'cluster':
      return 'snapshot';
    case 'ack':
      return `ack:${e.id}`;
    default:
      return e.type;
  }
};

describe('Playout', () => {
  it("draws events in the order of their time, whichever node's batch came first", () => {
    const p = new Playout();
    // n2's worker flushed first: the delivery of n1's vote request and the vote it caused...
    p.push([delivered(1010, 7, 'n1', 'n2'), vote(1012, 'n2', 'n1')], 1030);
    // ...then n1's batch with the request itself, and the supervisor's snapshot.
    p.push([role(1000, 'n1', 'candidate'), msg(1000, 7, 'n1', 'n2', 1010)], 1040);
    p.push([cluster(1020)], 1045);
    expect(p.take(1011).map(label)).toEqual(['send#7', 'n1:role', 'land#7']);
    expect(p.take(1100).map(label)).toEqual(['n2:vote', 'snapshot']);
    expect(p.waiting).toBe(0);
  });

  it('in the same millisecond: a send first, a snapshot last, arrival order otherwise', () => {
    const p = new Playout();
    p.push([cluster(5), vote(5, 'n2', 'n1'), delivered(5, 1, 'n1', 'n2')], 10);
    p.push([msg(5, 1, 'n1', 'n2')], 11);
    expect(p.take(5).map(label)).toEqual(['send#1', 'n2:vote', 'land#1', 'snapshot']);
  });

  it('holds each event until display time, the real time minus the lag', () => {
    const p = new Playout();
    p.push([vote(1000, 'n2', 'n1')], 1005);
    expect(p.displayTime(1005)).toBe(1005 - DISPLAY_LAG_MS);
    expect(p.take(p.displayTime(1005))).toEqual([]);
    expect(p.take(p.displayTime(1000 + DISPLAY_LAG_MS)).map(label)).toEqual(['n2:vote']);
  });

  it("an answer to a command is drawn after what came before it, so it sees the command's effect", () => {
    const p = new Playout();
    const ack: ServerEvent = { type: 'ack', id: 'w1' };
    // Nothing waiting: at once.
    expect(p.push([ack], 100)).toEqual([ack]);
    // Behind the snapshot of the same batch: with it, after it.
    expect(p.push([role(200, 'n1', 'leader'), cluster(210), ack], 215)).toEqual([]);
    expect(p.take(209).map(label)).toEqual(['n1:role']);
    expect(p.take(210).map(label)).toEqual(['snapshot', 'ack:w1']);
  });

  it('a late batch raises the lag (up to a bound) so the events after it stay in order; old news does not', () => {
    const p = new Playout();
    p.push([vote(1000, 'n2', 'n1')], 1000 + DISPLAY_LAG_MS + 30);
    expect(p.lagMs).toBe(DISPLAY_LAG_MS + 30);
    p.relax(50 * 30);
    expect(p.lagMs).toBe(DISPLAY_LAG_MS);
    // The story a late window is told (seconds old) is drawn at once, with no lag change.
    p.push([vote(1000, 'n3', 'n1')], 60_000);
    expect(p.lagMs).toBe(DISPLAY_LAG_MS);
  });
});

describe('flightAt', () => {
  const f = { sentAt: 1000, dueAt: 1400 };
  it('crosses its link from the send to the planned arrival, and waits short of the receiver until delivered', () => {
    expect(flightAt(f, 1000)).toEqual({ p: 0, alpha: 1, landed: false });
    expect(flightAt(f, 1200)!.p).toBeCloseTo(0.5);
    expect(flightAt(f, 1450)!.p).toBe(0.97);
    expect(flightAt(f, 1450)!.landed).toBe(false);
  });
  it('lands exactly when its delivery is drawn, then fades at the receiver', () => {
    const landed = { ...f, landedAt: 1410 };
    expect(flightAt(landed, 1409)!.landed).toBe(false);
    expect(flightAt(landed, 1410)).toEqual({ p: 1, alpha: 1, landed: true });
    expect(flightAt(landed, 1410 + LANDED_FADE_MS)).toBeUndefined();
  });
  it('a message that never arrives (dropped, cut, target down) fades out where it is', () => {
    expect(flightAt({ ...f, lostAt: 1100 }, 1100)!.alpha).toBe(1);
    expect(flightAt({ ...f, lostAt: 1100 }, 1300)!.alpha).toBeLessThan(1);
    expect(flightAt({ ...f, lostAt: 1100 }, 5000)).toBeUndefined();
    // No word at all: given up some time after it was due.
    const late = 1400 + lostGrace(400);
    expect(flightAt(f, late - 1)!.alpha).toBe(1);
    expect(flightAt(f, late + 100)!.alpha).toBeLessThan(1);
  });
});

describe('timerFill', () => {
  it("drains at the pace of the node's ticks", () => {
    const a = { elapsed: 2, timeout: 10, tickMs: 1000, at: 5000 };
    expect(timerFill(a, 5000)).toBeCloseTo(0.8);
    expect(timerFill(a, 5500)).toBeCloseTo(0.75);
    expect(timerFill(a, 100_000)).toBe(0);
  });
  it("a stopped clock (step mode) is a still ring; each tick reported moves it by one tick's share", () => {
    const a = { elapsed: 3, timeout: 12, tickMs: null, at: 5000 };
    expect(timerFill(a, 5000)).toBe(timerFill(a, 60_000));
    expect(timerFill(a, 5000) - timerFill({ ...a, elapsed: 4, at: 7000 }, 9000)).toBeCloseTo(1 / 12);
  });
});

describe('the election timer a worker reports (TimerAnchor)', () => {
  it('is re-anchored only when the count departs from what a viewer extrapolates', async () => {
    const { TimerAnchor } = await import('../../src-main/cluster/worker-state.js');
    const a = new TimerAnchor();
    const first = a.read(2, 10, 100, 1000);
    // Ticking along at its pace: the same report, no update to send.
    expect(a.read(3, 10, 100, 1100)).toBe(first);
    expect(a.read(5, 10, 100, 1350)).toBe(first);
    // Reset by a heartbeat: a new anchor.
    const reset = a.read(0, 10, 100, 1400);
    expect(reset).toEqual({ elapsed: 0, timeout: 10, tickMs: 100, at: 1400 });
    // Clock stopped (step mode): still; each tick is a new anchor one tick on.
    const stopped = a.read(0, 10, null, 1500);
    expect(stopped.tickMs).toBeNull();
    expect(a.read(0, 10, null, 9000)).toBe(stopped);
    expect(a.read(1, 10, null, 9100).elapsed).toBe(1);
    // A new pace (slow motion) or a new randomized timeout: a new anchor.
    expect(a.read(1, 10, 1000, 9200).tickMs).toBe(1000);
    expect(a.read(1, 14, 1000, 9300).timeout).toBe(14);
  });
});
