// Step mode on a real cluster (worker threads, loopback ports, SQLite): the supervisor holds
// every peer message the nodes' Raft emits and is their only clock; the test steps them.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { agreedLeader, type HeldMessage, type NodeState } from '../../src-shared/cluster-state.js';
import type { KvResult, StepRunResult } from '../../src-shared/command-results.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import type { RaftEvent } from '../../src-shared/raft-types.js';
import { until } from '../helpers/cluster.js';

const OPTS = { heartbeatMs: 50, electionMs: 500 };

let sup: Supervisor;
let events: ServerEvent[];
let syncSeq = 0;

const snap = () => sup.snapshot();
const held = (): HeldMessage[] => snap().step!.held;
const node = (name: string): NodeState => snap().nodes.find((n) => n.name === name)!;

/** Every event the supervisor queued so far has gone out: an ack comes after them. */
async function drained(s = sup, evs = events): Promise<void> {
  const id = `sync-${++syncSeq}`;
  await s.handle({ id, cmd: { type: 'healAll' } });
  await until('the ack', () => evs.some((e) => e.type === 'ack' && e.id === id));
}

/** A leader every node follows, with every member published and committed everywhere. */
async function stableLeader(): Promise<string> {
  return until(
    'a stable cluster',
    () => {
      const s = snap();
      const l = agreedLeader(s);
      const alive = s.nodes.filter((n) => n.status === 'alive');
      const published = alive.every((n) => l?.log.some((e) => e.data === `publish ${n.name}` && e.index <= l.commit));
      return l && published && alive.every((n) => n.commit === l.commit && n.applied === l.commit) ? l.name : undefined;
    },
    15_000,
  );
}

/** Messages sent before step mode began may still land (their answers are held): wait for calm. */
async function settled(): Promise<void> {
  let last = '';
  let since = Date.now();
  await until('the held queue to settle', () => {
    const k = held()
      .map((h) => h.id)
      .join(',');
    if (k !== last) {
      last = k;
      since = Date.now();
    }
    return Date.now() - since >= 300;
  });
}

beforeEach(() => {
  sup = new Supervisor(OPTS);
  events = [];
  sup.on('events', (batch) => events.push(...batch));
});

afterEach(async () => {
  await sup.stop();
});

describe('step mode', () => {
  it('nothing moves while nobody steps: no messages, no ticks, terms unchanged', async () => {
    await sup.start(3);
    await stableLeader();
    await sup.execute({ type: 'stepMode', on: true, seed: 1 });
    expect(snap().step).toMatchObject({ on: true, seed: 1 });
    await settled();
    const before = { held: held(), terms: snap().nodes.map((n) => [n.term, n.role, n.commit]) };
    const t0 = Date.now();
    // Two election timeouts at most: in real time, followers would have campaigned by now.
    await new Promise((r) => setTimeout(r, 1000));
    expect(held()).toEqual(before.held);
    expect(snap().nodes.map((n) => [n.term, n.role, n.commit])).toEqual(before.terms);
    await drained();
    const moved = events.filter((e) => (e.type === 'message' || e.type === 'raft' || e.type === 'step') && e.at > t0);
    expect(moved).toEqual([]);
    // What is held came in on the wire before step mode (answers to the last heartbeats...).
    for (const h of held())
      expect([h.from, h.to]).toEqual([expect.stringMatching(/^n\d$/), expect.stringMatching(/^n\d$/)]);
  });

  it('kill the leader, then drive the election by ticks and deliveries only', async () => {
    await sup.start(3);
    const old = await stableLeader();
    const oldTerm = node(old).term;
    await sup.execute({ type: 'stepMode', on: true, seed: 99 });
    await sup.execute({ type: 'killNode', name: old });
    await settled();
    const start = events.length;
    const survivors = snap()
      .nodes.filter((n) => n.name !== old)
      .map((n) => n.name);
    const newLeader = () => survivors.find((n) => node(n).role === 'leader' && node(n).term > oldTerm);
    let steps = 0;
    for (; steps < 500 && !newLeader(); steps++) {
      const next = held()[0];
      if (next) await sup.execute({ type: 'stepDeliver', id: next.id });
      else await sup.execute({ type: 'stepTick' });
    }
    const winner = newLeader();
    expect(winner).toBeDefined();
    await drained();
    const ids = new Map(snap().nodes.map((n) => [n.id, n.name]));
    const after = events.slice(start);
    const term = node(winner!).term;
    const at = (what: string, f: (e: ServerEvent) => boolean) => {
      const i = after.findIndex(f);
      expect(i, what).toBeGreaterThanOrEqual(0);
      return i;
    };
    const isRaft = (e: ServerEvent, n: string, f: (r: RaftEvent) => boolean) =>
      e.type === 'raft' && e.node === n && f(e.event);
    const timeout = at('the winner times out', (e) => isRaft(e, winner!, (r) => r.kind === 'election-timeout'));
    const voteHeld = at(
      'its vote requests are held',
      (e) =>
        e.type === 'step' &&
        e.fate === 'held' &&
        e.message.msgType === 'MsgVote' &&
        e.message.from === winner &&
        e.message.term === term,
    );
    const voteDelivered = at(
      'then delivered',
      (e) =>
        e.type === 'step' &&
        e.fate === 'delivered' &&
        e.message.msgType === 'MsgVote' &&
        e.message.from === winner &&
        e.message.term === term,
    );
    const granted = at(
      'a vote granted',
      (e) =>
        e.type === 'raft' &&
        e.event.kind === 'vote' &&
        !e.event.pre &&
        e.event.granted &&
        ids.get(e.event.candidate) === winner &&
        e.event.term === term,
    );
    const leader = at('the winner leads', (e) => isRaft(e, winner!, (r) => r.kind === 'role' && r.role === 'leader'));
    expect(timeout).toBeLessThan(voteHeld);
    expect(voteHeld).toBeLessThan(voteDelivered);
    expect(voteDelivered).toBeLessThan(granted);
    expect(granted).toBeLessThan(leader);
    // A held vote request carries what voters compare; messages to the dead leader were dropped.
    const req = after.find((e) => e.type === 'step' && e.message.msgType === 'MsgVote');
    expect(req?.type === 'step' && req.message.candidate).toMatchObject({
      lastIndex: expect.any(Number),
      lastTerm: expect.any(Number),
    });
    expect(
      after.some((e) => e.type === 'step' && e.fate === 'dropped' && e.reason === 'down' && e.message.to === old),
    ).toBe(true);
    // Every delivery is also a real message on the link.
    expect(after.some((e) => e.type === 'message' && e.msgType === 'MsgVote' && e.from === winner)).toBe(true);
  });

  it('stepRunUntil reaches a leader; a restarted node starts in step mode; turning it off resumes real time', async () => {
    await sup.start(3);
    const old = await stableLeader();
    const follower = snap().nodes.find((n) => n.name !== old)!.name;
    await sup.execute({ type: 'stepMode', on: true, seed: 5 });
    await sup.execute({ type: 'killNode', name: old });
    const t = (await sup.execute({ type: 'stepRunUntil', until: 'election-timeout' })) as StepRunResult;
    expect(t).toMatchObject({ reached: true, event: { kind: 'election-timeout' } });
    const r = (await sup.execute({ type: 'stepRunUntil', until: 'leader' })) as StepRunResult;
    expect(r.reached).toBe(true);
    expect(r.node).not.toBe(old);
    expect(node(r.node!).role).toBe('leader');
    const none = (await sup.execute({ type: 'stepRunUntil', until: 'vote-granted', maxSteps: 3 })) as StepRunResult;
    expect(none).toEqual({ reached: false, steps: 3 });

    // Restarted in step mode, the old leader does nothing on its own (in real time it would
    // campaign within an election timeout), until stepped.
    await sup.execute({ type: 'restartNode', name: old });
    const t0 = Date.now();
    await new Promise((res) => setTimeout(res, 1200));
    await drained();
    expect(events.filter((e) => e.type === 'message' && e.at > t0 && e.from === old)).toEqual([]);
    expect(held().filter((h) => h.from === old)).toEqual([]);
    for (let i = 0; i < 100 && node(old).lead !== r.node; i++) {
      await sup.execute({ type: 'stepTick' });
      await sup.execute({ type: 'stepDeliverAll' });
    }
    expect(node(old).lead).toBe(r.node);

    // Off: held messages are delivered, and real time elects or keeps a leader.
    await sup.execute({ type: 'stepTick' }); // something held to deliver
    const pending = held().map((h) => h.id);
    expect(pending.length).toBeGreaterThan(0);
    await sup.execute({ type: 'stepMode', on: false });
    expect(snap().step).toMatchObject({ on: false });
    await drained();
    for (const id of pending) {
      expect(events.some((e) => e.type === 'step' && e.message.id === id && e.fate !== 'held')).toBe(true);
    }
    const tOff = Date.now();
    await until('an agreed leader in real time', () => agreedLeader(snap()));
    await until('heartbeats on the wire', () =>
      events.some((e) => e.type === 'message' && e.at > tOff && e.msgType === 'MsgHeartbeat'),
    );
    await until('no message held', () => held().length === 0);
    expect(node(follower).status).toBe('alive');
  });

  it('a put issued in step mode commits only after the needed deliveries', async () => {
    await sup.start(3);
    const leader = await stableLeader();
    const commit0 = node(leader).commit;
    await sup.execute({ type: 'stepMode', on: true, seed: 3 });
    await settled();
    let answer: KvResult | undefined;
    const put = sup
      .execute({ type: 'kv', name: leader, method: 'PUT', key: '/stepped', value: 'yes' })
      .then((r) => (answer = r as KvResult));
    const apps = await until('the appends held', () => {
      const a = held().filter(
        (h) => h.msgType === 'MsgApp' && h.entryDetails?.some((e) => e.data === 'set /stepped=yes'),
      );
      return a.length === 2 ? a : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(answer).toBeUndefined();
    for (const a of apps) await sup.execute({ type: 'stepDeliver', id: a.id });
    // Followers appended it; the leader has not heard so: still not committed.
    await new Promise((r) => setTimeout(r, 100));
    expect(answer).toBeUndefined();
    expect(node(leader).commit).toBe(commit0);
    const acks = held().filter((h) => h.msgType === 'MsgAppResp' && h.to === leader && !h.reject);
    expect(acks).toHaveLength(2);
    await sup.execute({ type: 'stepDeliver', id: acks[0]!.id }); // two, just checked
    expect(node(leader).commit).toBe(commit0 + 1);
    await put;
    expect(answer!.status).toBe(201);
    // A follower learns of the commit only from the leader's next message.
    const f = snap().nodes.find((n) => n.name !== leader)!.name;
    expect(node(f).commit).toBe(commit0);
  });

  it('cut links still apply: a held message across a cut is dropped on delivery', async () => {
    await sup.start(3);
    const leader = await stableLeader();
    const f = snap().nodes.find((n) => n.name !== leader)!.name;
    await sup.execute({ type: 'stepMode', on: true, seed: 4 });
    await settled();
    await sup.execute({ type: 'cutLink', a: leader, b: f });
    await sup.execute({ type: 'stepTick', name: leader });
    const hb = held().find((h) => h.msgType === 'MsgHeartbeat' && h.from === leader && h.to === f)!;
    expect(hb).toBeDefined();
    // An answer f gave before step mode came on may be held already: only a new one would be wrong.
    const answersBefore = new Set(
      held()
        .filter((h) => h.from === f && h.msgType === 'MsgHeartbeatResp')
        .map((h) => h.id),
    );
    await sup.execute({ type: 'stepDeliver', id: hb.id });
    await drained();
    expect(
      events.some((e) => e.type === 'step' && e.message.id === hb.id && e.fate === 'dropped' && e.reason === 'cut'),
    ).toBe(true);
    expect(held().filter((h) => h.from === f && h.msgType === 'MsgHeartbeatResp' && !answersBefore.has(h.id))).toEqual(
      [],
    );
    const other = held().find((h) => h.msgType === 'MsgHeartbeat' && h.from === leader && h.to !== f)!;
    await sup.execute({ type: 'stepDrop', id: other.id });
    await drained();
    expect(
      events.some((e) => e.type === 'step' && e.message.id === other.id && e.fate === 'dropped' && e.reason === 'user'),
    ).toBe(true);
    expect(held().some((h) => h.id === other.id)).toBe(false);
    await expect(sup.execute({ type: 'stepDeliver', id: other.id })).rejects.toThrow(/no held message/);
  });

  it('a member added in step mode starts in step mode and catches up by stepping', async () => {
    await sup.start(3);
    await stableLeader();
    await sup.execute({ type: 'stepMode', on: true, seed: 8 });
    let added: unknown;
    const add = sup.execute({ type: 'addMember' }).then((r) => (added = r));
    const caughtUp = () => {
      const l = agreedLeader(snap());
      const n4 = snap().nodes.find((n) => n.name === 'n4');
      return n4?.status === 'alive' && l && n4.lead === l.name && n4.applied === l.applied;
    };
    const deadline = Date.now() + 30_000;
    while (!(added && caughtUp()) && Date.now() < deadline) {
      await sup.execute({ type: 'stepTick' });
      await sup.execute({ type: 'stepDeliverAll' });
      if (!added) await new Promise((r) => setTimeout(r, 20)); // the worker of n4 is booting
    }
    await add;
    expect(caughtUp()).toBe(true);
    expect(held().every((h) => h.id > 0)).toBe(true);
  });

  it('is deterministic: same seed, same commands, same Raft events and held messages', async () => {
    const run = async (seed: number): Promise<{ trace: string[]; results: unknown[] }> => {
      const s = new Supervisor(OPTS);
      const evs: ServerEvent[] = [];
      s.on('events', (b) => evs.push(...b));
      try {
        // On before the cluster starts: every node starts from the same state, in step mode.
        await s.execute({ type: 'stepMode', on: true, seed });
        await s.start(3);
        const results: unknown[] = [];
        results.push(await s.execute({ type: 'stepRunUntil', until: 'leader' }));
        for (let i = 0; i < 3; i++) results.push(await s.execute({ type: 'stepRunUntil', until: 'commit' }));
        for (let i = 0; i < 12; i++) {
          await s.execute({ type: 'stepTick' });
          await s.execute({ type: 'stepDeliverAll' });
        }
        results.push(await s.execute({ type: 'stepRunUntil', until: 'commit' }));
        await drained(s, evs);
        const names = new Map(s.snapshot().nodes.map((n) => [n.id, n.name]));
        const norm = (v: unknown): unknown =>
          typeof v === 'string'
            ? (names.get(v) ?? v)
            : Array.isArray(v)
              ? v.map(norm)
              : v && typeof v === 'object'
                ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]))
                : v;
        const trace: string[] = [];
        for (const e of evs) {
          if (e.type === 'raft') trace.push(`${e.node} ${JSON.stringify(norm(e.event))}`);
          if (e.type === 'step') trace.push(`${e.fate} ${JSON.stringify(e.message)} ${e.reason ?? ''}`);
        }
        const final = s.snapshot().nodes.map((n) => ({
          name: n.name,
          role: n.role,
          term: n.term,
          commit: n.commit,
          log: n.log.map((x) => [x.index, x.term, x.data]),
        }));
        trace.push(JSON.stringify(final));
        return { trace, results: norm(results) as unknown[] };
      } finally {
        await s.stop();
      }
    };
    const a = await run(12345);
    const b = await run(12345);
    expect(a.trace.length).toBeGreaterThan(50);
    expect(a.trace.some((l) => l.includes('"role":"leader"'))).toBe(true);
    // The first commit after the election is the new leader's no-op (after the 3 bootstrap entries).
    expect(a.results[1]).toMatchObject({ reached: true, event: { kind: 'commit', index: 4 } });
    expect(b.results).toEqual(a.results);
    expect(b.trace).toEqual(a.trace);
  });

  it('parses step commands strictly', async () => {
    const { parseCommand } = await import('../../src-shared/commands.js');
    expect(parseCommand({ type: 'stepMode', on: true, seed: 7 })).toEqual({ type: 'stepMode', on: true, seed: 7 });
    expect(parseCommand({ type: 'stepTick' })).toEqual({ type: 'stepTick' });
    expect(parseCommand({ type: 'stepRunUntil', until: 'leader', maxSteps: 10 })).toEqual({
      type: 'stepRunUntil',
      until: 'leader',
      maxSteps: 10,
    });
    expect(() => parseCommand({ type: 'stepMode', on: 'yes' })).toThrow(/on must be a boolean/);
    expect(() => parseCommand({ type: 'stepDeliver', id: 0 })).toThrow(/id/);
    expect(() => parseCommand({ type: 'stepRunUntil', until: 'forever' })).toThrow(/until/);
    await expect(sup.execute({ type: 'stepTick' })).rejects.toThrow(/step mode is off/);
  });
});
