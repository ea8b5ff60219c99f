// The slow network's delay queue, on fake timers: ids, flight times, per-peer order, drops,
// cut links and speed changes mid-flight.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Message } from '../../src-shared/raft-types.js';
import { flightMs, SlowNetwork, type LostReason } from '../../src-main/node/slow-network.js';
import { nth, one } from '../helpers/checked.js';

const msg = (type: Message['type'], to: string, index = 0): Message => ({ type, from: 'a', to, term: 1, index });

interface Rig {
  net: SlowNetwork;
  /** What went on the wire, with the (fake) time it left. */
  wire: { m: Message; at: number }[];
  sent: { id: number; at: number; due: number }[];
  lost: { id: number; reason: LostReason }[];
  cut: Set<string>;
}

function rig(speed: number): Rig {
  const r: Rig = { net: undefined as unknown as SlowNetwork, wire: [], sent: [], lost: [], cut: new Set() };
  r.net = new SlowNetwork({
    idBase: 1000,
    speed,
    isCut: (p) => r.cut.has(p),
    onSent: (m, at, due) => r.sent.push({ id: m.id!, at, due }),
    onLost: (m, reason) => r.lost.push({ id: m.id!, reason }),
  });
  return r;
}

const submit = (r: Rig, msgs: Message[]) =>
  r.net.submit(msgs, (out) => r.wire.push(...out.map((m) => ({ m, at: Date.now() }))));

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SlowNetwork', () => {
  it('at ×1 adds nothing: every message goes out at once, stamped with an id', () => {
    const r = rig(1);
    submit(r, [msg('MsgVote', 'b'), msg('MsgVote', 'c')]);
    expect(r.wire.map((w) => w.m.id)).toEqual([1001, 1002]);
    expect(r.wire.every((w) => w.at === 1_000_000)).toBe(true);
    expect(r.sent).toEqual([
      { id: 1001, at: 1_000_000, due: 1_000_000 },
      { id: 1002, at: 1_000_000, due: 1_000_000 },
    ]);
    expect(r.net.waiting).toBe(0);
  });

  it('at ×1/10 holds each message for ten times its flight, and says when it will arrive', () => {
    const r = rig(0.1);
    submit(r, [msg('MsgVote', 'b'), msg('MsgHeartbeat', 'c')]);
    expect(r.wire).toHaveLength(0);
    const vote = flightMs({ type: 'MsgVote' }) * 10;
    const hb = flightMs({ type: 'MsgHeartbeat' }) * 10;
    expect(r.sent.map((s) => s.due - s.at)).toEqual([vote, hb]);
    vi.advanceTimersByTime(hb - 1);
    expect(r.wire).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(r.wire.map((w) => [w.m.type, w.at - 1_000_000])).toEqual([['MsgHeartbeat', hb]]);
    vi.advanceTimersByTime(vote - hb);
    expect(r.wire.map((w) => [w.m.type, w.at - 1_000_000])).toEqual([
      ['MsgHeartbeat', hb],
      ['MsgVote', vote],
    ]);
  });

  it("keeps each peer's order: a quicker heartbeat never overtakes an append to the same peer", () => {
    const r = rig(0.1);
    submit(r, [msg('MsgApp', 'b', 1)]);
    vi.advanceTimersByTime(50);
    submit(r, [msg('MsgHeartbeat', 'b', 2), msg('MsgHeartbeat', 'c', 3)]);
    vi.advanceTimersByTime(1000);
    const toB = r.wire.filter((w) => w.m.to === 'b').map((w) => w.m.index);
    expect(toB).toEqual([1, 2]);
    // The heartbeat to b waited for the append; the one to c did not.
    const at = (i: number) => r.wire.find((w) => w.m.index === i)!.at - 1_000_000;
    expect(at(2)).toBe(at(1));
    expect(at(3)).toBe(50 + 250);
    // Its announced arrival said so too.
    expect(nth(r.sent, 1).due).toBe(nth(r.sent, 0).due);
  });

  it('a dropped message never goes out; the others keep their times', () => {
    const r = rig(0.1);
    submit(r, [msg('MsgVote', 'b'), msg('MsgVote', 'c')]);
    const [b, c] = [nth(r.sent, 0).id, nth(r.sent, 1).id];
    expect(r.net.drop(b)).toBe(true);
    expect(r.lost).toEqual([{ id: b, reason: 'dropped' }]);
    expect(r.net.drop(b)).toBe(false);
    vi.advanceTimersByTime(10_000);
    expect(r.wire.map((w) => w.m.id)).toEqual([c]);
    expect(one(r.wire).at - 1_000_000).toBe(400);
    // Gone already: nothing to drop.
    expect(r.net.drop(c)).toBe(false);
  });

  it('a link cut while a message waits loses it instead of sending it', () => {
    const r = rig(0.1);
    submit(r, [msg('MsgVote', 'b'), msg('MsgVote', 'c')]);
    r.cut.add('b');
    vi.advanceTimersByTime(1000);
    expect(r.wire.map((w) => w.m.to)).toEqual(['c']);
    expect(r.lost).toEqual([{ id: nth(r.sent, 0).id, reason: 'cut' }]);
  });

  it('a speed change mid-flight keeps the share of the flight already done', () => {
    const r = rig(0.1);
    submit(r, [msg('MsgVote', 'b')]); // 40 ms of cluster time: 400 ms at ×1/10
    vi.advanceTimersByTime(100); // a quarter done
    r.net.setSpeed(0.02); // the remaining 30 ms of cluster time take 1500 ms at ×1/50
    expect(r.net.dueAt(one(r.sent).id)).toBe(1_000_000 + 100 + 1500);
    vi.advanceTimersByTime(1499);
    expect(r.wire).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(r.wire).toHaveLength(1);
  });

  it('back to ×1, everything waiting leaves at once, in order', () => {
    const r = rig(0.02);
    submit(r, [msg('MsgApp', 'b', 1), msg('MsgApp', 'b', 2), msg('MsgVote', 'c', 3)]);
    vi.advanceTimersByTime(100);
    r.net.setSpeed(1);
    vi.advanceTimersByTime(0);
    expect(r.wire.map((w) => w.m.index)).toEqual([1, 2, 3]);
    expect(r.wire.every((w) => w.at === 1_000_100)).toBe(true);
    // And later messages go straight out again.
    submit(r, [msg('MsgApp', 'b', 4)]);
    expect(r.wire.at(-1)!.m.index).toBe(4);
  });

  it('a message to a peer with messages still waiting waits its turn even at ×1', () => {
    const r = rig(0.1);
    submit(r, [msg('MsgApp', 'b', 1)]);
    r.net.setSpeed(1);
    // Not yet run: the timer fires on the next turn; a new message must not overtake.
    submit(r, [msg('MsgApp', 'b', 2)]);
    vi.advanceTimersByTime(0);
    expect(r.wire.map((w) => w.m.index)).toEqual([1, 2]);
  });

  it('refuses a speed outside (0, 1]', () => {
    expect(() => rig(0)).toThrow(/speed/);
    expect(() => rig(0.1).net.setSpeed(2)).toThrow(/speed/);
  });
});
