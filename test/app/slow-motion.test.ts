// Slow motion on a real cluster (worker threads, real ports, SQLite): the global speed slows
// every node's clock and the network between them, each message is delivered when its flight is
// over and reported by id, nothing a message causes happens before it arrived, a message dropped
// in flight never arrives, and real clients (curl) keep working, just slower.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { flightMs } from '../../src-main/node/slow-network.js';
import { agreedLeader, type ClusterState, type NodeState } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { nth } from '../helpers/checked.js';
import { lastState, recordedSupervisor } from '../helpers/app-events.js';
import { until } from '../helpers/cluster.js';
import { needTools } from '../helpers/window.js';

const run = promisify(execFile);
type Msg = Extract<ServerEvent, { type: 'message' }>;
type Delivered = Extract<ServerEvent, { type: 'delivered' }>;
type Raft = Extract<ServerEvent, { type: 'raft' }>;

let sup: Supervisor;
let events: ServerEvent[];
let states: ClusterState[];
const state = () => lastState(states);
const node = (name: string): NodeState => state().nodes.find((n) => n.name === name)!;
const leader = (timeoutMs: number, not?: string) =>
  until(
    'an agreed leader',
    () => {
      const l = states.length > 0 ? agreedLeader(state())?.name : undefined;
      return l !== undefined && l !== not && l;
    },
    timeoutMs,
  );
const messages = () => events.filter((e): e is Msg => e.type === 'message');
const deliveries = () => new Map(events.filter((e): e is Delivered => e.type === 'delivered').map((e) => [e.id, e]));
const idOf = (name: string) => node(name).id;

beforeAll(async () => {
  ({ sup, events, states } = recordedSupervisor({ heartbeatMs: 100, electionMs: 600 }));
  await sup.start(3);
  await leader(10_000);
}, 30_000);

afterAll(async () => {
  await sup?.stop();
});

/**
 * Every granted vote (not pre-vote) in `term` was cast after the vote request it answers was
 * delivered; the winner became leader after a granting answer was delivered to it.
 */
function checkCauseBeforeEffect(term: number, winner: string): number {
  const sent = messages();
  const got = deliveries();
  let votes = 0;
  for (const e of events) {
    if (e.type !== 'raft' || e.event.kind !== 'vote' || !e.event.granted || e.event.pre || e.event.term !== term)
      continue;
    const candidate = sup.snapshot().nodes.find((n) => n.id === (e.event as { candidate: string }).candidate)!.name;
    const req = sent.find((m) => m.msgType === 'MsgVote' && m.from === candidate && m.to === e.node && m.term === term);
    expect(req, `the MsgVote ${candidate} → ${e.node} of term ${term}`).toBeDefined();
    const d = got.get(req!.id!);
    expect(d, `its delivery to ${e.node}`).toBeDefined();
    expect(d!.at).toBeLessThanOrEqual(e.at);
    expect(d!.at).toBeGreaterThanOrEqual(req!.at);
    votes++;
  }
  const won = events.find(
    (e): e is Raft =>
      e.type === 'raft' &&
      e.node === winner &&
      e.event.kind === 'role' &&
      e.event.role === 'leader' &&
      e.event.term === term,
  )!;
  expect(won).toBeDefined();
  const answers = sent.filter((m) => m.msgType === 'MsgVoteResp' && m.to === winner && m.term === term && !m.reject);
  const landed = answers.map((m) => got.get(m.id!)).filter((d): d is Delivered => d !== undefined && d.at <= won.at);
  expect(landed.length, 'a granting answer delivered before the win').toBeGreaterThan(0);
  return votes;
}

describe('slow motion on a real cluster', () => {
  it('at ×1/10 every timer runs ten times slower and every message waits its drawn flight, then is delivered and reported', async () => {
    await sup.execute({ type: 'setSpeed', speed: 0.1 });
    await until('the speed in the snapshot', () => state().speed === 0.1);
    const from = events.length;
    const l = (await leader(5000))!;
    // A few heartbeat rounds at ×1/10: one per second.
    await until(
      'heartbeats delivered',
      () => {
        const hb = events
          .slice(from)
          .filter((e): e is Msg => e.type === 'message' && e.msgType === 'MsgHeartbeat' && e.from === l);
        // Every one checked below delivered (to two peers: the 8th delivered says nothing of the 7th).
        const got = deliveries();
        return hb.length >= 8 && hb.every((m) => m.id !== undefined) && hb.slice(2, 8).every((m) => got.has(m.id!));
      },
      20_000,
    );
    const hb = events
      .slice(from)
      .filter((e): e is Msg => e.type === 'message' && e.msgType === 'MsgHeartbeat' && e.from === l);
    const got = deliveries();
    expect(hb.filter((m) => m.due! - m.at === flightMs({ type: 'MsgHeartbeat' }) * 10).length).toBeGreaterThan(0);
    const late: number[] = [];
    for (const m of hb.slice(2, 8)) {
      // Its own flight, or longer behind an append to the same peer (one peer's messages keep their order).
      expect(m.due! - m.at).toBeGreaterThanOrEqual(flightMs({ type: 'MsgHeartbeat' }) * 10);
      expect(m.due! - m.at).toBeLessThanOrEqual(flightMs({ type: 'MsgApp' }) * 10 + 1);
      const d = got.get(m.id!)!;
      expect(d.to).toBe(m.to);
      expect(d.from).toBe(l);
      // Delivered when its flight is over, never before.
      expect(d.at).toBeGreaterThanOrEqual(m.due! - 2);
      late.push(d.at - m.due!);
    }
    // The real wire and a busy machine add a little (a few ms, rarely more).
    late.sort((a, b) => a - b);
    expect(late[Math.floor(late.length / 2)]).toBeLessThan(60);
    // Heartbeats to one peer: every 100 ms of cluster time, a second of real time.
    const toOne = hb.filter((m) => m.to === nth(hb, 0, 'a heartbeat').to).map((m) => m.at);
    const gaps = toOne
      .slice(1)
      .map((t, i) => t - toOne[i]!)
      .sort((a, b) => a - b); // toOne[i] precedes t
    expect(gaps[Math.floor(gaps.length / 2)]).toBeGreaterThan(850);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(1300);
    // The timer rings' pace: a tick is a second of real time on every follower.
    for (const n of state().nodes.filter((x) => x.role === 'follower')) expect(n.timer?.tickMs).toBe(1000);
    // Nodes' wall clocks do not slow: no clock-difference warning between them.
    for (const n of state().nodes) for (const p of n.peers) expect(Math.abs(p.clockDiffMs ?? 0)).toBeLessThan(200);
  }, 40_000);

  it('a write with curl at ×1/10 just takes longer, and reads the same on every node', async () => {
    if (!needTools('curl', ['/usr/bin/curl'])) return;
    const follower = state().nodes.find((n) => n.status === 'alive' && n.role === 'follower')!;
    const t0 = Date.now();
    const put = await run('curl', ['-s', '-X', 'PUT', `${follower.clientURL}/v2/keys/slow`, '-d', 'value=motion'], {
      timeout: 60_000,
    });
    const took = Date.now() - t0;
    expect(JSON.parse(put.stdout).node.value).toBe('motion');
    // Forwarded to the leader, appended, acknowledged, committed: several flights of 400 ms.
    expect(took).toBeGreaterThan(800);
    for (const n of state().nodes) {
      const got = await run('curl', ['-s', `${n.clientURL}/v2/keys/slow?quorum=true`], { timeout: 60_000 });
      expect(JSON.parse(got.stdout).node.value).toBe('motion');
    }
  }, 60_000);

  it('kill the leader at ×1/10: each vote is cast after its request arrived, the leader wins after an answer arrived', async () => {
    const old = (await leader(5000))!;
    const termBefore = node(old).term;
    await sup.execute({ type: 'killNode', name: old });
    const next = (await leader(60_000, old))!;
    const term = node(next).term;
    expect(term).toBeGreaterThan(termBefore);
    expect(checkCauseBeforeEffect(term, next)).toBeGreaterThan(0);
    // The candidate existed for a while: its role changes are a vote round apart (≥ 2 flights of 400 ms).
    const roles = events.filter(
      (e): e is Raft => e.type === 'raft' && e.node === next && e.event.kind === 'role' && e.event.term === term,
    );
    const cand = roles.find((e) => (e as { event: { role: string } }).event.role === 'candidate')!;
    const lead = roles.find((e) => (e as { event: { role: string } }).event.role === 'leader')!;
    expect(lead.at - cand.at).toBeGreaterThan(700);
    await sup.execute({ type: 'restartNode', name: old });
    await until(
      'the old leader follows',
      () => node(old).status === 'alive' && node(old).role === 'follower' && node(old).lead === next,
      30_000,
    );
  }, 120_000);

  it('a vote request dropped in flight never reaches its target: no vote is cast for it', async () => {
    const old = (await leader(5000))!;
    const from = events.length;
    await sup.execute({ type: 'killNode', name: old });
    // The first pre-vote: then slow down to ×1/50, so the vote requests take 2 s to cross.
    await until(
      'a pre-vote',
      () => events.slice(from).some((e) => e.type === 'raft' && e.event.kind === 'election-timeout'),
      60_000,
    );
    await sup.execute({ type: 'setSpeed', speed: 0.02 });
    const req = await until(
      'a vote request in flight',
      () => events.slice(from).find((e): e is Msg => e.type === 'message' && e.msgType === 'MsgVote' && e.to !== old),
      60_000,
    );
    await sup.execute({ type: 'dropMessage', id: req.id! });
    // Dropping it again: it is gone.
    await expect(sup.execute({ type: 'dropMessage', id: req.id! })).rejects.toThrow(/no longer in flight/);
    await until('the drop reported', () =>
      events.some((e) => e.type === 'lost' && e.id === req.id && e.reason === 'dropped'),
    );
    // Real time again: the election goes on (a later term) and settles.
    await sup.execute({ type: 'setSpeed', speed: 1 });
    await leader(30_000, old);
    await new Promise((r) => setTimeout(r, 300));
    expect(events.some((e) => e.type === 'delivered' && e.id === req.id)).toBe(false);
    const candidateId = idOf(req.from);
    const cast = events.filter(
      (e) =>
        e.type === 'raft' &&
        e.node === req.to &&
        e.event.kind === 'vote' &&
        !e.event.pre &&
        e.event.granted &&
        e.event.candidate === candidateId &&
        e.event.term === req.term,
    );
    expect(cast).toEqual([]);
    // Nor does its etcd log say so.
    const line = `cast MsgVote for ${candidateId} at term ${req.term}`;
    expect(events.some((e) => e.type === 'log' && e.node === req.to && e.line.includes(line))).toBe(false);
  }, 150_000);
});
